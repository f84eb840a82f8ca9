"""Graph -> torch.nn.Module. Submodule paths are the graph's node names, so per-layer
counts from torch, fvcore and FlopCounterMode join the analytic rows by name."""

from __future__ import annotations

import torch
from torch import nn

from netcost.graph import INPUT, Graph


class CompiledNet(nn.Module):
    """Runs the graph's nodes in order. A tensor is dropped after its last reader, as the
    analytic liveness model assumes, so measured memory can be compared with it."""

    def __init__(self, graph: Graph):
        super().__init__()
        self.graph_name = graph.name
        last = graph.last_use()
        for node in graph.nodes:
            _attach(self, node.name, node.op.build(node.in_shapes, node.shape))
        # (name, input names, tensors whose last reader this is); modules are looked up by
        # name at call time so that .to(), deepcopy and friends keep working
        self._steps = [
            (node.name, node.inputs, tuple(t for t in dict.fromkeys(node.inputs) if last[t] == i))
            for i, node in enumerate(graph.nodes)
        ]
        self._output = graph.output

    def forward(self, x: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
        # a one-element list lets the caller hand over its only reference to the input
        env = {INPUT: x.pop() if isinstance(x, list) else x}
        for name, inputs, done in self._steps:
            env[name] = self.get_submodule(name)(*(env[t] for t in inputs))
            for t in done:
                del env[t]
        return env[self._output]


def _attach(root: nn.Module, path: str, module: nn.Module) -> None:
    *parents, leaf = path.split(".")
    parent = root
    for part in parents:
        if not hasattr(parent, part) or part not in parent._modules:
            parent.add_module(part, nn.Module())
        parent = parent._modules[part]
    parent.add_module(leaf, module)


def sample_input(graph: Graph, shape: tuple[int, ...], device="cpu", dtype=torch.float32) -> torch.Tensor:
    """A random input of ``shape`` (batch first): token ids (layout ``L``) are int64 below the
    smallest embedding's vocabulary, everything else normal floats."""
    if graph.input_shape.layout == "L":
        vocab = min((n.op.vocab for n in graph.nodes if n.op.kind == "embedding"), default=1)
        return torch.randint(0, vocab, shape, device=device)
    return torch.randn(shape, dtype=dtype, device=device)


def build(graph: Graph) -> CompiledNet:
    """The compiled module in eval mode (counts and measurements are of inference)."""
    return CompiledNet(graph).eval()
