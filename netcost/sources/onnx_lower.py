"""ONNX files as a model source: ``onnx.load``, the graph inputs' free dimensions set, ONNX
shape inference, then each node lowered onto netcost's ops (netcost.sources.onnx_rules)
into the same typed Graph a spec expands into. No torch on this path.

What is read (docs/onnx.md says more):

- shapes from ONNX shape inference, after the batch (``batch``) and the other symbolic
  dimensions (``inputs``: ``NAME=SHAPE``, one sample's shape) are fixed; the Graph is per
  sample, so the file is lowered at batch 1 and the analyses scale by the batch;
- parameters: the float initializers (of more than one element) that reach a node as an
  operand, each counted once however many nodes read it; BatchNormalization's running
  mean and variance are buffers, as in torch;
- constant sub-graphs (``Shape -> Gather -> Concat -> Reshape``) folded with ONNX's
  reference evaluator, so they are no layers;
- layer names from the node names (``/layer1/layer1.0/conv1/Conv`` -> ``layer1.0.conv1``),
  else ``op_type`` and index.

An op with no rule, or one whose rule does not fit (an attribute netcost's op cannot
express), becomes an ``opaque`` node with ``known: false``: listed, and the report is
partial, never a silent 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netcost.core.shape import Shape
from netcost.errors import NetcostError
from netcost.graph import INPUT, Graph, Node
from netcost.options import TorchInput

SUFFIX = ".onnx"
FLOAT_TYPES = frozenset({1, 10, 11, 16})  # FLOAT, FLOAT16, DOUBLE, BFLOAT16 (onnx.TensorProto)
INT_TYPES = frozenset({2, 3, 4, 5, 6, 7, 12, 13})
INSTALL_HINT = 'install the ONNX extra: pip install "netcost[onnx]"'


class OnnxError(NetcostError):
    """The file is not a readable ONNX model, or its inputs cannot be sized (the CLI exits 2)."""


def is_onnx_path(text: object) -> bool:
    """Whether a model argument names an ONNX file (by its suffix; the file need not exist yet)."""
    return isinstance(text, (str, Path)) and str(text).lower().endswith(SUFFIX)


@dataclass(frozen=True)
class Const:
    """A tensor known before the run: an initializer, a Constant, or folded from them.
    ``sources``: the float initializers it is made of (parameters once a node reads them)."""

    dims: tuple[int, ...]
    sources: frozenset[str] = frozenset()
    proto: Any = None  # the TensorProto, converted on demand
    array: Any = None

    def value(self):
        if self.array is None:
            from onnx import numpy_helper

            object.__setattr__(self, "array", numpy_helper.to_array(self.proto))
        return self.array


@dataclass
class Lowering:
    """The state of one lowering: which netcost node carries each ONNX activation, the
    constants, the initializers counted so far, and the names taken."""

    model: Any
    shapes: dict[str, tuple[int, ...]]  # ONNX dims of every tensor shape inference sized (batch included)
    graph: Graph
    consts: dict[str, Const] = field(default_factory=dict)
    acts: dict[str, str] = field(default_factory=dict)  # ONNX activation -> netcost node (or INPUT)
    batch_axis: dict[str, int | None] = field(default_factory=dict)  # where each activation's batch is
    pads: dict[str, tuple[str, tuple[int, int, int, int], float]] = field(default_factory=dict)
    init_numel: dict[str, int] = field(default_factory=dict)
    counted: set[str] = field(default_factory=set)
    consumers: dict[str, list[Any]] = field(default_factory=dict)
    skip: set[int] = field(default_factory=set)  # ids of nodes a rule already lowered (fused)
    names: set[str] = field(default_factory=set)
    pad_nodes: dict[str, Any] = field(default_factory=dict)
    producer: dict[str, Any] = field(default_factory=dict)  # tensor -> the node that makes it
    elem_types: dict[str, int] = field(default_factory=dict)

    # --- tensors ----------------------------------------------------------------------------

    def is_const(self, name: str) -> bool:
        return name in self.consts

    def is_act(self, name: str) -> bool:
        return name in self.acts or name in self.pads

    def act(self, name: str) -> str:
        """The netcost node that carries activation ``name`` (a pending Pad is made a node)."""
        if name in self.pads:
            self._materialize_pad(name)
        return self.acts[name]

    def shape(self, name: str) -> Shape:
        return self.graph.shape_of(self.act(name))

    def dims(self, name: str) -> tuple[int, ...]:
        """ONNX dims of a tensor, batch included."""
        if name in self.consts:
            return self.consts[name].dims
        if name not in self.shapes:
            self._infer_producer(name)
        return self.shapes[name]

    def _infer_producer(self, name: str) -> None:
        """Shape inference of the one node that makes ``name``, with its constant operands
        given as data (the whole-graph pass cannot see through pads or shapes computed at
        run time; the folding here has their values)."""
        import onnx
        from onnx import helper, numpy_helper

        node = self.producer.get(name)
        if node is None:
            raise _Unfit(f"shape inference gave no shape for {name!r}")
        inputs, data = [], []
        for i in (i for i in node.input if i):
            if i in self.consts:
                data.append(numpy_helper.from_array(self.consts[i].value(), i))
            else:
                inputs.append(helper.make_tensor_value_info(i, self.elem_types.get(i, 1), self.dims(i)))
        outputs = [helper.make_empty_tensor_value_info(o) for o in node.output if o]
        graph = helper.make_graph([node], "one_node", inputs, outputs, initializer=data)
        model = helper.make_model(graph, opset_imports=self.model.opset_import, ir_version=self.model.ir_version)
        try:
            inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
        except Exception as exc:
            raise _Unfit(f"shape inference failed for {name!r}: {str(exc).splitlines()[0][:120]}") from None
        for value in inferred.graph.output:
            tensor = value.type.tensor_type
            if tensor.HasField("shape") and all(d.HasField("dim_value") for d in tensor.shape.dim):
                self.shapes[value.name] = tuple(d.dim_value for d in tensor.shape.dim)
                self.elem_types[value.name] = tensor.elem_type
        if name not in self.shapes:
            raise _Unfit(f"shape inference gave no shape for {name!r}")

    def sample_dims(self, name: str) -> tuple[int, ...]:
        """One sample's dims: the ONNX dims without the batch axis (wherever a transpose moved
        it; a reshape that merged it away leaves all dims, the batch being 1)."""
        dims = self.dims(name)
        axis = self.batch_axis.get(name)
        return dims if axis is None else dims[:axis] + dims[axis + 1 :]

    def out_axis(self, inputs: Iterable[str], output: str) -> int | None:
        """The batch axis of ``output``: its inputs', shifted by a broadcast's added axes."""
        rank = len(self.dims(output))
        for name in inputs:
            axis = self.batch_axis.get(name)
            if axis is not None:
                for candidate in (axis, axis + rank - len(self.dims(name))):
                    if 0 <= candidate < rank and self.dims(output)[candidate] == 1:
                        return candidate
        return None

    def new_params(self, names: Iterable[str]) -> int:
        """Elements of the float initializers behind ``names`` not counted yet; counts them."""
        total = 0
        for name in names:
            if not name or name not in self.consts:
                continue
            for source in sorted(self.consts[name].sources - self.counted):
                self.counted.add(source)
                total += self.init_numel[source]
        return total

    def all_counted(self, names: Iterable[str]) -> bool:
        """Whether every initializer behind ``names`` was counted by an earlier node (shared)."""
        sources = [s for n in names if n and n in self.consts for s in self.consts[n].sources]
        return bool(sources) and all(s in self.counted for s in sources)

    # --- nodes ------------------------------------------------------------------------------

    def add(self, onnx_node, op, inputs: Iterable[str], output: str, suffix: str = "", batch_axis=...) -> str:
        """A netcost node of ``op`` reading the activations ``inputs`` and carrying ``output``;
        its shape must be the one ONNX inferred (else the rule does not fit)."""
        inputs = list(inputs)
        sources = tuple(self.act(i) for i in inputs)
        in_shapes = tuple(self.graph.shape_of(s) for s in sources)
        shape = op.shape(in_shapes)
        self.batch_axis[output] = self.out_axis(inputs, output) if batch_axis is ... else batch_axis
        expected = self.sample_dims(output)
        if shape.dims != expected:
            raise _Unfit(f"netcost's {op.kind} gives {shape}, ONNX {'x'.join(map(str, expected))}")
        name = self.layer_name(onnx_node, suffix)
        self.graph.add(Node(name, op, sources, in_shapes, shape))
        self.acts[output] = name
        return name

    def add_opaque(
        self, onnx_node, inputs: list[str], output: str, *, effect: str = "elementwise", batch_axis=..., **cost
    ) -> str:
        """An ``opaque`` node of known cost (``macs``, ``elementwise``, ``params``, ``view``):
        an ONNX op netcost has no op of its own for, whose cost the rule knows."""
        from netcost.ops import get

        self.batch_axis[output] = self.out_axis(inputs, output) if batch_axis is ... else batch_axis
        dims = self.sample_dims(output)
        first = self.shape(inputs[0])
        layout = first.layout if first.dims == dims else _default_layout(dims)
        op = get("opaque")(source_op=f"onnx.{onnx_node.op_type}", out=dims, layout=layout, effect=effect, **cost)
        return self.add(onnx_node, op, inputs, output, batch_axis=self.batch_axis[output])

    def sample_dims_of(self, output: str, onnx_node) -> tuple[int, ...]:
        """One sample's dims of a node's output, before the node is added."""
        inputs = [i for i in onnx_node.input if i and self.is_act(i)]
        self.batch_axis.setdefault(output, self.out_axis(inputs, output))
        return self.sample_dims(output)

    def alias(self, output: str, source: str) -> None:
        """``output`` is ``source`` (Identity, Dropout at inference, Cast)."""
        if source in self.pads:
            self.pads[output] = self.pads[source]
            self.pad_nodes[output] = self.pad_nodes[source]
        else:
            self.acts[output] = self.act(source)
        self.batch_axis[output] = self.batch_axis.get(source)
        if output not in self.shapes and source in self.shapes:
            self.shapes[output] = self.shapes[source]

    def pad_source(self, name: str) -> str:
        """``name``, made a node first if it is a pending Pad itself (two Pads in a row)."""
        self.act(name)
        return name

    def layer_name(self, onnx_node, suffix: str = "") -> str:
        index = len(self.graph.nodes)
        base = module_path(onnx_node.name) or scope_path(onnx_node) or f"{onnx_node.op_type}_{index}"
        tail = onnx_node.name.rstrip("/").rsplit("/", 1)[-1] if "/" in onnx_node.name else onnx_node.op_type
        for candidate in (base + suffix, f"{base}.{tail}{suffix}", f"{base}.{tail}{suffix}_{index}"):
            if candidate not in self.names and candidate != INPUT:
                self.names.add(candidate)
                return candidate
        raise AssertionError("unreachable: the last candidate carries the node index")

    def unknown(self, onnx_node, reason: str = "") -> None:
        """An opaque node with no known cost for each activation output: listed, the report
        partial. ``reason``: why no rule fits (the Graph's ``vars["onnx_unlowered"]``, by layer)."""
        from netcost.ops import get

        inputs = [i for i in onnx_node.input if i and self.is_act(i)]
        if not inputs:
            inputs = [next(iter(self.acts))]  # reads nothing computed: hang it on the input
        for k, output in enumerate(o for o in onnx_node.output if o):
            self.batch_axis[output] = self.out_axis(inputs, output)
            dims = self.sample_dims(output)
            op = get("opaque")(
                source_op=f"onnx.{onnx_node.op_type}",
                out=dims,
                layout=_default_layout(dims),
                known=False,
                params=self.new_params(onnx_node.input),
                effect="global",
            )
            name = self.add(
                onnx_node, op, inputs, output, suffix=f".{k}" if k else "", batch_axis=self.batch_axis[output]
            )
            unlowered = self.graph.vars.setdefault("onnx_unlowered", {})
            unlowered[name] = f"{onnx_node.op_type}: {reason}" if reason else onnx_node.op_type

    def _materialize_pad(self, name: str) -> None:
        """A Pad no conv or pool absorbed: an opaque node (its shift of the fields is not modelled)."""
        del self.pads[name]
        self.unknown(self.pad_nodes.pop(name), "a padding no conv or pool absorbed")


class _Unfit(Exception):
    """A rule's op does not express this node (the node becomes an unknown opaque)."""


def module_path(node_name: str) -> str:
    """``/layer1/layer1.0/conv1/Conv`` -> ``layer1.0.conv1``: the scopes torch's exporter
    writes (each may repeat its parent's path), without the trailing op."""
    parts = [p for p in node_name.split("/") if p]
    if len(parts) < 2 or not node_name.startswith("/"):
        return ""
    path = ""
    for part in parts[:-1]:
        path = part if not path or part.startswith(path + ".") else f"{path}.{part}"
    return path


def scope_path(onnx_node) -> str:
    """The module path torch's dynamo exporter records in a node's metadata
    (``pkg.torch.onnx.name_scopes``: ``['', 'features.0', 'conv2d']`` -> ``features.0``)."""
    import ast

    for prop in onnx_node.metadata_props:
        if prop.key == "pkg.torch.onnx.name_scopes":
            try:
                scopes = ast.literal_eval(prop.value)
            except (ValueError, SyntaxError):
                return ""
            modules = [s for s in scopes[:-1] if isinstance(s, str) and s]
            return modules[-1] if modules else ""
    return ""


def _default_layout(dims: tuple[int, ...]) -> str:
    return {1: "F", 2: "LC", 3: "CHW"}.get(len(dims), "")


# --- entry point ------------------------------------------------------------------------------


def onnx_graph(path: str | Path, *, inputs: tuple[TorchInput, ...] = (), batch: int = 1) -> Graph:
    """The Graph of the ONNX file at ``path`` (one sample; analyse it with ``batch``)."""
    from netcost.options import check_int

    check_int(batch, "batch")
    model = load_model(path)
    data_inputs = graph_inputs(model)
    bind_inputs(model, data_inputs, inputs, Path(path).name)
    inferred = infer_shapes(model, Path(path).name)
    from netcost.sources.onnx_rules import lower_nodes

    return lower_nodes(inferred, data_inputs, Path(path))


def load_model(path: str | Path):
    try:
        import onnx
    except ImportError:
        raise OnnxError(f"{path}: reading ONNX files needs the onnx package", hint=INSTALL_HINT) from None
    file = Path(path)
    if not file.is_file():
        raise OnnxError(f"{path}: no such ONNX file")
    try:
        model = onnx.load(str(file))
    except Exception as exc:  # protobuf's DecodeError, a missing external-data file, ...
        raise OnnxError(
            f"{path}: not a readable ONNX model ({type(exc).__name__}: {str(exc)[:200] or 'no detail'})",
            hint="is the file complete? an .onnx file is a protobuf ModelProto (torch.onnx.export writes one)",
        ) from None
    if not model.ir_version or not model.graph.node:
        raise OnnxError(
            f"{path}: not an ONNX model (no IR version or no nodes: {file.stat().st_size} bytes)",
            hint="the file may be truncated, empty or of another format",
        )
    return model


def graph_inputs(model) -> list:
    """The graph inputs that are data (not initializers listed as inputs, as old exporters did)."""
    initializers = {t.name for t in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in initializers]


def bind_inputs(model, data_inputs: list, given: tuple[TorchInput, ...], file: str) -> None:
    """Fix every input's dims in place: the batch (dim 0) at 1, the others from ``given``
    (one sample's shape, by name or in order), which must agree with the fixed ones."""
    by_name = {g.name: g for g in given if g.name}
    positional = [g for g in given if not g.name]
    unknown = sorted(set(by_name) - {i.name for i in data_inputs})
    if unknown:
        names = ", ".join(i.name for i in data_inputs)
        raise OnnxError(f"{file}: no graph input named {', '.join(unknown)} (inputs: {names})")
    if len(positional) > len(data_inputs):
        raise OnnxError(f"{file}: {len(positional)} --input shapes given, the graph takes {len(data_inputs)}")
    symbols: dict[str, int] = {}
    for k, value in enumerate(data_inputs):
        sample = by_name.get(value.name) or (positional[k] if k < len(positional) else None)
        dims = value.type.tensor_type.shape.dim
        if not value.type.tensor_type.HasField("shape") or len(dims) == 0:
            raise OnnxError(f"{file}: input {value.name!r} has no rank, netcost needs one (a batch dim first)")
        _bind_batch(dims[0], value.name, file)
        if sample is not None and len(sample.shape) != len(dims) - 1:
            raise OnnxError(
                f"{file}: --input {sample}: input {value.name!r} is {_dims_text(dims)}, "
                f"one sample has {len(dims) - 1} dims, not {len(sample.shape)}"
            )
        for axis, dim in enumerate(list(dims)[1:], start=1):
            want = sample.shape[axis - 1] if sample is not None else None
            if dim.HasField("dim_value"):
                if want is not None and want != dim.dim_value:
                    raise OnnxError(
                        f"{file}: --input {sample}: input {value.name!r} fixes dim {axis} at {dim.dim_value}"
                    )
                continue
            symbol = dim.dim_param
            size = want if want is not None else symbols.get(symbol) if symbol else None
            if size is None:
                raise OnnxError(
                    f"{file}: input {value.name!r} is {_dims_text(dims)}: dim {axis} "
                    f"({symbol or 'unnamed'}) has no size",
                    hint=f"give one sample's shape: --input {_name_for(value.name)}{_example(dims)}",
                )
            if symbol:
                symbols[symbol] = size
            dim.Clear()
            dim.dim_value = size


def _bind_batch(dim, name: str, file: str) -> None:
    if dim.HasField("dim_value") and dim.dim_value != 1:
        raise OnnxError(
            f"{file}: input {name!r} fixes the batch at {dim.dim_value}; netcost lowers one sample",
            hint="export with batch 1 or a dynamic batch axis; --batch then sets the batch",
        )
    dim.Clear()
    dim.dim_value = 1


def _dims_text(dims) -> str:
    return "[" + ", ".join(str(d.dim_value) if d.HasField("dim_value") else d.dim_param or "?" for d in dims) + "]"


def _example(dims) -> str:
    return "x".join(str(d.dim_value) if d.HasField("dim_value") else "N" for d in list(dims)[1:])


def _name_for(name: str) -> str:
    return f"{name}=" if name.isidentifier() else ""


def infer_shapes(model, file: str):
    import onnx

    try:
        return onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    except Exception as exc:
        raise OnnxError(f"{file}: ONNX shape inference failed: {str(exc).splitlines()[0][:300]}") from None
