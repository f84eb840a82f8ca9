"""Liveness peak, max op I/O, and receptive fields over graphs, against hand calculations."""

import pytest

from netcost.api import analyze

TINY = """
input: [2, 4, 4]
layers:
  - conv: {out: 2, k: 3, pad: 1}          # a
  - parallel:
      merge: add
      branches:
        - [conv: {out: 2, k: 3, pad: 1}, relu]   # b, c
        - []                                     # skip: a stays alive across the block
  - gap                                   # e
  - flatten                               # a view of e
  - linear: {out: 3}
"""


def test_liveness_peak_by_hand(spec_file):
    # fp32, batch 1: every 2x4x4 tensor is 32 elements = 128 bytes.
    # step conv1: input + a = 256; conv2: a + b = 256; relu1: a + b + c = 384;
    # add1: a + c + d = 384; gap: d + e(8) = 136; flatten: view; linear: e + 12 = 20.
    report = analyze(spec_file(TINY))
    assert report.totals["peak_activation_bytes"] == 384
    assert report.totals["max_op_io_bytes"] == 384  # add1: two inputs + output
    assert report.totals["activation_bytes"] == 4 * 128 + 8 + 8 + 12
    assert [r["name"] for r in report.rows] == ["conv1", "conv2", "relu1", "add1", "gap1", "flatten1", "linear1"]


def test_batch_and_dtype_scale_bytes_and_work_not_params(spec_file):
    one = analyze(spec_file(TINY))
    eight = analyze(spec_file(TINY), batch=8, dtype="fp16")
    assert eight.totals["params"] == one.totals["params"]
    assert eight.totals["macs"] == 8 * one.totals["macs"]
    assert eight.totals["peak_activation_bytes"] == 8 * one.totals["peak_activation_bytes"] // 2
    assert eight.totals["param_bytes"] == one.totals["param_bytes"] // 2
    assert eight.input == [8, 2, 4, 4]


def test_resnet18_stage_fields():
    # stem 7/2 -> 7 (jump 2); maxpool 3/2 -> 11 (jump 4); layer1: four 3x3 at jump 4 -> 11 + 4*8 = 43;
    # layer2: first 3x3/2 at jump 4 -> 51 (jump 8), three more -> 51 + 3*16 = 99;
    # layer3: 99 + 16 = 115, + 3*32 = 211; layer4: 211 + 32 = 243, + 3*64 = 435 (the figure).
    rows = {r["name"]: r for r in analyze("resnet18").rows}
    for stage, size, jump in [("layer1", 43, 4), ("layer2", 99, 8), ("layer3", 211, 16), ("layer4", 435, 32)]:
        last = rows[f"{stage}.1.relu2"]
        assert (last["rf_size"], last["rf_jump"]) == ([size, size], [jump, jump])
    assert rows["avgpool"]["rf_global"] and rows["avgpool"]["rf_size"] is None
    assert analyze("resnet18").totals["receptive_field"] == [435, 435]


def test_per_axis_fields_and_se_gate_is_global(spec_file):
    path = spec_file(
        """
        input: [4, 32, 32]
        layers:
          - conv: {out: 4, k: [1, 7], pad: [0, 3]}
          - conv: {out: 4, k: [3, 1], pad: [1, 0], dilation: 2}
          - parallel:
              merge: mul
              branches:
                - []
                - [gap, conv: {out: 4, k: 1}, sigmoid]
          - conv: {out: 4, k: 3, pad: 1}
        """
    )
    rows = {r["name"]: r for r in analyze(path).rows}
    assert rows["conv1"]["rf_size"] == [1, 7]
    assert rows["conv2"]["rf_size"] == [5, 7]  # dilation 2: k_eff = 5 along h
    assert rows["mul1"]["rf_global"] and rows["conv4"]["rf_global"]
    assert analyze(path).totals["receptive_field"] is None  # the last map (conv4) is global


@pytest.mark.parametrize(("depth", "names"), [(1, ["conv1", "bn1", "relu", "maxpool", "layer1"]), (2, ["layer1.0"])])
def test_depth_folding_keeps_totals(depth, names):
    report = analyze("resnet18")
    folded = report.folded(depth)
    assert [r["name"] for r in folded.rows][: len(names)] == names or names[0] in [r["name"] for r in folded.rows]
    for key in ("params", "macs"):
        assert sum(r[key] for r in folded.rows) == report.totals[key]
    for row in folded.rows:  # a block's output bytes are its output's: its last layer's
        last = [r for r in report.rows if r["name"] == row["name"] or r["name"].startswith(row["name"] + ".")][-1]
        assert row["activation_bytes"] == last["activation_bytes"] and row["output_shape"] == last["output_shape"]
    layer4 = next(r for r in report.folded(1).rows if r["name"] == "layer4")
    assert layer4["activation_bytes"] == 512 * 7 * 7 * 4  # fp32


def test_fields_after_upsampling_depend_on_the_phase(spec_file):
    # a 2x2/2 transposed conv gives fine pixel o the coarse pixel o // 2; a 2-wide conv after
    # it reads o and o + 1: coarse {m} when o = 2m, {m, m + 1} when o = 2m + 1 -> 1 or 2 pixels
    # (the size/jump recurrence would say 1.5)
    from netcost.analysis.receptive import unit_span
    from netcost.api import load_graph

    path = spec_file(
        "input: [1, 8, 8]\nlayers:\n  - conv_transpose: {out: 1, k: 2, stride: 2}\n  - conv: {out: 1, k: 2}\n"
    )
    graph = load_graph(path)
    extents = {unit_span(graph, "conv1", (p, 7))[0] for p in range(15)}
    assert {hi - lo + 1 for lo, hi in extents} == {1, 2}
    assert unit_span(graph, "conv1", (4, 4)) == ((2, 2), (2, 2))
    assert unit_span(graph, "conv1", (5, 5)) == ((2, 3), (2, 3))
    assert analyze(path).rows[-1]["rf_size"] == [2, 2]  # the largest


def test_the_final_field_of_a_transformer_is_global():
    """The head of vit_b_16 reads tokens that attention made global: no finite field, where
    the patch embedding's 16 pixels would mislead; swin_t's last map keeps a finite one."""
    assert analyze("vit_b_16").totals["receptive_field"] is None
    swin = analyze("swin_t")
    assert swin.totals["receptive_field"] is not None and swin.totals["receptive_field"][0] > 224
