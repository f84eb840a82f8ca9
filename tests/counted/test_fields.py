"""verify's receptive-field check: exact specs pass it, whatever their depth or their
first conv's padding, and it never raises.

"Global" is checked as: every unit depends on every input position the network reads
(not on the whole input: an unpadded first conv may never read the last row)."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("fvcore")

from netcost.api import load_graph, verify  # noqa: E402
from netcost.core.rf import RF  # noqa: E402
from netcost.counted import receptive  # noqa: E402
from netcost.counted.receptive import MAX_PROBE, checkpoints, measure, read_region  # noqa: E402

SPECS = Path(__file__).parent / "specs"
SQUEEZENET = SPECS / "squeezenet1_0.yaml"
IRV2 = "inception_resnet_v2"  # bundled: timm's, with its valid-padded stem and 40 residual blocks
VIT = SPECS / "vit_like.yaml"


def test_squeezenet1_0_is_torchvisions():
    """torchvision.models.squeezenet1_0 has 1,248,424 parameters; by hand: conv1
    3*96*49 + 96, Fire(in, s, e1, e3) = in*s + s + s*e1 + e1 + 9*s*e3 + e3, conv10
    512*1000 + 1000."""
    fires = [(96, 16, 64, 64), (128, 16, 64, 64), (128, 32, 128, 128), (256, 32, 128, 128)]
    fires += [(256, 48, 192, 192), (384, 48, 192, 192), (384, 64, 256, 256), (512, 64, 256, 256)]
    by_hand = 3 * 96 * 49 + 96 + sum(i * s + s + s * a + a + 9 * s * b + b for i, s, a, b in fires) + 513_000
    graph = load_graph(SQUEEZENET)
    from netcost.analysis import analyze_graph

    assert analyze_graph(graph).totals["params"] == by_hand == 1_248_424


def test_an_exact_squeezenet_passes_verify():
    report = verify(str(SQUEEZENET), memory=False)
    assert report.passed, report.mismatches
    last = report.fields[-1]
    assert last.node == "avgpool" and last.analytic is None and last.ok
    # its 7x7/2 unpadded conv1 reads rows 0..222 of 224: the classifier depends on all of those
    assert last.measured == last.reads == (223, 223) and last.input_size == (224, 224)


def test_the_region_a_network_reads_by_hand():
    graph = load_graph(SQUEEZENET)
    # conv1 7x7/2 no pad: 109 outputs read 0 .. 108*2 + 6 = 222; the ceil_mode pools'
    # overhanging windows read nothing beyond the map
    assert read_region(graph, "avgpool") == ((0, 222), (0, 222))
    assert read_region(graph, "relu1") == ((0, 222), (0, 222))


def test_a_false_global_claim_fails(spec_file, monkeypatch):
    """The check can fail: a local 5x5 field claimed global is caught by the gradients."""
    path = spec_file(
        """
        input: [1, 16, 16]
        layers:
          - conv: {name: a, out: 2, k: 3, pad: 1}
          - conv: {name: b, out: 2, k: 3, pad: 1}
        """
    )
    graph = load_graph(path)
    honest = receptive.receptive_fields

    def lying(g):
        fields = honest(g)
        return {**fields, "b": RF.whole()}

    monkeypatch.setattr(receptive, "receptive_fields", lying)
    check = measure(graph, "b")
    assert check.ok is False and check.measured == (5, 5) and check.reads == (16, 16)


def test_a_deep_multi_branch_stack_verifies():
    """Residual sums of concatenations (narrowed, their widths differ) used to make every
    probe size fail: "no input size up to 356 holds the field of norm"."""
    report = verify(str(VIT), memory=False)
    assert report.passed, report.mismatches
    fields = {f.node: f for f in report.fields}
    assert fields["norm"].measured == fields["norm"].analytic == (272, 272)  # 16 + 8 blocks x 2 x 16
    assert fields["pool"].ok and fields["pool"].measured == (224, 224)


def test_inception_resnet_v2_fields_are_measured_or_compared_clipped():
    graph = load_graph(IRV2)
    exact = measure(graph, "mixed_6a.branch1.1.bn_act")  # crashed before: "no input size up to 451"
    assert exact.ok and exact.measured == exact.analytic == (399, 399) and exact.note is None
    wide = measure(graph, "mixed_7a.branch2.1.bn_act")
    assert wide.analytic == (2367, 2367) and wide.analytic[0] > MAX_PROBE
    assert wide.ok and wide.measured == (299, 299) and "clipped" in wide.note


@pytest.mark.slow
def test_inception_resnet_v2_verifies():
    report = verify(IRV2, memory=False)
    assert report.passed, report.mismatches
    assert [f.node for f in report.fields] == checkpoints(load_graph(IRV2))


def test_a_field_that_cannot_be_measured_is_a_note_not_a_failure(monkeypatch):
    def broken(*args):
        raise RuntimeError("out of memory\nmore")

    monkeypatch.setattr(receptive, "_gradients", broken)
    report = verify("lenet5", memory=False)
    assert report.passed and report.fields
    assert all(f.ok is None and f.note == "not measured: RuntimeError: out of memory" for f in report.fields)
    assert all("note" in f for f in report.to_dict()["receptive_fields"])


def test_choosing_the_checkpoints_cannot_stop_verify(monkeypatch):
    from netcost.counted import verify as verify_module

    def broken(graph):
        raise ValueError("boom")

    monkeypatch.setattr(verify_module, "checkpoints", broken)
    report = verify("lenet5", memory=False)
    assert report.passed and report.fields == []
    assert report.notes[-1] == "receptive fields not measured: ValueError: boom"
