"""Every registered op, driven by its own EXAMPLES (timm-style: the registry drives the tests).

The torch side of the contract (analytic == compiled and counted) lives with the torch
compiler; here: every op has examples, shapes are positive, costs are whole numbers, the
op survives the same coercion a spec's values go through.
"""

import importlib
import pkgutil

import pytest

import netcost.ops as ops
from netcost.core.conventions import WORK_KINDS, Convention
from netcost.core.cost import Cost
from netcost.core.rf import RF
from netcost.report.ops_doc import build_example

CASES = [(kind, i) for kind, cls in sorted(ops.REGISTRY.items()) for i in range(len(cls.EXAMPLES))]


def test_every_op_has_examples():
    assert [k for k, cls in ops.REGISTRY.items() if not cls.EXAMPLES] == []


def test_every_family_module_registers_an_op():
    families = {info.name for info in pkgutil.iter_modules(ops.__path__)} - {"base"}
    registered = {cls.family for cls in ops.REGISTRY.values()}
    assert families == registered
    for name in families:
        importlib.import_module(f"netcost.ops.{name}")


def test_registering_twice_raises():
    with pytest.raises(RuntimeError, match="registered twice"):
        ops.register("conv")(type("Again", (ops.Op,), {}))


@pytest.mark.parametrize(("kind", "index"), CASES)
def test_example(kind, index):
    cls = ops.REGISTRY[kind]
    ins, kwargs = cls.EXAMPLES[index]
    op = build_example(cls, kwargs)
    out = op.shape(ins)
    assert all(isinstance(d, int) and d > 0 for d in out.dims)
    cost = op.cost(ins, out)
    assert isinstance(cost, Cost)
    for value in (cost.params, cost.buffers, cost.macs, cost.elementwise, cost.bias):
        assert isinstance(value, int) and value >= 0
    for convention in Convention:
        flops = convention.flops(cost)
        assert isinstance(flops, int) and flops >= convention.tool_flops(cost) >= 0
    assert Convention.NETCOST.flops(cost) == 2 * cost.macs
    assert cost.attention + cost.mha_projections <= cost.macs
    assert {kind for kind, _ in cost.work} <= set(WORK_KINDS)
    field = op.rf(tuple(RF.identity() for _ in ins), ins, out)
    assert field.is_global or all(s >= 1 for s in field.size)
    assert isinstance(op.describe(), str)
