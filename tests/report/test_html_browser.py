"""The report page in a real browser (Debian's chromium, headless): it renders, its script
runs under its own Content-Security-Policy with no console message, the charts are drawn
(their pixels in a screenshot), and folding, sorting and the formulas work.

The page is the real one with a probe appended to its script (and the script's hash in
the CSP updated to match): the probe records where each chart is and clicks the table's
controls, writing what it saw into ``<html data-…>`` for ``--dump-dom`` to return.
Skipped where no chromium is installed (`.ci/run` installs it where apt-get can)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import netcost
from netcost.report.html import charts
from netcost.report.html import page as page_module

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WIDTH = 1280
PROBE = """
(function () {
  const root = document.documentElement;
  const table = document.querySelector("table.layers");
  const visible = () => Array.from(table.tBodies[0].rows).filter((r) => !r.hidden).map((r) => r.dataset.name);
  root.dataset.initial = JSON.stringify(visible());
  document.querySelector('.controls button[data-depth="1"]').click();
  root.dataset.depth1 = JSON.stringify(visible());
  table.querySelector('tr.block[data-name="layer1"] button.fold').click();
  root.dataset.layer1open = JSON.stringify(visible());
  document.querySelector('.controls button[data-depth="0"]').click();
  const params = table.querySelector('th[data-col="4"]');
  params.click();
  params.click();
  root.dataset.sorted = JSON.stringify(visible());
  document.querySelector(".controls button[data-reset]").click();
  root.dataset.reset = JSON.stringify(visible());
  const formula = table.querySelector("td.formula");
  const toggle = document.querySelector(".controls input.formulas");
  const before = getComputedStyle(formula).display;
  toggle.click();
  root.dataset.formulas = before + " " + getComputedStyle(formula).display;
  toggle.click();
  // last, in the layout the screenshot will see: where each chart is
  root.dataset.boxes = JSON.stringify(Array.from(document.querySelectorAll("svg.chart")).map((s) => {
    const r = s.getBoundingClientRect();
    return [s.dataset.chart, r.left + scrollX, r.top + scrollY, r.width, r.height];
  }));
  root.dataset.height = String(root.scrollHeight);
})();
"""
PROFILE = {  # the shape of `netcost profile --per-layer --format json`, three layers
    "schema_version": 1,
    "model": "resnet18",
    "device": "cpu",
    "threads": 2,
    "runs": [
        {
            "batch": 1,
            "dtype": "fp32",
            "amp": False,
            "channels_last": False,
            "median_s": 0.02,
            "iqr_s": 0.001,
            "timed_runs": 10,
            "timed_blocks": 5,
            "throughput": 50.0,
            "achieved_flop_per_s": 1.8e11,
            "flops": 3.6e9,
        }
    ],
    "layers": [
        {"name": "conv1", "kind": "standard conv", "arithmetic_intensity": 30.0, "achieved_flop_per_s": 9e10},
        {"name": "relu", "kind": "relu", "arithmetic_intensity": 0.12, "achieved_flop_per_s": 2e9},
        {"name": "fc", "kind": "linear", "arithmetic_intensity": 0.5, "achieved_flop_per_s": 4e9},
    ],
    "roofline": {"device": "cpu", "peak_flop_per_s": 2e11, "bandwidth_bytes_per_s": 2e10},
    "notes": [],
}


def browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no chromium to test the page in (apt-get install chromium; .ci/run does where it can)")


def run_browser(tmp_path: Path, page: Path, *args: str, height: int = 2000) -> subprocess.CompletedProcess:
    """Headless chromium on ``page`` with console messages logged to stderr."""
    flags = [
        "--headless",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        "--enable-logging=stderr",
        "--v=0",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--window-size={WIDTH},{height}",
    ]
    if os.geteuid() == 0:  # chromium's sandbox refuses root (CI containers)
        flags.append("--no-sandbox")
    return subprocess.run(
        [browser(), *flags, *args, page.as_uri()], capture_output=True, text=True, timeout=90, check=False
    )


def console(result: subprocess.CompletedProcess) -> list[str]:
    """The page's console messages (errors, CSP violations, logs): chromium's CONSOLE lines."""
    return [line for line in result.stderr.splitlines() if ":CONSOLE" in line]


def dumped(result: subprocess.CompletedProcess) -> dict[str, str]:
    """The ``data-*`` attributes of the dumped <html> element."""
    from html.parser import HTMLParser

    found: dict[str, str] = {}

    class Root(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag == "html":
                found.update({k.removeprefix("data-"): v for k, v in attrs if k.startswith("data-")})

    Root().feed(result.stdout)
    return found


def probed_page(monkeypatch, tmp_path: Path, extra: str = PROBE, **keywords) -> Path:
    real = page_module.asset

    def with_probe(name: str) -> str:
        return real(name) + extra if name == "page.js" else real(name)

    monkeypatch.setattr(page_module, "asset", with_probe)
    path = tmp_path / "report.html"
    netcost.report("resnet18", **keywords, output=path)
    return path


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """The resnet18 page (with --train and a profile) probed by --dump-dom, then its screenshot."""
    browser()
    tmp_path = tmp_path_factory.mktemp("browser")
    with pytest.MonkeyPatch.context() as monkeypatch:
        page = probed_page(monkeypatch, tmp_path, train=True, profile=PROFILE)
    dom = run_browser(tmp_path, page, "--dump-dom")
    state = dumped(dom)
    height = int(state.get("height", "6000"))
    shot = run_browser(tmp_path, page, f"--screenshot={tmp_path / 'shot.png'}", height=height)
    return dom, state, shot, tmp_path / "shot.png"


def test_the_script_runs_without_a_console_message(rendered):
    dom, state, shot, _ = rendered
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert state.get("ready") == "1"  # the page's own script ran: the CSP hash admitted it
    assert console(dom) == [] and console(shot) == []


def test_folding_sorting_and_formulas(rendered):
    _, state, _, _ = rendered
    top = ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "flatten1", "fc"]
    # resnet18 has 69 layers and 15 blocks (layer1-4, their 8 BasicBlocks, 3 downsamples): all shown at first
    assert len(json.loads(state["initial"])) == 69 + 15
    assert json.loads(state["depth1"]) == top
    assert json.loads(state["layer1open"]) == [*top[:5], "layer1.0", "layer1.1", *top[5:]]
    # by params, descending, siblings among themselves; torchvision's stage sizes by hand:
    # layer4 8,393,728 > layer3 2,099,712 > layer2 525,568 > fc 513,000 (512 x 1000 + 1000)
    # > layer1 147,968 > conv1 9,408 (64 x 3 x 7 x 7) > bn1 128 > the rest 0 (in their order)
    ordered = json.loads(state["sorted"])
    depth1 = [n for n in ordered if n in top]
    by_params = ["layer4", "layer3", "layer2", "fc", "layer1", "conv1", "bn1"]
    assert depth1 == [*by_params, "relu", "maxpool", "avgpool", "flatten1"]
    # inside a BasicBlock: the two 3x3 convs (36,864 each), the two BNs (128), then the rest
    start = ordered.index("layer1.0")
    assert ordered[start + 1 : start + 8] == [
        "layer1.0.conv1",
        "layer1.0.conv2",
        "layer1.0.bn1",
        "layer1.0.bn2",
        "layer1.0.relu1",
        "layer1.0.add1",
        "layer1.0.relu2",
    ]
    assert json.loads(state["reset"]) == json.loads(state["initial"])  # back to the execution order
    assert state["formulas"] == "none table-cell"


def test_the_charts_are_drawn(rendered):
    np = pytest.importorskip("numpy")
    image_module = pytest.importorskip("PIL.Image")

    _, state, shot, png = rendered
    assert shot.returncode == 0 and png.exists(), shot.stderr[-2000:]
    image = np.asarray(image_module.open(png).convert("RGB")).astype(int)
    boxes = json.loads(state["boxes"])
    assert [b[0] for b in boxes] == ["macs", "params", "memory", "rf", "train", "roofline"]
    marks = {name: [charts.COLORS[name]] for name in ("macs", "params", "memory", "rf")}
    marks["train"] = marks["roofline"] = list(charts.PALETTE)
    for name, x, y, w, h in boxes:
        assert y + h <= image.shape[0], (name, y + h, image.shape[0])
        region = image[int(y) : int(y + h), int(x) : int(x + w)]
        area = region.shape[0] * region.shape[1]
        inked = int((region != 255).any(axis=2).sum())
        assert inked > 0.01 * area, (name, inked, area)  # not blank
        colors = [np.array([int(c[i : i + 2], 16) for i in (1, 3, 5)]) for c in marks[name]]
        data = sum(int((np.abs(region - c).max(axis=2) <= 12).sum()) for c in colors)
        assert data >= 30, (name, data)  # its bars, line or points, in their colors


def test_the_console_check_sees_errors(tmp_path, monkeypatch):
    """The checks above can fail: a script error and a script the CSP refuses both show."""
    page = probed_page(monkeypatch, tmp_path, extra="\nnull.boom;\n")
    result = run_browser(tmp_path, page, "--dump-dom")
    assert any("Uncaught TypeError" in line for line in console(result)), result.stderr[-2000:]
    text = page.read_text()
    at = text.rindex("<script>") + len("<script>")
    page.write_text(text[:at] + "/* not the hashed script */" + text[at:])
    refused = run_browser(tmp_path, page, "--dump-dom")
    assert "ready" not in dumped(refused)
    assert any("Content Security Policy" in line for line in console(refused)), refused.stderr[-2000:]
