"""The HTML report (netcost.report.html): its numbers, its table tree, its safety, the CLI
and the notebook view. The browser's view of the page is tests/report/test_html_browser.py."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from html.parser import HTMLParser

import pytest

import netcost
from netcost.report.html.page import page
from netcost.report.html.table import tree
from netcost.report.model import Report
from tests.reference import reference

HOSTILE_MODEL = "<script>alert(1)</script>"
HOSTILE_LAYER = '"><img src=x onerror=alert(1)>'
HOSTILE_BLOCK = "blk</script><b>"
EVIL = f"""
name: {json.dumps(HOSTILE_MODEL)}
input: [3, 8, 8]
vars: {{tag: {{default: "'<i>x</i>'"}}}}
blocks:
  unit:
    layers:
      - relu: {{name: relu}}
      - conv: {{name: conv, out: 4, k: 1}}
layers:
  - conv: {{name: {json.dumps(HOSTILE_LAYER)}, out: 4, k: 3}}
  - unit: {{name: {json.dumps(HOSTILE_BLOCK)}}}
"""


class Elements(HTMLParser):
    """Every element and attribute of a page, and the text of each <script>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._in_script: dict[str, str | None] | None = None
        self.svg_text: list[str] = []
        self._svg_depth = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "script":
            self._in_script = attrs
            self.scripts.append((attrs, ""))
        if tag == "svg":
            self._svg_depth += 1

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = None
        if tag == "svg":
            self._svg_depth -= 1

    def handle_data(self, data):
        if self._in_script is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)
        elif self._svg_depth:
            self.svg_text.append(data)


def parsed(text: str) -> Elements:
    parser = Elements()
    parser.feed(text)
    parser.close()
    return parser


@pytest.fixture(scope="module")
def resnet18_page() -> str:
    return netcost.report("resnet18")


def test_cli_writes_the_resnet18_page_with_torchvision_params(cli, tmp_path):
    out = tmp_path / "r.html"
    result = cli("report", "resnet18", "-o", out)
    assert result.exit_code == 0, result.stderr
    text = out.read_text(encoding="utf-8")
    params = reference()["resnet18"]["params"]
    assert params == 11_689_512  # torchvision's figure, as the golden row records it
    assert '<th>params</th><td class="n">11,689,512 (11.7 M)</td>' in text
    macs = reference()["resnet18"]["conv_linear_macs"]
    assert f"{macs:,}" in text and "FLOPs (netcost convention)" in text
    assert "wrote" in result.stderr and result.stdout == ""


def test_the_page_is_self_contained(resnet18_page):
    doc = parsed(resnet18_page)
    for tag, attrs in doc.tags:
        assert tag not in ("link", "img", "iframe", "object", "embed", "base", "form"), tag
        for name, value in attrs.items():
            assert name not in ("src", "href", "srcset", "action") and not name.startswith("on"), (tag, name)
            if tag != "svg" or name != "xmlns":  # the SVG namespace is a name, never fetched
                assert "http" not in (value or ""), (tag, name, value)
    assert "url(" not in resnet18_page and "@import" not in resnet18_page


