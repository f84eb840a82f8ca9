"""The Report: per-layer rows of raw integers, totals and metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from netcost.report.views import ResultViews

SCHEMA_VERSION = 1
SUMMED = (
    "params",
    "buffers",
    "macs",
    "flops",
    "elementwise_flops",
    "attention_macs",
    "mha_projection_macs",
    "activation_bytes",
)
# training columns (netcost.analysis.training), summed when present
TRAIN_SUMMED = ("backward_flops", "dgrad_flops", "wgrad_flops", "backward_elementwise_flops", "saved_activation_bytes")


@dataclass
class Report(ResultViews):
    TABLE: ClassVar[str] = "layers"
    TITLE: ClassVar[str] = "netcost analyze"

    model: str
    convention: str
    input: list[int]
    vars: dict[str, Any]
    dtype: str
    rows: list[dict[str, Any]]
    totals: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] | None = None  # training totals, from netcost.analysis.training

    def to_dict(self, layers: bool = True) -> dict[str, Any]:
        """The JSON document (schema_version 1): raw integers, nothing formatted."""
        doc = {
            "schema_version": SCHEMA_VERSION,
            "netcost_version": self.meta.get("netcost_version"),
            "model": self.model,
            "convention": self.convention,
            "convention_description": self.meta.get("convention_description"),
            "input": self.input,
            "dtype": self.dtype,
            "vars": _jsonable(self.vars),
            "reference": self.meta.get("reference"),
            "source": self.meta.get("source", "spec"),  # "counted" for a torch model counted without a spec
            "partial": bool(self.meta.get("partial", False)),
            "unsupported_ops": self.meta.get("unsupported_ops", {}),
            "notes": self.meta.get("notes", []),
            "totals": self.totals,
        }
        if self.train is not None:
            doc["train"] = self.train
        if layers:
            doc["layers"] = self.rows
        return doc

    @property
    def df(self):
        """The rows as a pandas DataFrame (pandas is imported only here)."""
        import pandas as pd

        return pd.DataFrame(self.rows).set_index("name")

    def _repr_html_(self) -> str:
        """Jupyter's view: the page of ``netcost report`` (netcost.report.html)."""
        from netcost.report.html.notebook import report_html

        return report_html(self)

    def folded(self, depth: int) -> Report:
        """Rows grouped by the first ``depth`` components of their names (``layer2.0``):
        counts summed; shape, output bytes and receptive field those of the group's last
        layer (the block's output)."""
        if depth < 1:
            raise ValueError("depth must be at least 1")
        groups: dict[str, list[dict[str, Any]]] = {}
        for row in self.rows:
            key = ".".join(row["name"].split(".")[:depth])
            groups.setdefault(key, []).append(row)
        rows = []
        for key, members in groups.items():
            last = members[-1]
            row = {**last, "name": key}
            if len(members) > 1 or last["name"] != key:
                row["op"] = f"{len(members)} layers"
                row["args"] = ""
                for name in SUMMED:
                    if name != "activation_bytes":  # a block's output is its last layer's
                        row[name] = sum(m[name] for m in members)
                for name in TRAIN_SUMMED:
                    if name in last:
                        row[name] = sum(m.get(name, 0) for m in members)
                row.pop("formula_params", None)
                row.pop("formula_flops", None)
            rows.append(row)
        return Report(
            self.model, self.convention, self.input, self.vars, self.dtype, rows, self.totals, self.meta, self.train
        )


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, (int, float, bool, str, list, type(None))) else str(v) for k, v in values.items()}
