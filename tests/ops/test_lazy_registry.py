"""The lazy op registry: its static kind -> module table matches what the family modules
register, a model imports only the families it uses, and listing imports them all."""

from __future__ import annotations

import dataclasses
import importlib
import json
import pkgutil
import subprocess
import sys

import pytest

import netcost.ops as ops
from netcost.ops.base import Op


def fresh(code: str) -> object:
    """Run ``code`` in a new interpreter; it prints one JSON value."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def test_the_table_lists_what_each_family_module_registers():
    for info in pkgutil.iter_modules(ops.__path__):
        if info.name != "base":
            importlib.import_module(f"netcost.ops.{info.name}")
    registered: dict[str, list[str]] = {}
    for kind, cls in ops.REGISTRY.loaded().items():
        registered.setdefault(cls.__module__.removeprefix("netcost.ops."), []).append(kind)
    assert {m: sorted(k) for m, k in registered.items()} == {m: sorted(k) for m, k in ops.FAMILIES.items()}
    assert set(ops.REGISTRY) == set(ops.KIND_MODULE)


def test_importing_the_api_builds_no_op_family():
    loaded = fresh("import sys, netcost.api; print(__import__('json').dumps(sorted(sys.modules)))")
    assert [m for m in loaded if m.startswith("netcost.ops.")] == ["netcost.ops.base"]


def test_a_model_imports_only_the_families_it_uses():
    code = (
        "import sys, json; from netcost.api import analyze; analyze('resnet18'); "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('netcost.ops.'))))"
    )
    loaded = fresh(code)
    assert "netcost.ops.conv" in loaded and "netcost.ops.lenet" not in loaded and "netcost.ops.resample" not in loaded


def test_listing_and_unknown_kinds_import_every_family():
    code = (
        "import json, netcost.ops as o; known = 'flatten' in o.REGISTRY; unknown = 'nope' in o.REGISTRY; "
        "print(json.dumps([known, unknown, len(o.REGISTRY.loaded()), len(o.REGISTRY)]))"
    )
    known, unknown, loaded, listed = fresh(code)
    assert known and not unknown and loaded == listed == len(ops.KIND_MODULE)


def test_register_still_registers_a_kind_outside_the_table_and_refuses_duplicates():
    @ops.register("zz_test_op", family="test")
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Probe(Op):
        pass

    try:
        assert "zz_test_op" in ops.REGISTRY and ops.get("zz_test_op") is Probe and Probe.family == "test"
        with pytest.raises(RuntimeError, match="registered twice"):
            ops.register("zz_test_op")(Probe)
    finally:
        del ops.REGISTRY["zz_test_op"]
    with pytest.raises(KeyError):
        ops.REGISTRY["zz_test_op"]
