"""netcost: what a neural network costs — parameters, MACs/FLOPs, receptive field,
activation memory — from declarative specs, cross-checked against real torch models.

Public API::

    report = netcost.analyze("resnet18")            # analytic Report; report.df is a DataFrame
    graph = netcost.load_graph("specs/my.yaml", overrides={"width": 0.5})
    model = netcost.build("resnet18")               # a torch.nn.Module named like the spec's layers
    check = netcost.verify("resnet18")              # analytic vs counted, per layer (check.passed)
"""

from __future__ import annotations

__version__ = "0.1.0"

from netcost.api import analyze, build, load_graph, load_spec, verify

__all__ = ["__version__", "analyze", "build", "load_graph", "load_spec", "verify"]
