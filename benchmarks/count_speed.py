"""Time netcost's count of a torch model on CPU next to FlopCounterMode's, same model, same
process, same input: resnet50 and a vit_b_16-like ViT (torchvision's when installed, else
netcost's own compiled specs). Prints the median of repeated runs of each and the ratio.

    python benchmarks/count_speed.py [--runs 5] [--batch 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from netcost.counted.torchcount import count_model


def _models():
    try:
        import torchvision

        yield "resnet50", torchvision.models.resnet50(weights=None)
        yield "vit_b_16", torchvision.models.vit_b_16(weights=None)
    except ImportError:  # the models as netcost compiles its bundled specs
        from netcost.api import build

        yield "resnet50", build("resnet50")
        yield "vit_b_16", build("vit_b_16")


def _median(fn, runs: int) -> float:
    fn()  # warm up
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
    torch.set_num_threads(max(1, torch.get_num_threads()))
    print(f"{'model':<10} {'netcost s':>10} {'FlopCounterMode s':>18} {'netcost / FCM':>14}")
    for name, model in _models():
        model.eval()
        x = torch.randn(args.batch, 3, 224, 224)

        def flopcounter(model=model, x=x):
            with torch.no_grad(), FlopCounterMode(display=False):
                model(x)

        def netcost(model=model):
            count_model(model, (3, 224, 224), batch=args.batch)

        ours, theirs = _median(netcost, args.runs), _median(flopcounter, args.runs)
        print(f"{name:<10} {ours:>10.3f} {theirs:>18.3f} {ours / theirs:>13.2f}x")


if __name__ == "__main__":
    main()
