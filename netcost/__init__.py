"""netcost: what a neural network costs — parameters, MACs/FLOPs, receptive field,
activation memory — from declarative specs, cross-checked against real torch models.

Public API (the model first — any model source: a bundled name, a spec file, an inline
spec, ``package.module:callable``, an ``nn.Module`` — its variable overrides second,
everything else by keyword or as one option record)::

    report = netcost.analyze("resnet18", input_shape="3x160x160")   # a Report; report.df
    report = netcost.analyze("resnet50", train=netcost.TrainOptions(optimizer="adamw"), batch=32)
    report = netcost.analyze(my_module, inputs=["input_ids=128:int64"])  # a torch model, counted
    gate = netcost.check("resnet18", max_macs="2G")                  # gate.passed, gate.rows
    table = netcost.compare(["conv(256,k=3)", "dwsep(256,k=3)"], input_shape="256x56x56")
    graph = netcost.load_graph("specs/my.yaml", {"width": 0.5})
    model = netcost.build("resnet18")        # a torch.nn.Module named like the spec's layers
    result = netcost.verify("resnet18")      # analytic vs counted, per layer (result.passed)
    netcost.report(["resnet18", "resnet50"], output="report.html")  # one self-contained HTML page
    df = netcost.sweep("regnet", sample=500, seed=0)                  # one row per model
    best = netcost.fit("mobilenet_v2", "width", budgets={"macs": "300M"})  # best.value
"""

from __future__ import annotations

__version__ = "0.1.0"

from netcost import report  # a package, callable: netcost.report(...) is netcost.api.report, the HTML page
from netcost.api import (
    analyze,
    build,
    calibrate,
    check,
    compare,
    count_model,
    export,
    fit,
    load_graph,
    load_spec,
    profile,
    sweep,
    verify,
    verify_train,
)
from netcost.options import AnalyzeOptions, CountOptions, ProfileOptions, TorchInput, TrainOptions
from netcost.sources.resolve import source_of

__all__ = [
    "AnalyzeOptions",
    "CountOptions",
    "ProfileOptions",
    "TorchInput",
    "TrainOptions",
    "__version__",
    "analyze",
    "build",
    "calibrate",
    "check",
    "compare",
    "count_model",
    "export",
    "fit",
    "load_graph",
    "load_spec",
    "profile",
    "report",
    "source_of",
    "sweep",
    "verify",
    "verify_train",
]
