"""Safe YAML loading that remembers where every value came from.

Mappings load as :class:`LocDict` and sequences as :class:`LocList`; both keep the
YAML marks of their own start and of each value, so later validation can point at
``file:line:col``. Only YAML's safe types are constructed (``yaml.SafeLoader``).

Parsing uses libyaml (``yaml.CSafeLoader``) where PyYAML was built with it, the pure
loader otherwise; both give the same values and marks (a test checks every bundled spec).
Before anything is constructed the document is checked: at most :data:`MAX_VALUES` values
once aliases are expanded (an alias bomb fails at once), at most :data:`MAX_NESTING`
levels deep, and no alias inside its own anchor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from netcost.errors import Location, SpecError


class LocDict(dict):
    """A mapping with ``marks[key]`` = (line, col) of each value and ``key_marks[key]`` of
    each key, 1-based."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.mark: tuple[int, int] | None = None
        self.marks: dict[Any, tuple[int, int]] = {}
        self.key_marks: dict[Any, tuple[int, int]] = {}
        self.source: str | None = None  # the file it was loaded from (specs may extend others)
        self.key_sources: dict[Any, str] = {}  # entries inherited from another file (extends)


class LocList(list):
    """A sequence with ``marks[i]`` = (line, col) of each item, 1-based."""

    def __init__(self, *args: Any):
        super().__init__(*args)
        self.mark: tuple[int, int] | None = None
        self.marks: list[tuple[int, int]] = []
        self.source: str | None = None


def _pos(mark) -> tuple[int, int]:
    return (mark.line + 1, mark.column + 1)


MAX_VALUES = 1_000_000  # scalars, lists and mappings, counting each alias use in full
MAX_NESTING = 100  # levels of lists and mappings

FAST = hasattr(yaml, "CSafeLoader")  # PyYAML built with libyaml


class _Loader(yaml.SafeLoader):
    source = "<spec>"


class _CLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    source = "<spec>"


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LocDict:
    loader.flatten_mapping(node)
    result = LocDict()
    result.mark, result.marks, result.key_marks = _pos(node.start_mark), {}, {}
    result.source = loader.source
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, (str, int, float, bool)) or key is None:
            line, col = _pos(key_node.start_mark)
            raise SpecError(f"mapping keys must be plain names, got {key!r}", Location(loader.source, line, col))
        if key in result:
            line, col = _pos(key_node.start_mark)
            raise SpecError(f"duplicate key {key!r}", Location(loader.source, line, col))
        result[key] = loader.construct_object(value_node, deep=True)
        result.marks[key] = _pos(value_node.start_mark)
        result.key_marks[key] = _pos(key_node.start_mark)
    return result


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LocList:
    result = LocList(loader.construct_object(child, deep=True) for child in node.value)
    result.mark, result.marks = _pos(node.start_mark), [_pos(child.start_mark) for child in node.value]
    result.source = loader.source
    return result


for _cls in (_Loader, _CLoader):
    _cls.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
    _cls.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)


def load_yaml(text: str, source: str = "<spec>", fast: bool = FAST) -> Any:
    """Parse YAML text; syntax errors become :class:`SpecError` with their location.
    ``fast``: libyaml's parser (the default where available) or the pure one."""
    loader = (_CLoader if fast else _Loader)(text)
    loader.source = source
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:  # the pure composer recurses: say where the nesting is too deep
            raise SpecError(f"the YAML nests more than {MAX_NESTING} levels", _deep_mark(text, source)) from None
        if node is None:
            return None
        check_document(node, source)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        if fast:  # report with the pure parser: its messages and marks say more than libyaml's
            return load_yaml(text, source, fast=False)
        if not isinstance(exc, yaml.MarkedYAMLError):
            raise SpecError(f"invalid YAML: {exc}", Location(source)) from None
        raise SpecError(f"invalid YAML: {_problem(exc)}{_tab_hint(text, exc)}", _where(exc, source)) from None
    finally:
        loader.dispose()


def _problem(exc: yaml.MarkedYAMLError) -> str:
    mark, problem = exc.problem_mark, exc.problem or ""
    if exc.context_mark and (mark is None or "<stream end>" in problem):
        # an unclosed bracket is only noticed at the end of the file: point at where it opened
        end = f" at line {mark.line + 1}" if mark else ""
        return f"{exc.context} that is never closed ({problem}{end})"
    if exc.context and exc.context_mark:
        return f"{problem} ({exc.context} at line {exc.context_mark.line + 1})"
    if exc.context:
        return f"{problem} ({exc.context})"
    return problem


def _tab_hint(text: str, exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark
    lines = text.splitlines()
    if mark is not None and mark.line < len(lines) and "\t" in lines[mark.line][: mark.column + 1]:
        return " (YAML indents with spaces, not tabs)"
    return ""


def _where(exc: yaml.MarkedYAMLError, source: str) -> Location:
    mark = exc.problem_mark
    if exc.context_mark and (mark is None or "<stream end>" in (exc.problem or "")):
        mark = exc.context_mark
    mark = mark or exc.context_mark
    return Location(source, *_pos(mark)) if mark else Location(source)


def check_document(root: yaml.Node, source: str) -> None:
    """Refuse a document whose expanded size or nesting passes the limits, or with an alias
    inside its own anchor, before constructing it (construction would expand it)."""
    sizes: dict[int, int] = {}  # id(node) -> values once expanded
    active: set[int] = set()
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            active.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in children)
            if sizes[key] > MAX_VALUES:
                raise SpecError(_too_big(), Location(source, *_pos(node.start_mark)))
            continue
        if key in sizes:
            continue
        if key in active:
            raise SpecError("an alias refers to a value that contains it", Location(source, *_pos(node.start_mark)))
        if depth > MAX_NESTING:
            raise SpecError(f"the YAML nests more than {MAX_NESTING} levels", Location(source, *_pos(node.start_mark)))
        active.add(key)
        stack.append((node, depth, True))
        stack.extend((c, depth + 1, False) for c in children if id(c) not in sizes)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _too_big() -> str:
    return f"the YAML expands to more than {MAX_VALUES:,} values (aliases counted in full)"


def _deep_mark(text: str, source: str) -> Location:
    """Where a document first nests deeper than MAX_NESTING (events are read iteratively)."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                depth += 1
                if depth > MAX_NESTING:
                    return Location(source, *_pos(event.start_mark))
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                depth -= 1
    except yaml.YAMLError:
        pass
    return Location(source)


def load_file(path: str | Path) -> Any:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"cannot read spec: {exc.strerror}", Location(str(path))) from None
    except UnicodeDecodeError:
        raise SpecError("spec is not UTF-8 text", Location(str(path))) from None
    return load_yaml(text, str(path))
