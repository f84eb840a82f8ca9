"""The one-pass liveness and the incremental step simulation give the figures of the
straightforward definitions they replaced, over every bundled spec.

The references below are the previous O(n^2) code, kept here as the definition: a
storage is live at step i when born <= i <= end; the step's peak breakdown is a scan of
the live storages; a layer's backward releases the storages whose keepers include it.
"""

from __future__ import annotations

import functools

import pytest

from netcost.analysis import training
from netcost.analysis.memory import activation_memory
from netcost.api import analyze_train, load_graph
from netcost.graph import INPUT
from netcost.options import TrainOptions
from netcost.zoo import bundled

ZOO = sorted(bundled())
DEEPEST = {"hourglass"}  # 1,312 layers: the quadratic reference simulation takes ~20 s


@functools.cache
def graph(name):
    return load_graph(name)


def reference_memory(graph, bytes_per_element, batch=1):
    unit = bytes_per_element * batch
    size = {INPUT: graph.input_shape.numel * unit}
    size.update({n.name: n.shape.numel * unit for n in graph.nodes})
    storage, created = {INPUT: INPUT}, {INPUT: -1}
    for i, node in enumerate(graph.nodes):
        storage[node.name] = storage[node.inputs[0]] if node.op.is_view else node.name
        created.setdefault(storage[node.name], i)
    end = {}
    for i, node in enumerate(graph.nodes):  # last readers, without Graph.last_use
        for name in node.inputs:
            end[storage[name]] = i
    for s, born in created.items():
        end[s] = max(end.get(s, born), born)
    end[storage[graph.output]] = len(graph.nodes)
    peak, peak_at = 0, INPUT
    for i, node in enumerate(graph.nodes):
        live = sum(size[s] for s, born in created.items() if born <= i <= end[s])
        if live > peak:
            peak, peak_at = live, node.name
    io, io_at = 0, INPUT
    for node in graph.nodes:
        if not node.op.is_view:
            total = sum(size[i] for i in node.inputs) + size[node.name]
            if total > io:
                io, io_at = total, node.name
    return peak, peak_at, io, io_at


@pytest.mark.parametrize("name", ZOO)
def test_liveness_peak_matches_the_scan_of_every_step(name):
    g = graph(name)
    for width, batch in ((4, 1), (2, 3)):
        memory = activation_memory(g, width, batch)
        assert (memory.peak, memory.peak_at, memory.max_op_io, memory.max_op_io_at) == reference_memory(g, width, batch)


class ReferenceLive(training._Live):
    """The previous live set: the breakdown is a scan of every live storage."""

    def check(self, phase, node):
        if self.current > self.peak.bytes:
            breakdown = dict(self.base)
            for key, nbytes in self.size.items():
                breakdown[key[0]] = breakdown.get(key[0], 0) + nbytes
            self.peak = training.Peak(self.current, phase, node, breakdown)


def reference_layer_backward(self, i, layer, g, out_of_place):
    """The previous backward: the keepers of every storage are searched for layer ``i``."""
    self.kept_by = {i: [t for t, users in self.keepers.items() if i in users]}
    return CURRENT_LAYER_BACKWARD(self, i, layer, g, out_of_place)


CURRENT_LAYER_BACKWARD = training._StepSimulation._layer_backward

TRAIN_OPTIONS = [
    {},
    {"optimizer": "adam", "device": "cpu", "batch": 2},
    {"optimizer": "adamw", "amp": True},
    {"optimizer": "sgd", "momentum": 0.9, "frozen": ("features.0*", "conv1", "layer1", "stem*"), "dtype": "fp16"},
    {"optimizer": "rmsprop", "foreach": False},
]


def step(graph, options):
    if "frozen" in options:  # only the patterns that name a layer of this graph (others are an error)
        names = [n.name for n in graph.nodes]
        kept = tuple(p for p in options["frozen"] if any(training.is_frozen(n, (p,)) for n in names))
        options = {**options, "frozen": kept}
    options = dict(options)
    analysis = {k: options.pop(k) for k in ("batch", "dtype") if k in options}
    train = TrainOptions(**{("freeze" if k == "frozen" else k): v for k, v in options.items()})
    report = analyze_train(graph, train=train, **analysis)
    train = report.train
    peak = train["memory"]["peak"]
    rows = [(r["name"], r["saved_activation_bytes"], r["backward_flops"]) for r in report.rows]
    return train["peak_train_bytes"], peak["phase"], peak["at"], list(peak["breakdown"].items()), train, rows


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in DEEPEST else n for n in ZOO])
def test_training_step_peak_matches_the_previous_simulation(name, monkeypatch):
    g = graph(name)
    new = [step(g, options) for options in TRAIN_OPTIONS]
    monkeypatch.setattr(training, "_Live", ReferenceLive)
    monkeypatch.setattr(training._StepSimulation, "_layer_backward", reference_layer_backward)
    old = [step(g, options) for options in TRAIN_OPTIONS]
    assert new == old  # breakdowns compared as ordered lists: the JSON keeps their order


def test_the_deep_resnet_is_analysed_alike():
    """A deep network, where the quadratic passes used to dominate (kept small here)."""
    g = load_graph("resnet50", {"depths": [3, 4, 40, 3]})
    memory = activation_memory(g, 4)
    assert (memory.peak, memory.peak_at, memory.max_op_io, memory.max_op_io_at) == reference_memory(g, 4)


def test_the_cycle_collector_is_paused_only_during_a_pass():
    import gc

    assert gc.isenabled()
    analyze_train("resnet18")
    assert gc.isenabled()
    gc.disable()
    try:
        analyze_train("resnet18")
        assert not gc.isenabled()
    finally:
        gc.enable()