def sha256(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def test_only_the_page_script_runs_by_its_hash(resnet18_page):
    doc = parsed(resnet18_page)
    code = [text for attrs, text in doc.scripts if attrs.get("type") != "application/json"]
    assert len(code) == 1 and len(doc.scripts) == 2
    csp = [attrs["content"] for tag, attrs in doc.tags if tag == "meta" and attrs.get("http-equiv")]
    assert len(csp) == 1
    digest = sha256(code[0])
    directives = dict(d.strip().split(" ", 1) for d in csp[0].split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == f"'sha256-{digest}'"  # nothing else: no 'unsafe-inline', no host
    (style,) = re.findall(r"<style>(.*?)</style>", resnet18_page, re.S)
    assert directives["style-src"] == f"'sha256-{sha256(style)}'"
    # the CSP must come before anything it governs
    assert resnet18_page.index("Content-Security-Policy") < resnet18_page.index("<style>")


def test_hostile_names_render_as_text(spec_file):
    text = netcost.report(str(spec_file(EVIL)))
    doc = parsed(text)
    assert [t for t, _ in doc.tags].count("script") == 2  # the data block and the page's own
    assert not any(t in ("img", "i", "b") for t, _ in doc.tags)
    assert not any(name.startswith("on") for _, attrs in doc.tags for name in attrs)
    for raw in (HOSTILE_MODEL, HOSTILE_LAYER, HOSTILE_BLOCK, "<i>x</i>"):
        assert raw not in text
    assert html.escape(HOSTILE_LAYER) in text and html.escape(HOSTILE_MODEL) in text
    # inside SVG (hover titles, the peak label) the names are text too
    svg = "".join(doc.svg_text)
    assert HOSTILE_LAYER in svg and HOSTILE_BLOCK + ".conv" in svg
    # the block row of `blk</script><b>` and its members
    rows = [attrs for tag, attrs in doc.tags if tag == "tr" and attrs.get("data-name")]
    assert {"data-name": HOSTILE_BLOCK, "data-depth": "1", "class": "block"}.items() <= rows[1].items()
    assert rows[2]["data-parent"] == HOSTILE_BLOCK
    # the embedded JSON: no `</` (nor `<!--`) can end its script; it parses back to the names
    (data,) = [t for attrs, t in doc.scripts if attrs.get("type") == "application/json"]
    assert "</" not in data and "<!--" not in data and "<" not in data
    model = json.loads(data)["models"][0]
    assert model["model"] == HOSTILE_MODEL
    assert [r["name"] for r in model["layers"]] == [HOSTILE_LAYER, HOSTILE_BLOCK + ".relu", HOSTILE_BLOCK + ".conv"]


def test_layer_tree_of_resnet18_by_hand():
    rows = tree(netcost.analyze("resnet18"))
    by_name = {(t.row["name"], t.block): t for t in rows}
    layer1 = by_name[("layer1", True)]
    # layer1: two BasicBlocks of conv1 bn1 relu1 conv2 bn2 add1 relu2; each block two 3x3
    # convs 64 -> 64 without bias (36,864 each) and two BNs (128 each)
    assert layer1.row["op"] == "14 layers" and layer1.depth == 1 and layer1.parent is None
    assert layer1.row["params"] == 2 * (2 * 64 * 64 * 9 + 2 * 128) == 147_968
    block = by_name[("layer1.0", True)]
    assert (block.depth, block.parent, block.row["op"], block.row["params"]) == (2, "layer1", "7 layers", 73_984)
    conv = by_name[("layer1.0.conv1", False)]
    assert (conv.depth, conv.parent) == (3, "layer1.0")
    names = [(t.row["name"], t.block) for t in rows]
    # pre-order: a block right before its first layer
    assert names.index(("layer1", True)) + 1 == names.index(("layer1.0", True))
    assert names.index(("layer1.0", True)) + 1 == names.index(("layer1.0.conv1", False))
    assert names[:4] == [("conv1", False), ("bn1", False), ("relu", False), ("maxpool", False)]
    # layer2.0.downsample: its 1x1 conv 64 -> 128 (8,192) and BN (256)
    assert by_name[("layer2.0.downsample", True)].row["params"] == 8_192 + 256
    # every layer once: conv1 bn1 relu maxpool, layer1 2 x 7, layers 2-4 (7 + 2 downsample + 7)
    # each, avgpool flatten fc
    assert sum(not t.block for t in rows) == 4 + 14 + 3 * 16 + 3 == 69


def test_charts_of_resnet18(resnet18_page):
    doc = parsed(resnet18_page)
    charts = [attrs["data-chart"] for tag, attrs in doc.tags if tag == "svg"]
    assert charts == ["macs", "params", "memory", "rf"]
    # one bar per layer with its hover title; the peak named where liveness puts it:
    # conv1's output (64x112x112 fp32 = 3,211,264 B) alive with bn1's while bn1 runs
    assert resnet18_page.count("<rect x=") >= 2 * 69
    assert "peak 6.12 MiB at bn1" in resnet18_page
    assert 2 * 64 * 112 * 112 * 4 == 6_422_528 and "6,422,528 (6.12 MiB)" in resnet18_page


def test_training_and_comparison(tmp_path, cli):
    out = tmp_path / "t.html"
    assert cli("report", "resnet18", "resnet34", "--train", "--optimizer", "adamw", "-o", out).exit_code == 0
    text = out.read_text()
    ref = reference()
    ratio = ref["resnet34"]["params"] / ref["resnet18"]["params"]  # torchvision's 21,797,672 / 11,689,512
    assert f"({ratio:.3g}x)" in text and f"{ratio:.3g}" == "1.86"
    assert 'data-chart="train"' in text and "optimizer state" in text
    # fp32 gradients of every parameter: 4 bytes each
    assert f"{4 * ref['resnet18']['params']:,}" in text
    # AdamW keeps exp_avg and exp_avg_sq: two fp32 tensors per parameter
    assert f"optimizer state: buffers: {binary_text(8 * ref['resnet18']['params'])}" in html.unescape(text)


def binary_text(n: int) -> str:
    from netcost.units import binary

    return binary(n)


def test_profile_roofline(tmp_path, cli, spec_file, monkeypatch):
    pytest.importorskip("torch")
    from netcost.counted import calibrate as calibration

    fake = calibration.Roofline("test device", "fp32", 1, 1e10, 1e9, 64, 1024)
    monkeypatch.setattr(calibration, "measure", lambda device, dtype: fake)
    monkeypatch.setenv("NETCOST_CACHE_DIR", str(tmp_path))
    spec = spec_file(
        """
        input: [3, 16, 16]
        layers:
          - conv: {out: 8, k: 3, pad: 1}
          - relu
          - conv: {out: 8, k: 1}
          - gap
          - flatten
          - linear: {out: 4}
        """
    )
    doc = netcost.profile(str(spec), per_layer=True, min_run_time=0.02).to_dict()
    profile = tmp_path / "p.json"
    profile.write_text(json.dumps(doc))
    out = tmp_path / "p.html"
    assert cli("report", spec, "--profile", profile, "-o", out).exit_code == 0
    text = out.read_text()
    assert 'data-chart="roofline"' in text and "ridge 10 FLOP/byte" in text  # 1e10 FLOP/s / 1e9 B/s
    drawn = [r for r in doc["layers"] if r["achieved_flop_per_s"] and r["arithmetic_intensity"]]
    roofline = text[text.index('data-chart="roofline"') :]
    assert roofline.count("<circle cx=") == len(drawn) + len({r["kind"] for r in drawn})  # points + legend


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"schema_version": 1, "runs": [{"batch": 1}]}', "runs[0] lacks"),
        ('{"schema_version": 2, "runs": []}', "schema_version 2"),
    ],
)
def test_a_bad_profile_file_is_a_located_error(cli, tmp_path, content, said):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    result = cli("report", "resnet18", "--profile", bad, "-o", tmp_path / "x.html")
    assert result.exit_code == 2 and said in result.stderr and "netcost profile" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "x.html").exists()


