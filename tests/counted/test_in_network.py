"""What a network adds to its layers alone: the fit on the reference networks (by hand) and
the reference networks themselves (every op class, none of them a zoo model)."""

from __future__ import annotations

from collections import Counter

import pytest

from netcost.analysis.predict import OP_CLASSES, op_class
from netcost.counted.in_network import ReferenceTiming, network_fit
from netcost.counted.reference_networks import SPECS, reference_graphs
from netcost.zoo import bundled


def test_the_fit_recovers_a_factor_and_a_step_by_hand():
    # whole = 1.2 x alone + 40 us x layers, exactly, on three networks of different mixes
    timings = [
        ReferenceTiming("a", 100, 0.010, 1.2 * 0.010 + 100 * 40e-6),
        ReferenceTiming("b", 20, 0.030, 1.2 * 0.030 + 20 * 40e-6),
        ReferenceTiming("c", 150, 0.004, 1.2 * 0.004 + 150 * 40e-6),
    ]
    fit = network_fit(timings, bare_step_s=5e-6)
    assert fit.factor == pytest.approx(1.2) and fit.step_s == pytest.approx(40e-6)


def test_a_network_never_runs_faster_than_its_layers_alone_and_its_bare_loop():
    fast = [ReferenceTiming("a", 100, 0.010, 0.008), ReferenceTiming("b", 10, 0.020, 0.019)]
    fit = network_fit(fast, bare_step_s=5e-6)
    assert fit.factor == 1.0 and fit.step_s == 5e-6
    assert network_fit([], bare_step_s=3e-6) == network_fit(fast, bare_step_s=3e-6)


def test_one_term_alone_where_the_other_would_be_negative():
    # the per-layer cost explains everything: 50 us x layers; a factor would go below 1
    timings = [ReferenceTiming("a", 100, 0.010, 0.010 + 100 * 50e-6), ReferenceTiming("b", 40, 0.050, 0.050 + 0.002)]
    fit = network_fit(timings)
    assert fit.factor == pytest.approx(1.0) and fit.step_s == pytest.approx(50e-6)


def test_the_reference_networks_cover_every_op_class_and_are_not_zoo_models():
    classes = Counter(op_class(n) for g in reference_graphs().values() for n in g.nodes)
    assert set(classes) == set(OP_CLASSES)
    assert not {f"reference_{name}" for name in SPECS} & set(bundled())


def test_microbenchmarks_slowed_by_a_busy_machine_are_caught_by_the_references():
    # measured on this machine under load, 2 threads: 580 ms alone for a 17 ms network
    busy = [ReferenceTiming("residual", 94, 0.58069, 0.01691), ReferenceTiming("tokens", 49, 0.0300, 0.0333)]
    assert network_fit(busy).disturbed
    quiet = [ReferenceTiming("residual", 94, 0.0156, 0.0197), ReferenceTiming("tokens", 49, 0.0285, 0.0337)]
    assert not network_fit(quiet).disturbed
