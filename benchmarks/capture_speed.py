"""Time capturing a torch model into the Graph and analysing it, on meta, next to
FlopCounterMode's count of the same model on meta, in the same process: resnet50, vit_b_16
and swin_t (torchvision's when installed, else netcost's own compiled specs). Prints the
median of repeated runs of each and the ratio.

    python benchmarks/capture_speed.py [--runs 5] [--batch 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from netcost.analysis import analyze_graph
from netcost.sources.torch_capture import capture


def _models():
    try:
        import torchvision

        for name in ("resnet50", "vit_b_16", "swin_t"):
            with torch.device("meta"):
                yield f"torchvision {name}", getattr(torchvision.models, name)(weights=None)
    except ImportError:  # the models as netcost compiles its bundled specs
        from netcost.api import build

        for name in ("resnet50", "vit_b_16", "swin_t"):
            yield f"netcost.build {name}", build(name).to("meta")


def _median(fn, runs: int) -> float:
    fn()  # warm up (meta kernels, the op registry)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()
    print(f"{'model':<24} {'capture+analyse s':>18} {'FlopCounterMode s':>18} {'ratio':>7}")
    for name, model in _models():
        model.eval()
        x = torch.empty(args.batch, 3, 224, 224, device="meta")

        def flopcounter(model=model, x=x):
            with torch.no_grad(), FlopCounterMode(display=False):
                model(x)

        def netcost(model=model, x=x, name=name):
            analyze_graph(capture(model, (x,), {}, name=name), args.batch)

        ours, theirs = _median(netcost, args.runs), _median(flopcounter, args.runs)
        print(f"{name:<24} {ours:>18.3f} {theirs:>18.3f} {ours / theirs:>7.2f}")


if __name__ == "__main__":
    main()
