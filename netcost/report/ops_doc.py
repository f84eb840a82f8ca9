"""`netcost ops`: the registry as documentation, with each op's examples evaluated."""

from __future__ import annotations

import dataclasses

from netcost import ops
from netcost.spec.builtin import DESCRIPTIONS
from netcost.spec.builtin import blocks as builtin_blocks
from netcost.spec.fields import describe_type, op_fields
from netcost.spec.schema import REQUIRED
from netcost.units import grouped


def summary(doc: str | None) -> str:
    """A docstring's first paragraph on one line (the whole sentence, not its first line)."""
    first = (doc or "").strip().split("\n\n")[0]
    return " ".join(first.split())


def block_signature(block) -> str:
    return ", ".join(name if default == REQUIRED else f"{name} = {default!r}" for name, default in block.args.items())


def op_signature(cls) -> str:
    parts = []
    defaults = {f.name: f.default for f in dataclasses.fields(cls)}
    for name, (annotation, required) in op_fields(cls).items():
        text = f"{name}: {describe_type(annotation)}"
        parts.append(text if required else f"{text} = {defaults[name]!r}")
    return ", ".join(parts)


def print_ops(kind: str | None = None) -> None:
    from rich.markup import escape
    from rich.table import Table

    from netcost.report.render import stdout_console

    console = stdout_console()
    if kind is None:
        table = Table(box=None, header_style="bold")
        for col in ("op", "family", "fields", "what"):
            table.add_column(col, overflow="fold")
        for name, cls in sorted(ops.REGISTRY.items()):
            table.add_row(name, cls.family, escape(op_signature(cls)), escape(summary(cls.__doc__)))
        for name, block in builtin_blocks().items():
            table.add_row(name, "block", escape(block_signature(block)), escape(DESCRIPTIONS[name]))
        console.print(table)
        return
    if kind in builtin_blocks() and kind not in ops.REGISTRY:
        block = builtin_blocks()[kind]
        console.print(f"[bold]{kind}[/bold] (built-in block): {escape(DESCRIPTIONS[kind])}")
        console.print(f"args: {escape(block_signature(block))}")
        console.print("layers:")
        for layer in block.layers:
            console.print(f"  - {escape(str(dict(layer)))}")
        return
    cls = ops.get(kind)
    console.print(f"[bold]{kind}[/bold] ({cls.family}): {escape((cls.__doc__ or '').strip())}")
    console.print(f"fields: {escape(op_signature(cls)) or 'none'}")
    table = Table(title="examples", box=None, header_style="bold", title_justify="left")
    for col in ("input", "args", "output", "params", "MACs", "elementwise"):
        table.add_column(col)
    for ins, kwargs in cls.EXAMPLES:
        op = build_example(cls, kwargs)
        out = op.shape(ins)
        cost = op.cost(ins, out)
        table.add_row(
            ", ".join(x.describe() for x in ins),
            str(kwargs),
            out.describe(),
            grouped(cost.params),
            grouped(cost.macs),
            grouped(cost.elementwise),
        )
    console.print(table)


def build_example(cls, kwargs):
    """An op from EXAMPLES kwargs, coerced exactly as a spec's values are."""
    from netcost.spec.fields import coerce

    fields = op_fields(cls)

    def no_expressions(text: str):
        raise ValueError(f"examples take literal values, got {text!r}")

    return cls(**{k: coerce(fields[k][0], v, no_expressions) for k, v in kwargs.items()})


def ops_markdown() -> str:
    """The op reference as Markdown (the docs site's ops page; generated, so it cannot
    drift from the registry): every op with its fields, docstring and evaluated examples,
    then the built-in blocks."""
    lines = ["| op | family | what |", "|---|---|---|"]
    for name, cls in sorted(ops.REGISTRY.items()):
        lines.append(f"| [`{name}`](#{name}) | {cls.family} | {_cell(summary(cls.__doc__))} |")
    for name in builtin_blocks():
        lines.append(f"| [`{name}`](#{name}) | block | {_cell(DESCRIPTIONS[name])} |")
    for name, cls in sorted(ops.REGISTRY.items()):
        lines += ["", f"## {name}", "", f"*{cls.family}* — fields: `{op_signature(cls) or 'none'}`", ""]
        lines += [(cls.__doc__ or "").strip(), "", "| input | args | output | params | MACs | elementwise |"]
        lines.append("|---|---|---|---|---|---|")
        for ins, kwargs in cls.EXAMPLES:
            op = build_example(cls, kwargs)
            out = op.shape(ins)
            cost = op.cost(ins, out)
            shown = ", ".join(x.describe() for x in ins)
            row = [shown, f"`{kwargs}`", out.describe(), grouped(cost.params), grouped(cost.macs)]
            lines.append("| " + " | ".join(_cell(c) for c in [*row, grouped(cost.elementwise)]) + " |")
    for name, block in builtin_blocks().items():
        lines += ["", f"## {name}", "", f"*built-in block* — args: `{block_signature(block)}`", ""]
        lines += [DESCRIPTIONS[name], "", "```yaml"]
        lines += [f"- {dict(layer)}" for layer in block.layers]
        lines.append("```")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
