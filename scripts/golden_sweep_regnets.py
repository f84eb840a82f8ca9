"""Reference counts of sampled RegNets for tests/sweep (tests/golden/sweep_regnets.json).

The configurations are drawn by netcost's own sampler (``netcost sweep regnet --sample``,
spaces regnetx and regnety, seed 16, models of at most 4 GMACs, ten of each); each is then
built by timm (``timm.models.regnet.RegNet(RegNetCfg(...))``, pycls's rounding, weights
random) and counted here: torch's parameter count and fvcore's conv + linear MACs (fvcore
counts one multiply-add as one flop) at 1x3x224x224. Run it in an environment with torch,
timm and fvcore (not netcost's)::

    netcost sweep regnet --sample 40 --seed 16 --where 'macs <= 4e9' --format json  # -> configs
    /work/refenv/bin/python scripts/golden_sweep_regnets.py CONFIGS.json > tests/golden/sweep_regnets.json
"""

from __future__ import annotations

import json
import sys

import fvcore
import timm
import torch
from fvcore.nn import FlopCountAnalysis
from timm.models.regnet import RegNet, RegNetCfg

MAC_OPERATORS = ("conv", "linear", "addmm")


def measure(config: dict) -> dict:
    cfg = RegNetCfg(
        depth=config["depth"],
        w0=config["w0"],
        wa=config["wa"],
        wm=config["wm"],
        group_size=config["group_width"],
        bottle_ratio=config["bottleneck_ratio"],
        se_ratio=config["se_ratio"],
    )
    model = RegNet(cfg, num_classes=1000).eval()
    x = torch.zeros(1, 3, 224, 224)
    fca = FlopCountAnalysis(model, x).unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    by_operator = fca.by_operator()
    return {
        **config,
        "params": sum(p.numel() for p in model.parameters()),
        "conv_linear_macs": int(sum(by_operator.get(k, 0) for k in MAC_OPERATORS)),
    }


def main() -> None:
    with open(sys.argv[1]) as f:
        configs = json.load(f)
    with torch.no_grad():
        models = [measure(c) for c in configs]
    provenance = {
        "script": "scripts/golden_sweep_regnets.py",
        "torch": torch.__version__,
        "timm": timm.__version__,
        "fvcore": getattr(fvcore, "__version__", "unknown"),
        "input": [1, 3, 224, 224],
    }
    json.dump({"provenance": provenance, "models": models}, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
