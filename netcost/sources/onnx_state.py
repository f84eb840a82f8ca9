"""The state of one ONNX lowering (netcost.sources.onnx_walk) and the vocabulary its rules
share: which netcost node carries each ONNX activation, the constants and the initializers
counted so far, where each tensor's batch axis is, and the rule registry."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from netcost.core.shape import Shape
from netcost.graph import INPUT, Graph, Node

FLOAT_TYPES = frozenset({1, 10, 11, 16})  # FLOAT, FLOAT16, DOUBLE, BFLOAT16 (onnx.TensorProto)
INT_TYPES = frozenset({2, 3, 4, 5, 6, 7, 12, 13})


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
            raise Unfit(f"shape inference gave no shape for {name!r}")
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
            raise Unfit(f"shape inference failed for {name!r}: {str(exc).splitlines()[0][:120]}") from None
        for value in inferred.graph.output:
            tensor = value.type.tensor_type
            if tensor.HasField("shape") and all(d.HasField("dim_value") for d in tensor.shape.dim):
                self.shapes[value.name] = tuple(d.dim_value for d in tensor.shape.dim)
                self.elem_types[value.name] = tensor.elem_type
        if name not in self.shapes:
            raise Unfit(f"shape inference gave no shape for {name!r}")

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
            raise Unfit(f"netcost's {op.kind} gives {shape}, ONNX {'x'.join(map(str, expected))}")
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


class Unfit(Exception):
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


Rule = Callable[[Lowering, object], None]
RULES: dict[str, Rule] = {}
ALIASES = frozenset({"Identity", "Dropout", "Cast", "CastLike"})


def rule(*op_types: str):
    def wrap(fn: Rule) -> Rule:
        for op_type in op_types:
            RULES[op_type] = fn
        return fn

    return wrap


def attrs(node) -> dict:
    from onnx import helper

    values = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    return {k: v.decode() if isinstance(v, bytes) else v for k, v in values.items()}


def operands(node, n: int) -> list[str]:
    """The first ``n`` inputs, ``""`` for the optional ones left out."""
    return [*node.input, *[""] * n][:n]


def const_value(lw: Lowering, name: str):
    if not name or name not in lw.consts:
        raise Unfit(f"{name or 'an operand'} is not a constant")
    return lw.consts[name].value()


def const_dims(lw: Lowering, name: str) -> tuple[int, ...]:
    if not name or name not in lw.consts:
        raise Unfit(f"{name or 'an operand'} is not a constant (a weight)")
    return lw.consts[name].dims
