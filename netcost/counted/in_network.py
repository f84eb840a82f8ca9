"""What a network adds to its layers alone: the reference networks
(netcost.counted.reference_networks) timed whole, against the sum of their layers'
predicted times alone (the microbenchmark fit).

A microbenchmark calls one layer again and again: its weights and activations stay in
cache, its output buffer is reused, and nothing runs between calls. Inside a network a
layer's weights are cold, it reads what the previous layer wrote, and the module's loop
and the framework run between layers. netcost prices that with two numbers fitted on the
references: a factor on every layer's time (the cold data, growing with the layer) and a
cost per layer beyond the module's bare loop (the framework), by least squares on the
references' relative error, neither below zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ReferenceTiming:
    """One reference network: its layers' predicted time alone, and its measured forward pass."""

    name: str
    layers: int
    alone_s: float  # the sum of the layers' predicted times alone
    whole_s: float  # the measured forward pass (median, the best of a few rounds)


DISAGREE = 2.0  # a reference network this many times faster than its layers alone: disturbed


@dataclass(frozen=True)
class NetworkFit:
    factor: float  # on every layer's predicted time alone (>= 1)
    step_s: float  # per layer, the module's bare loop included
    disturbed: bool = False  # some reference ran DISAGREE x faster than its layers alone


def disturbed(timings: Sequence[ReferenceTiming]) -> bool:
    """Whether the microbenchmarks were slowed by something else: a network cannot run much
    faster than its own layers alone (on a busy 2-core CPU, 2 threads, they were 30-100x)."""
    return any(t.alone_s > DISAGREE * t.whole_s for t in timings)


def network_fit(timings: Sequence[ReferenceTiming], bare_step_s: float = 0.0) -> NetworkFit:
    """Fit ``whole = factor * alone + step * layers`` over the references, minimising the
    squared relative error, with ``factor >= 1`` and ``step >= bare_step_s`` (a network never
    runs faster than its layers alone and its bare loop)."""
    rows = [
        (t.alone_s / t.whole_s, t.layers / t.whole_s, (t.whole_s - t.alone_s - bare_step_s * t.layers) / t.whole_s)
        for t in timings
        if t.whole_s > 0 and t.layers > 0
    ]
    # extra = a * alone + c * layers (relative to the whole), a >= 0 and c >= 0
    saa = sum(a * a for a, _, _ in rows)
    scc = sum(c * c for _, c, _ in rows)
    sac = sum(a * c for a, c, _ in rows)
    say = sum(a * y for a, _, y in rows)
    scy = sum(c * y for _, c, y in rows)
    det = saa * scc - sac * sac
    a = c = -1.0
    if det > 1e-12 * max(saa * scc, 1e-300):  # the two terms tell apart
        a, c = (say * scc - scy * sac) / det, (scy * saa - say * sac) / det
    if a < 0 or c < 0:  # on the boundary: the better of one term alone
        only_a = (max(say / saa, 0.0), 0.0) if saa else (0.0, 0.0)
        only_c = (0.0, max(scy / scc, 0.0)) if scc else (0.0, 0.0)
        a, c = min(only_a, only_c, key=lambda ac: sum((y - ac[0] * x - ac[1] * n) ** 2 for x, n, y in rows))
    return NetworkFit(1.0 + a, bare_step_s + c, disturbed(timings))


def time_references(calibration, device: str, dtype: str, channels_last: bool, min_run_time: float, rounds: int = 3):
    """Time every reference network whole (the fastest of ``rounds`` medians: another
    process only ever adds time) and predict its layers alone under ``calibration``."""
    from netcost.analysis.predict import predict_graph
    from netcost.counted.compile import build
    from netcost.counted.reference_networks import reference_graphs
    from netcost.counted.timing import prepare, time_model

    prepared = {}
    for name, graph in reference_graphs().items():
        shape = (1, *graph.input_shape.dims)
        prepared[name] = (graph, prepare(build(graph), shape, device, dtype, False, channels_last))
    best: dict[str, float] = {}
    for _ in range(rounds):  # interleaved: a slow spell of the machine spreads over all of them
        for name, (_, (model, x, context)) in prepared.items():
            seconds = time_model(model, x, context, min_run_time).median_s  # under inference mode
            best[name] = min(best.get(name, seconds), seconds)
    out = []
    for name, (graph, _) in prepared.items():
        prediction = predict_graph(graph, calibration)
        out.append(ReferenceTiming(name, len(prediction.layers), prediction.layer_sum_s, best[name]))
    return out
