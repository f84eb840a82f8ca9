"""Graph -> torch.nn.Module. Submodule paths are the graph's node names, so per-layer
counts from torch, fvcore and FlopCounterMode join the analytic rows by name.

A layer that is one learnable tensor (:class:`~netcost.counted.modules.LearnedTensor`:
class token, position embedding, layer scale) is no submodule: its tensor is registered
on the parent under the layer's name, as torchvision registers it, so ``state_dict()``
keys are torchvision's (``class_token``, not ``class_token.token``). Its module is held
apart and ``get_submodule(name)`` still returns it (hooks, freezing, attribution)."""

from __future__ import annotations

import torch
from torch import nn

from netcost.counted.modules import LearnedTensor
from netcost.graph import INPUT, Graph


class CompiledNet(nn.Module):
    """Runs the graph's nodes in order. A tensor is dropped after its last reader, as the
    analytic liveness model assumes, so measured memory can be compared with it."""

    def __init__(self, graph: Graph):
        super().__init__()
        self.graph_name = graph.name
        self._held: dict[str, LearnedTensor] = {}  # layers whose tensor the parent holds
        last = graph.last_use()
        for node in graph.nodes:
            module = node.op.build(node.in_shapes, node.shape)
            if node.op.one_tensor:
                if not isinstance(module, LearnedTensor):  # pragma: no cover - an op's contract
                    raise TypeError(f"{node.op.kind}: a one-tensor op builds a LearnedTensor")
                _attach_tensor(self, node.name, module.tensor)
                self._held[node.name] = module
            else:
                _attach(self, node.name, module)
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

    def get_submodule(self, target: str) -> nn.Module:
        """The module of a layer (or any submodule), a held learned-tensor layer included:
        given the parameter its parent holds now (``.to()``, ``load_state_dict(assign=True)``
        may have replaced it)."""
        held = self._held.get(target)
        if held is None:
            return super().get_submodule(target)
        *parents, leaf = target.split(".")
        parent = super().get_submodule(".".join(parents)) if parents else self
        held._parameters[held.TENSOR] = parent._parameters[leaf]
        return held


def _parent(root: nn.Module, path: str) -> tuple[nn.Module, str]:
    *parents, leaf = path.split(".")
    parent = root
    for part in parents:
        if not hasattr(parent, part) or part not in parent._modules:
            parent.add_module(part, nn.Module())
        parent = parent._modules[part]
    return parent, leaf


def _attach(root: nn.Module, path: str, module: nn.Module) -> None:
    parent, leaf = _parent(root, path)
    parent.add_module(leaf, module)


def _attach_tensor(root: nn.Module, path: str, tensor: nn.Parameter) -> None:
    parent, leaf = _parent(root, path)
    parent.register_parameter(leaf, tensor)


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