def test_cli_errors(cli, tmp_path):
    assert cli("report", "resnet18").exit_code == 2  # -o is required
    result = cli("report", "resnet18", "-o", tmp_path)  # a directory
    assert result.exit_code == 2 and "cannot write the report" in result.stderr
    result = cli("report", "no_such_model", "-o", tmp_path / "x.html")
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    with pytest.raises(netcost.errors.NetcostError, match="at least one model"):
        netcost.report([])


def test_notebook_view_is_the_page_in_a_sandboxed_frame():
    report = netcost.analyze("resnet18", formulas=True)
    shown = report._repr_html_()
    match = re.fullmatch(r'<iframe srcdoc="([^"]*)" sandbox="allow-scripts" .*</iframe>', shown, re.S)
    assert match, shown[:200]
    assert html.unescape(match.group(1)) == page([report])


def test_check_result_in_a_notebook():
    gate = netcost.check("resnet18", budgets={"params": "10M"})  # 11,689,512 params: over
    shown = gate._repr_html_()
    assert "netcost check: FAILED" in shown and "<td>resnet18</td><td>params</td>" in shown
    assert netcost.check("resnet18", budgets={"params": "12M"})._repr_html_().startswith("<p><b>netcost check: passed")


def test_long_models_are_bucketed_in_charts_and_cut_in_the_table():
    from netcost.report.model import SUMMED

    n = 5001
    rows = [{"name": f"b{i // 10}.l{i}", "op": "relu", "args": "", **dict.fromkeys(SUMMED, 2)} for i in range(n)]
    report = Report("long", "netcost", [1], {}, "fp32", rows, {"params": 2 * n}, {"live_bytes": [8] * n})
    text = page([report])
    macs = text[text.index('data-chart="macs"') : text.index('data-chart="params"')]
    # at most 1500 bars: 4 layers a bar (3 would make 1667), ceil(5001 / 4) bars
    assert macs.count("<rect x=") == 1251
    assert "(5001 layers); 4 layers a bar" in macs and "b0.l0 … b0.l3: 8" in macs  # 4 layers of 2 MACs
    # the table: the first 5,000 layers, in 500 blocks of 10
    assert text.count('<tr class="layer"') == 5000 and text.count('<tr class="block"') == 500
    assert "the first 5,000 of 5,001 layers" in text
    data = json.loads(re.search(r'id="netcost-data">(.*?)</script>', text).group(1))
    assert len(data["models"][0]["layers"]) == n  # the data keeps every layer


def test_netcost_report_is_the_function_and_still_the_package():
    import netcost.report.render as render  # the idiom a function named netcost.report would break

    assert render.__name__ == "netcost.report.render"
    assert netcost.report.Report is Report
    assert "11,689,512" in netcost.report("resnet18")


def test_a_counted_torch_model(cli, tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "tiny.html"
    # --mode train: counted op by op (a captured graph holds the layers at inference)
    result = cli("report", "tests.counted.refnets:tiny", "--input", "3x16x16", "--mode", "train", "-o", out)
    assert result.exit_code == 0, result.stderr
    text = out.read_text()
    # conv 3 -> 8, 3x3, no bias: 216; BN(8): 16; linear 8 -> 5: 45
    assert '<th>params</th><td class="n">277</td>' in text
    assert "no liveness timeline" in text and 'data-chart="macs"' in text
