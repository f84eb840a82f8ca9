"""How well the per-op-class latency model predicts this machine (issue 20's validation).

Calibrates the op classes afresh, then for each zoo model (batch 1, fp32, fixed threads):
the layers' predicted times against their measured ones (Spearman rho, median
measured/predicted; the single-peak roofline's rho beside it) and the whole model's
predicted time against its measured median. Whole-model timings are interleaved: each
round times every model once, and the median over rounds is compared (the spread between
rounds is printed). Ends with the depthwise-separable example of the README.

    python benchmarks/predict_validation.py [--threads 2] [--rounds 3] [--min-time 0.5]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch

DEFAULT_MODELS = (
    "resnet18",
    "resnet50",
    "mobilenet_v2",
    "mobilenet_v3_large",
    "efficientnet_b0",
    "shufflenet_v2_x1_0",
    "regnet_x_400mf",
    "regnet_y_400mf",
    "resnext50_32x4d",
    "densenet121",
    "squeezenet1_0",
    "alexnet",
    "vgg11",
    "googlenet",
    "convnext_tiny",
    "vit_b_16",
    "swin_t",
)


def names(rows):
    return [r["name"] for r in rows]


def error_factor(measured: float, predicted: float) -> float:
    """How far off, either way: 1.3 means within 1.3x of the measurement."""
    ratio = measured / predicted
    return max(ratio, 1 / ratio)


def main() -> None:
    from netcost.analysis.predict import predict_graph
    from netcost.api import load_graph
    from netcost.counted.calibrate import device_name, roofline
    from netcost.counted.compile import build
    from netcost.counted.opclass_calibrate import calibration
    from netcost.counted.profile import layer_work, spearman
    from netcost.counted.timing import prepare, time_layers, time_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--min-time", type=float, default=0.5)
    parser.add_argument("--layer-repeats", type=int, default=20)
    parser.add_argument("--cached", action="store_true", help="use the cached calibration if there is one")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"machine: {device_name(torch.device('cpu'))}, {os.cpu_count()} CPUs, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}, python {platform.python_version()}; load before {os.getloadavg()[0]:.2f}"
    )
    start = time.perf_counter()
    cal, cached = calibration("cpu", "fp32", recalibrate=not args.cached)
    print(
        f"calibration: {'cached, ' if cached else ''}{cal.seconds:.1f} s, load {cal.load_average}, "
        f"{'; '.join(cal.notes)}; step {cal.step_overhead_s * 1e6:.1f} us/layer, "
        f"bandwidth {cal.bandwidth_bytes_per_s / 1e9:.1f} GB/s ({time.perf_counter() - start:.1f} s)"
    )
    for name, fit in cal.classes.items():
        rates = [r for _, r in fit.points]
        unit = "GFLOP/s" if fit.basis == "flops" else "GB/s"
        print(
            f"  {name:>11}: overhead {fit.overhead_s * 1e6:6.1f} us, {min(rates) / 1e9:7.2f} .. "
            f"{max(rates) / 1e9:7.2f} {unit} over {len(fit.points)} sizes"
        )
    rl, _ = roofline("cpu", "fp32")
    graphs = {m: load_graph(m) for m in args.models}
    prepared = {}
    for m, g in graphs.items():
        prepared[m] = prepare(build(g), (1, *g.input_shape.dims), "cpu", "fp32", False, False)
    whole: dict[str, list[float]] = {m: [] for m in graphs}
    for _ in range(args.rounds):  # interleaved: every model once per round
        for m, (model, x, context) in prepared.items():
            whole[m].append(time_model(model, x, context, args.min_time).median_s)
    print(
        f"\n{'model':>20} {'layers':>6} {'rho':>5} {'rho rl':>6} {'med m/p':>7} "
        f"{'pred ms':>8} {'meas ms':>8} {'spread':>6} {'error':>6}"
    )
    rhos, errors, pooled_p, pooled_m = [], [], [], []
    for m, g in graphs.items():
        model, x, context = prepared[m]
        times, _ = time_layers(model, [n.name for n in g.nodes], x, context, args.layer_repeats)
        p = predict_graph(g, cal)
        timed = [r for r in p.layers if times.get(r["name"])]
        predicted = [r["predicted_s"] for r in timed]
        measured = [times[r["name"]] for r in timed]
        rho = spearman(predicted, measured)
        work = layer_work(g, 1, "fp32")
        roof = [rl.predict(work[n]["flops"] + work[n]["elementwise_flops"], work[n]["bytes"]) for n in names(timed)]
        rho_rl = spearman(roof, measured)
        ratio = statistics.median(a / b for a, b in zip(measured, predicted, strict=True))
        med = statistics.median(whole[m])
        spread = (max(whole[m]) - min(whole[m])) / med
        err = error_factor(med, p.total_s)
        rhos.append(rho)
        errors.append(err)
        pooled_p += predicted
        pooled_m += measured
        print(
            f"{m:>20} {len(timed):>6} {rho:5.2f} {rho_rl:6.2f} {ratio:7.2f} {p.total_s * 1e3:8.2f} "
            f"{med * 1e3:8.2f} {100 * spread:5.0f}% {err:5.2f}x"
        )
    print(
        f"\nover {len(rhos)} models: layer rho median {statistics.median(rhos):.2f} (min {min(rhos):.2f}); "
        f"pooled over all {len(pooled_p)} layers {spearman(pooled_p, pooled_m):.2f}; whole-model error median "
        f"{statistics.median(errors):.2f}x (max {max(errors):.2f}x); load after {os.getloadavg()[0]:.2f}"
    )
    met = statistics.median(rhos) >= 0.9 and statistics.median(errors) <= 1.3
    print(f"targets (median rho >= 0.9, median whole-model error <= 1.3x): {'met' if met else 'NOT met'}")
    depthwise_example(cal, args.min_time)


def depthwise_example(cal, min_time: float) -> None:
    """conv(256,k=3) against dwsep(256,k=3) at 256x56x56: MACs, predicted and measured."""
    from netcost.analysis import analyze_graph
    from netcost.analysis.predict import predict_graph
    from netcost.api import load_graph
    from netcost.counted.compile import build
    from netcost.counted.timing import prepare, time_model

    rows = []
    for spec in ("conv(256,k=3)", "dwsep(256,k=3)"):
        g = load_graph(spec, input_shape=(256, 56, 56))
        model, x, context = prepare(build(g), (1, 256, 56, 56), "cpu", "fp32", False, False)
        measured = statistics.median(time_model(model, x, context, min_time).median_s for _ in range(3))
        rows.append((spec, analyze_graph(g).totals["macs"], predict_graph(g, cal).total_s, measured))
    (_, macs0, p0, m0), (_, macs1, p1, m1) = rows
    print("\ndepthwise-separable example (256x56x56, batch 1):")
    for spec, macs, p, m in rows:
        print(f"  {spec:>15}: {macs / 1e6:8.1f} M MACs, predicted {p * 1e3:6.2f} ms, measured {m * 1e3:6.2f} ms")
    print(f"  {macs0 / macs1:.1f}x fewer MACs; predicted {p0 / p1:.2f}x faster, measured {m0 / m1:.2f}x faster")


if __name__ == "__main__":
    main()
