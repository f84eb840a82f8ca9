"""Where the caches live (netcost.files.cache_path): one place for all three."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from netcost.analysis import latency_record
from netcost.counted import calibrate
from netcost.files import cache_path
from netcost.report import zoo


def test_netcost_cache_dir_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("NETCOST_CACHE_DIR", str(tmp_path))
    assert cache_path("x.json") == tmp_path / "x.json"


@pytest.mark.skipif(sys.platform != "linux", reason="the XDG layout is Linux's")
def test_the_user_cache_folder_on_linux(monkeypatch, tmp_path):
    monkeypatch.delenv("NETCOST_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_path("x.json") == tmp_path / "netcost" / "x.json"
    monkeypatch.setenv("XDG_CACHE_HOME", "")  # empty: unset, never the current directory
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_path("x.json") == tmp_path / "home" / ".cache" / "netcost" / "x.json"


def test_every_cache_is_in_the_one_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("NETCOST_CACHE_DIR", str(tmp_path))
    files = [zoo.cache_file(), calibrate.cache_file(), latency_record.cache_file()]
    assert files == [tmp_path / "zoo.json", tmp_path / "calibration.json", tmp_path / "opclass_calibration.json"]
    assert all(isinstance(f, Path) for f in files)
