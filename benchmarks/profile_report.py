"""The figures the README quotes about `netcost profile` on this machine.

For resnet18 and mobilenet_v2 (batch 1, fp32, CPU): whole-model latency over repeated
profile runs (the spread between runs), per-layer times against the whole, achieved FLOP/s
of depthwise, pointwise and standard convolutions, and how well the roofline ranks and sizes
the layers.

    python benchmarks/profile_report.py [--repeats 3] [--min-time 2]
"""

from __future__ import annotations

import argparse
import platform
import statistics

import torch

from netcost.api import load_graph
from netcost.counted.calibrate import device_name, roofline
from netcost.counted.profile import profile_graph
from netcost.options import ProfileOptions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--min-time", type=float, default=2.0)
    parser.add_argument("--models", nargs="+", default=["resnet18", "mobilenet_v2"])
    args = parser.parse_args()
    rl, _ = roofline("cpu", "fp32", recalibrate=True)
    print(
        f"machine: {device_name(torch.device('cpu'))}, {torch.get_num_threads()} threads, torch {torch.__version__}, "
        f"python {platform.python_version()}"
    )
    print(
        f"roofline: peak {rl.peak_flop_per_s / 1e9:.1f} GFLOP/s ({rl.matmul_n}^2 matmul), "
        f"bandwidth {rl.bandwidth_bytes_per_s / 1e9:.1f} GB/s ({rl.copy_bytes >> 20} MiB copy)"
    )
    for name in args.models:
        graph = load_graph(name)
        medians, reports = [], []
        for _ in range(args.repeats):
            options = ProfileOptions(per_layer=True, min_run_time=args.min_time)
            report = profile_graph(graph, options, roofline=rl, layer_repeats=20)
            medians.append(report.runs[0]["median_s"])
            reports.append(report)
        spread = (max(medians) - min(medians)) / statistics.median(medians)
        print(
            f"\n{name}: median of runs {statistics.median(medians) * 1e3:.1f} ms "
            f"(runs: {', '.join(f'{m * 1e3:.1f}' for m in medians)} ms; spread {100 * spread:.1f}% of the median), "
            f"achieved {reports[0].runs[0]['achieved_flop_per_s'] / 1e9:.2f} GFLOP/s"
        )
        for report in reports[:1]:
            s = report.summary
            print(
                f"  per-layer times sum to {s['layer_time_sum_s'] * 1e3:.1f} ms vs whole model "
                f"{s['whole_model_s'] * 1e3:.1f} ms (ratio {s['layer_sum_over_whole']:.2f})"
            )
            for kind, rate in sorted(s["achieved_flop_per_s_by_kind"].items()):
                print(f"  {kind:>15}: {rate / 1e9:6.2f} GFLOP/s")
            r = report.roofline
            print(
                f"  roofline: rank correlation {r['rank_correlation']:.2f}, median measured/predicted "
                f"{r['median_measured_over_predicted']:.2f} over {r['layers_compared']} layers"
            )


if __name__ == "__main__":
    main()
