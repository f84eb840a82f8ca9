"""Model sources: one place resolves a model argument; every API function takes any source
and the option records (netcost.options) as well as keywords."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import netcost
from netcost.errors import NetcostError
from netcost.options import AnalyzeOptions, OptionError, ProfileOptions, TrainOptions
from netcost.sources.base import NoGraph
from netcost.sources.resolve import source_of
from netcost.sources.spec import GraphSource, SpecSource
from netcost.sources.torch_model import TorchSource, is_torch_module
from netcost.zoo import bundled

HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="needs torch")

# torchvision resnet18 at 3x224x224: 11,689,512 params; conv+linear MACs 1,814,073,344
RESNET18_PARAMS, RESNET18_MACS = 11_689_512, 1_814_073_344


@pytest.mark.parametrize(
    ("model", "kind"),
    [
        ("resnet18", SpecSource),
        (str(bundled()["resnet18"]), SpecSource),
        (bundled()["resnet18"], SpecSource),
        ("conv(8,k=3) > relu", SpecSource),
        ("tests.counted.inputnets:encoder", TorchSource),
        ("no_such_model", SpecSource),  # whose loader says what is wrong
    ],
)
def test_text_and_paths_resolve_once(model, kind):
    assert type(source_of(model)) is kind


def test_parsed_specs_graphs_and_sources_resolve():
    spec = netcost.load_spec("resnet18")
    graph = netcost.load_graph("resnet18")
    assert type(source_of(spec)) is SpecSource
    assert type(source_of(graph)) is GraphSource
    source = source_of("resnet18")
    assert source_of(source) is source


def test_a_file_whose_name_looks_like_a_callable_is_a_spec(tmp_path, monkeypatch):
    """``pkg:fn`` that names an existing file is that file (the file system wins)."""
    monkeypatch.chdir(tmp_path)
    Path("my:net").write_text(bundled()["lenet5"].read_text())
    assert type(source_of("my:net")) is SpecSource


@pytest.mark.parametrize("value", [42, 1.5, None, ["resnet18"], object()])
def test_anything_else_is_an_option_error(value):
    with pytest.raises(OptionError, match="model: expected"):
        source_of(value)


def test_an_unknown_name_is_refused_with_a_hint():
    with pytest.raises(NetcostError, match="unknown model 'resnet81'") as exc:
        netcost.analyze("resnet81")
    assert "resnet18" in str(exc.value)


def test_options_record_equals_its_keywords():
    by_keywords = netcost.analyze("resnet18", input_shape="3x160x160", batch=2, dtype="fp16")
    by_record = netcost.analyze("resnet18", options=AnalyzeOptions(input_shape="3x160x160", batch=2, dtype="fp16"))
    assert by_record.totals == by_keywords.totals
    assert by_record.totals["params"] == RESNET18_PARAMS


def test_options_and_keywords_both_given_is_an_error():
    with pytest.raises(OptionError, match="one way"):
        netcost.analyze("resnet18", batch=2, options=AnalyzeOptions())
    with pytest.raises(OptionError, match="options: expected AnalyzeOptions"):
        netcost.analyze("resnet18", options={"batch": 2})


def test_a_graph_is_analysed_as_it_is():
    graph = netcost.load_graph("resnet18")
    assert netcost.analyze(graph).totals["macs"] == RESNET18_MACS
    with pytest.raises(OptionError, match="already expanded"):
        netcost.analyze(graph, {"classes": 10})
    with pytest.raises(OptionError, match="already expanded"):
        netcost.analyze(graph, input_shape="3x160x160")


def test_check_takes_budgets_as_keywords():
    assert netcost.check("resnet18", max_macs="2G").passed
    over = netcost.check("resnet18", max_macs="1G", max_params="12M")
    assert not over.passed
    with pytest.raises(OptionError, match="unexpected keyword"):
        netcost.check("resnet18", macs="1G")


def test_compare_takes_any_sources():
    """conv(256,k=3) against dwsep(256,k=3) on 256x56x56; inline odd kernels are padded to
    keep the size, so per output position the MACs are 3*3*256*256 = 589,824 (conv) and
    3*3*256 + 256*256 = 67,840 (depthwise then pointwise)."""
    doc = netcost.compare(["conv(256,k=3)", "dwsep(256,k=3)"], input_shape="256x56x56")
    first, second = doc["models"]
    assert second["ratio_to_first"]["macs"] == pytest.approx(67_840 / 589_824)
    assert first["totals"]["macs"] == 589_824 * 56 * 56
    assert second["totals"]["macs"] == 67_840 * 56 * 56
    with pytest.raises(OptionError, match="at least two"):
        netcost.compare(["resnet18"])


def test_train_options_travel_as_one_record():
    train = TrainOptions(optimizer="adam")
    report = netcost.analyze("resnet18", train=train)
    # torch.optim.Adam keeps two fp32 moments per parameter (exp_avg, exp_avg_sq) and a
    # 4-byte ``step`` per tensor: resnet18 has 62 (20 convs, 20 BatchNorms x 2, fc x 2)
    assert report.train["optimizer_state_bytes"] == 2 * 4 * RESNET18_PARAMS + 4 * 62


def test_profile_options_are_checked_at_the_boundary():
    with pytest.raises(OptionError, match="batch"):
        ProfileOptions(batches=(0,))
    with pytest.raises(NetcostError, match="dtype"):
        ProfileOptions(dtypes=("fp8",))
    with pytest.raises(OptionError, match="min_run_time"):
        ProfileOptions(min_run_time=0)
    assert ProfileOptions(batches=4, dtypes="fp32,fp16").dtypes == ("fp32", "fp16")


def test_is_torch_module_needs_no_torch():
    assert not is_torch_module("resnet18")
    assert not is_torch_module(netcost.load_graph("resnet18"))


@needs_torch
def test_an_nn_module_is_a_source():
    """A module the caller holds: counted where it lives, by the inputs given. TwoInputs:
    8 -> 4 and 6 -> 4 linears without bias, summed: 8*4 + 6*4 = 56 MACs per sample."""
    from tests.counted.inputnets import TwoInputs

    model = TwoInputs()
    assert is_torch_module(model)
    report = netcost.analyze(model, inputs=["8", "context=6"], batch=3)
    assert report.totals["macs"] == 3 * 56
    assert report.totals["params"] == 8 * 4 + 6 * 4
    with pytest.raises(NetcostError, match="needs an input"):
        netcost.analyze(model)
    with pytest.raises(NetcostError, match="takes no variables"):
        netcost.analyze(model, {"width": 2}, inputs=["8", "context=6"])


@needs_torch
def test_count_model_is_exported():
    from tests.counted.inputnets import TwoInputs

    report = netcost.count_model(TwoInputs(), inputs=["8", "context=6"], device="cpu")
    assert report.totals["macs"] == 56


@needs_torch
def test_a_torch_model_is_captured_into_a_graph():
    """The encoder's graph is its module calls, named by their paths; an LSTM has none
    (netcost's Graph has no recurrent op) and says why."""
    graph = netcost.load_graph("tests.counted.inputnets:encoder", input_shape=16)
    names = [n.name for n in graph.nodes]
    assert names[0] == "embed" and names[-1] == "head"
    with pytest.raises(NoGraph, match="recurrent"):
        netcost.load_graph("tests.counted.inputnets:lstm", input_shape=(50, 128))
    # the encoder's forward: embedding (no MACs), the encoder layer, a 32 -> 10 head
    assert netcost.verify("tests.counted.inputnets:encoder", inputs=["16:int64"]).passed
