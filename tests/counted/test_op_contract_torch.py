"""Every registered op's EXAMPLES, built by its own torch builder and run: output shape,
parameter and buffer counts, and FlopCounterMode's FLOPs equal the analytic ones."""

import pytest

torch = pytest.importorskip("torch")

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

import netcost.ops as ops  # noqa: E402
from netcost.core.conventions import Convention  # noqa: E402
from netcost.counted.modules import LearnedTensor  # noqa: E402
from netcost.report.ops_doc import build_example  # noqa: E402

CASES = [(kind, i) for kind, cls in sorted(ops.REGISTRY.items()) for i in range(len(cls.EXAMPLES))]
BATCH = 2


@pytest.mark.parametrize(("kind", "index"), CASES)
def test_example_against_torch(kind, index):
    cls = ops.REGISTRY[kind]
    ins, kwargs = cls.EXAMPLES[index]
    op = build_example(cls, kwargs)
    out = op.shape(ins)
    cost = op.cost(ins, out)
    module = op.build(ins, out).eval()
    assert sum(p.numel() for p in module.parameters()) == cost.params
    assert sum(b.numel() for b in module.buffers()) == cost.buffers
    xs = [example_input(s) for s in ins]
    mode = FlopCounterMode(display=False)
    with torch.no_grad(), mode:
        y = module(*xs)
    assert tuple(y.shape) == (BATCH, *out.dims)
    assert mode.get_total_flops() == Convention.FLOPCOUNTER.tool_flops(cost.scaled(BATCH), no_grad=True)
    # a one-tensor op builds a LearnedTensor holding its one parameter (compile registers it on
    # the parent under the layer's name)
    assert isinstance(module, LearnedTensor) == op.one_tensor
    if op.one_tensor:
        assert [p for _, p in module.named_parameters()] == [module.tensor]


def example_input(shape):
    """Token ids (layout ``L``) are integers; every other input a positive float tensor."""
    if shape.layout == "L":
        return torch.randint(0, 7, (BATCH, *shape.dims))
    return torch.rand(BATCH, *shape.dims) + 0.1
