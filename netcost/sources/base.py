"""What every model source offers the analyses (netcost.sources.resolve picks one)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from netcost.errors import NetcostError

if TYPE_CHECKING:
    from netcost.graph import Graph
    from netcost.options import AnalyzeOptions
    from netcost.report.model import Report


class NoGraph(NetcostError):
    """The source has no Graph for an analysis that needs one (the message says why)."""


class ModelSource:
    """A model argument, resolved once: a spec (bundled, a file, inline, parsed), a Graph,
    a torch model (``package.module:callable`` or an ``nn.Module``).

    ``graph`` yields the typed Graph the analytic passes, verify and the torch compiler
    work on; ``report`` the cost Report ``analyze`` shows (the Graph's analysis, or for a
    source without one, its own count). ``kind`` names the source in messages and JSON."""

    kind: ClassVar[str] = ""
    takes_variables: ClassVar[bool] = False  # whether --set applies (a spec's variables)

    @property
    def label(self) -> str:
        """The model as the user named it."""
        raise NotImplementedError

    def graph(self, options: AnalyzeOptions) -> Graph:
        raise NoGraph(f"{self.label}: a {self.kind} model has no graph to analyse")

    def report(self, options: AnalyzeOptions, *, formulas: bool = False) -> Report:
        """The cost Report of the model's Graph under ``options`` (with ``options.train``:
        one training step's too)."""
        return graph_report(self.graph(options), options, formulas=formulas)

    def refuse_variables(self, options: AnalyzeOptions) -> None:
        if options.overrides and not self.takes_variables:
            names = ", ".join(sorted(options.overrides))
            raise NetcostError(
                f"--set {names}: --set applies to specs; {self.label} is a {self.kind} model (it takes no variables)",
                hint="--set sets a spec's variables (netcost analyze SPEC --set width=0.5)",
            )


def graph_report(graph: Graph, options: AnalyzeOptions, *, formulas: bool = False) -> Report:
    """The analysis of a Graph: per-layer costs and totals, and with ``options.train`` the
    cost of one training step."""
    if options.train is None:
        from netcost.analysis import analyze_graph

        return analyze_graph(graph, options.batch, options.dtype, options.convention, formulas)
    from netcost.analysis.training import train_report

    return train_report(
        graph,
        batch=options.batch,
        dtype=options.dtype,
        train=options.train,
        convention=options.convention,
        formulas=formulas,
    )
