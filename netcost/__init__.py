"""netcost: what a neural network costs — parameters, MACs/FLOPs, receptive field,
activation memory — from declarative specs, cross-checked against real torch models.

Public API (the model first, its variable overrides second, everything else by keyword)::

    report = netcost.analyze("resnet18", input_shape="3x160x160")   # a Report; report.df
    report = netcost.analyze("resnet50", train=netcost.TrainOptions(optimizer="adamw"), batch=32)
    gate = netcost.check("resnet18", budgets={"macs": "2G"})         # gate.passed, gate.rows
    graph = netcost.load_graph("specs/my.yaml", {"width": 0.5})
    model = netcost.build("resnet18")        # a torch.nn.Module named like the spec's layers
    result = netcost.verify("resnet18")      # analytic vs counted, per layer (result.passed)
    df = netcost.sweep("regnet", sample=500, seed=0)                  # one row per model
    best = netcost.fit("mobilenet_v2", "width", budgets={"macs": "300M"})  # best.value
"""

from __future__ import annotations

__version__ = "0.1.0"

from netcost.api import analyze, build, check, fit, load_graph, load_spec, profile, sweep, verify
from netcost.options import AnalyzeOptions, TrainOptions

__all__ = [
    "AnalyzeOptions",
    "TrainOptions",
    "__version__",
    "analyze",
    "build",
    "check",
    "fit",
    "load_graph",
    "load_spec",
    "profile",
    "sweep",
    "verify",
]
