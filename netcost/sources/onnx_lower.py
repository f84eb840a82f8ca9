"""ONNX files as a model source: ``onnx.load``, the graph inputs' free dimensions set, ONNX
shape inference, then each node lowered onto netcost's ops (netcost.sources.onnx_walk)
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

from pathlib import Path

from netcost.errors import NetcostError
from netcost.graph import Graph
from netcost.options import TorchInput

SUFFIX = ".onnx"
INSTALL_HINT = 'install the ONNX extra: pip install "netcost[onnx]"'


class OnnxError(NetcostError):
    """The file is not a readable ONNX model, or its inputs cannot be sized (the CLI exits 2)."""


def is_onnx_path(text: object) -> bool:
    """Whether a model argument names an ONNX file (by its suffix; the file need not exist yet)."""
    return isinstance(text, (str, Path)) and str(text).lower().endswith(SUFFIX)


# --- entry point ------------------------------------------------------------------------------


def onnx_graph(path: str | Path, *, inputs: tuple[TorchInput, ...] = (), batch: int = 1) -> Graph:
    """The Graph of the ONNX file at ``path`` (one sample; analyse it with ``batch``)."""
    from netcost.options import check_int

    check_int(batch, "batch")
    model = load_model(path)
    data_inputs = graph_inputs(model)
    bind_inputs(model, data_inputs, inputs, Path(path).name)
    inferred = infer_shapes(model, Path(path).name)
    from netcost.sources.onnx_walk import lower_nodes

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
        shown = _dims_text(dims)  # as the file has it, before any dim is set
        _bind_batch(dims[0], value.name, file)
        if sample is not None and len(sample.shape) != len(dims) - 1:
            raise OnnxError(
                f"{file}: --input {sample}: input {value.name!r} is {shown}, "
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
                    f"{file}: input {value.name!r} is {shown}: dim {axis} ({symbol or 'unnamed'}) has no size",
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
