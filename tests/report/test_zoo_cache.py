"""`netcost zoo`: numbers from the layers' costs alone equal the full analysis; the cache
per spec file is used when valid and ignored when stale, corrupt or unwritable."""

from __future__ import annotations

import json
import shutil

import pytest

import netcost.zoo
from netcost.api import analyze
from netcost.report import zoo
from netcost.zoo import bundled


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("NETCOST_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_totals_only_rows_equal_the_full_analysis():
    rows = zoo.zoo_rows(cache=False)
    assert [r["name"] for r in rows] == list(bundled())
    for row in rows:
        report = analyze(row["name"])
        assert (row["params"], row["macs"], row["input"]) == (
            report.totals["params"],
            report.totals["macs"],
            report.input[1:],
        )


@pytest.fixture
def two_specs(tmp_path, monkeypatch):
    folder = tmp_path / "specs"
    folder.mkdir()
    for name in ("resnet18", "alexnet"):
        shutil.copy(bundled()[name], folder / f"{name}.yaml")
    monkeypatch.setattr(netcost.zoo, "bundled", lambda: {p.stem: p for p in sorted(folder.glob("*.yaml"))})
    return folder


def no_analysis(monkeypatch):
    def fail(name, path):
        raise AssertionError(f"{name} analysed although cached")

    monkeypatch.setattr(zoo, "spec_row", fail)


def test_a_second_run_reads_the_cache(two_specs, cache_dir, monkeypatch):
    first = zoo.zoo_rows()
    assert (cache_dir / "zoo.json").is_file()
    no_analysis(monkeypatch)
    assert zoo.zoo_rows() == first


def test_an_edited_spec_is_analysed_again(two_specs, monkeypatch):
    zoo.zoo_rows()
    path = two_specs / "resnet18.yaml"
    path.write_text(path.read_text().replace("default: 1000", "default: 10"))
    rows = {r["name"]: r for r in zoo.zoo_rows()}
    assert rows["resnet18"]["params"] == analyze(str(path)).totals["params"] < 11_689_512
    assert rows["alexnet"]["params"] == 61_100_840


@pytest.mark.parametrize(
    "content",
    [
        b"\xff\xfe not json",
        b"[1, 2]",
        b'{"schema": 1, "entries": []}',
        b'{"schema": 99, "entries": {}}',
        "tamper",
    ],
)
def test_a_corrupt_cache_is_ignored_and_rewritten(two_specs, cache_dir, content):
    expected = zoo.zoo_rows(cache=False)
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / "zoo.json"
    if content == "tamper":  # right keys, impossible values
        zoo.zoo_rows()
        doc = json.loads(path.read_text())
        for entry in doc["entries"].values():
            entry["row"]["params"] = "many"
        path.write_text(json.dumps(doc))
    else:
        path.write_bytes(content)
    assert zoo.zoo_rows() == expected
    assert json.loads(path.read_text())["schema"] == zoo.CACHE_SCHEMA


def test_an_unwritable_cache_is_not_an_error(two_specs, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("NETCOST_CACHE_DIR", str(blocker / "cache"))
    assert zoo.zoo_rows() == zoo.zoo_rows(cache=False)


def test_the_cli_lists_every_spec(cli, cache_dir):
    doc = json.loads(cli("zoo", "--format", "json").stdout)
    assert len(doc["models"]) == len(bundled()) and (cache_dir / "zoo.json").is_file()
    table = cli("zoo").stdout
    assert all(line == line.rstrip() for line in table.splitlines()) and "resnet18" in table


def test_no_home_directory_means_no_cache(two_specs, monkeypatch):
    def no_home():
        raise RuntimeError("Could not determine home directory")

    monkeypatch.delenv("NETCOST_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(zoo.Path, "home", no_home)
    assert zoo.zoo_rows() == zoo.zoo_rows(cache=False)
