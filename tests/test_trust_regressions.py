"""Issue #10 ("Trust: no input can crash netcost, print an impossible number, or fool the
budget gate"): one test per example of the issue, and the further cases of the same classes
found by the fuzz suite (tests/fuzz/, marked "beyond #10" below).

Each test asserts either the right number, with its arithmetic written out, or exit 2 with a
plain message (and, for a spec file, its ``file:line:col``). The contract (tests/fuzz/support.py):
0 measured and within budget; 1 only a measured failure; 2 every error, user code included;
never a traceback, never a hang.
"""

from __future__ import annotations

import json
import re
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from tests.fuzz.support import (
    REPO,
    assert_analyze_contract,
    assert_check_contract,
    assert_error,
    assert_located,
    assert_no_crash,
    invoke,
    run_process,
    strict_json,
)

SQUEEZENET = Path(__file__).parent / "fuzz" / "data" / "squeezenet1_0.yaml"


def write_spec(tmp_path: Path, text: str, name: str = "net.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def line_of(path: Path, marker: str) -> int:
    """1-based line of the first line containing ``marker``."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if marker in line:
            return number
    raise AssertionError(f"{marker!r} not in {path}")


def analyze_json(*args):
    out = invoke("analyze", *args, "--format", "json")
    doc = assert_analyze_contract(out)
    assert doc is not None, f"expected success: {out!r}"
    return doc


# --- user torch models that misbehave ----------------------------------------------------

USER_MODEL = """
import sys
import torch
from torch import nn

WHERE = {where!r}
ACTION = {action!r}


def act():
    if ACTION == "keyboard":
        raise KeyboardInterrupt
    if ACTION == "raise":
        raise ValueError("user code failed")
    if ACTION == "print":
        print("USER-PRINT")
        return
    if ACTION == "fdprint":
        import os
        os.write(1, b"USER-FD-PRINT\\n")
        return
    sys.exit(ACTION)


if WHERE == "import":
    act()


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3 * 8 * 8, 10)

    def forward(self, x):
        if WHERE == "forward":
            act()
        return self.fc(x.flatten(1))


def model():
    if WHERE == "factory":
        act()
    return Net()
"""


@pytest.fixture
def user_model(tmp_path, monkeypatch):
    """``user_model(where, action)`` -> "module:model" of a fresh module on sys.path whose
    code does ``action`` (an exit code for sys.exit, "keyboard", "raise", "print", "fdprint")
    at import, in the factory or in forward."""
    pytest.importorskip("torch")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    names = []

    def make(where: str, action) -> str:
        name = f"usermodel_{uuid.uuid4().hex[:10]}"
        (tmp_path / f"{name}.py").write_text(USER_MODEL.format(where=where, action=action))
        names.append(name)
        return f"{name}:model"

    yield make
    for name in names:
        sys.modules.pop(name, None)


EXIT_ACTIONS = [0, 1, 3, "bye", None]


@pytest.mark.parametrize("where", ["import", "factory", "forward"])
@pytest.mark.parametrize("action", EXIT_ACTIONS, ids=lambda a: f"sys.exit({a!r})")
def test_gate_does_not_pass_when_user_code_exits(user_model, where, action):
    """#10: `check tm:exits0 --max-params 1` exited 0 with no output (sys.exit(0) at import,
    in the factory or in forward); sys.exit("bye") exited 1, sys.exit(3) exited 3."""
    model = user_model(where, action)
    out = invoke("check", model, "--input", "3x8x8", "--max-params", "1")
    assert_error(out)


@pytest.mark.parametrize("command", ["analyze", "compare"])
@pytest.mark.parametrize("action", [0, "bye", "raise"])
def test_user_code_errors_are_exit_2_on_every_command(user_model, command, action):
    model = user_model("forward", action)
    models = [model, model] if command == "compare" else [model]
    out = invoke(command, *models, "--input", "3x8x8")
    assert_error(out)


@pytest.mark.parametrize("where", ["import", "forward"])
def test_sys_exit_0_in_a_real_process_is_exit_2(user_model, where):
    model = user_model(where, 0)
    out = run_process("check", model, "--input", "3x8x8", "--max-params", "1", timeout=60)
    assert_error(out)


@pytest.mark.parametrize("where", ["factory", "forward"])
def test_keyboard_interrupt_raised_by_user_code_is_exit_2(user_model, where):
    """#10: a KeyboardInterrupt raised by user code exited 130."""
    model = user_model(where, "keyboard")
    out = run_process("check", model, "--input", "3x8x8", "--max-params", "1", timeout=60)
    assert_error(out)


def test_a_passing_user_model_still_passes(user_model):
    """The control case: the same module without misbehaviour passes its gate.
    Linear(3*8*8 -> 10): params = 192 * 10 + 10 = 1,930."""
    model = user_model("nowhere", 0)
    out = invoke("check", model, "--input", "3x8x8", "--max-params", "1930", "--format", "json")
    doc = assert_check_contract(out)
    assert out.code == 0 and doc["results"][0]["actual"] == 192 * 10 + 10


# --- check --train equals analyze --train -------------------------------------------------

TRAIN_BUDGETS = {
    "--max-train-memory-bytes": "peak_train_bytes",
    "--max-train-step-flops": "step_flops",
    "--max-backward-flops": "backward_flops",
    "--max-grad-bytes": "grad_bytes",
    "--max-optimizer-state-bytes": "optimizer_state_bytes",
    "--max-saved-activation-bytes": "saved_activation_bytes",
}


def check_train_actuals(model: str, *options: str) -> dict:
    budgets = [a for flag in TRAIN_BUDGETS for a in (flag, "1000T")]
    out = invoke("check", model, "--train", *options, *budgets, "--format", "json")
    doc = assert_check_contract(out)
    assert doc is not None, f"{out!r}"
    metric = {flag.removeprefix("--max-").replace("-", "_"): key for flag, key in TRAIN_BUDGETS.items()}
    return {metric[row["metric"]]: row["actual"] for row in doc["results"]}


def test_check_train_resnet50_adamw_numbers():
    """#10: `check resnet50 --train --optimizer adamw --batch 32` reported optimizer state 0
    and 2,885,637,608 bytes; the right figures (analyze, and verify --train measured them):
    AdamW keeps two fp32 buffers per parameter plus a 4-byte step per tensor:
    2 x 4 x 25,557,032 + 4 x 161 tensors = 204,456,256 + 644 = 204,456,900 bytes; peak of the
    step 3,090,094,508 bytes (--train-device cpu, README)."""
    options = ("--optimizer", "adamw", "--batch", "32", "--train-device", "cpu")
    actual = check_train_actuals("resnet50", *options)
    assert actual["optimizer_state_bytes"] == 2 * 4 * 25_557_032 + 4 * 161 == 204_456_900
    assert actual["peak_train_bytes"] == 3_090_094_508
    train = analyze_json("resnet50", "--train", *options)["train"]
    assert actual == {key: train[key] for key in actual}


@pytest.mark.parametrize(
    "options",
    [
        ("--optimizer", "adamw", "--batch", "4"),
        ("--optimizer", "sgd", "--momentum", "0.9"),
        ("--optimizer", "rmsprop_centered"),
        ("--optimizer", "amsgrad", "--train-device", "cpu"),
        ("--amp",),
        ("--freeze", "layer1", "--freeze", "conv1"),
        ("--batch", "8", "--dtype", "fp16"),
    ],
    ids=" ".join,
)
def test_check_train_equals_analyze_train(options):
    actual = check_train_actuals("resnet18", *options)
    train = analyze_json("resnet18", "--train", *options)["train"]
    assert actual == {key: train[key] for key in actual}


def test_check_train_options_change_the_result():
    """Not just equal to analyze: the options are not ignored (SGD has no state; AdamW
    2 x 4 x 11,689,512 + 4 x 62 tensors = 93,516,344 bytes)."""
    sgd = check_train_actuals("resnet18")
    adamw = check_train_actuals("resnet18", "--optimizer", "adamw")
    assert sgd["optimizer_state_bytes"] == 0
    assert adamw["optimizer_state_bytes"] == 2 * 4 * 11_689_512 + 4 * 62


def test_check_train_from_config_equals_analyze(tmp_path):
    config = tmp_path / "pyproject.toml"
    config.write_text(
        '[[tool.netcost.models]]\nmodel = "resnet18"\ntrain = true\noptimizer = "adamw"\nbatch = 4\n'
        'freeze = ["layer1"]\nmax-train-memory-bytes = "1000T"\nmax-optimizer-state-bytes = "1000T"\n'
    )
    out = invoke("check", "--config", config, "--format", "json")
    doc = assert_check_contract(out)
    assert doc is not None
    train = analyze_json("resnet18", "--train", "--optimizer", "adamw", "--batch", "4", "--freeze", "layer1")["train"]
    rows = {row["metric"]: row["actual"] for row in doc["results"]}
    assert rows == {
        "train_memory_bytes": train["peak_train_bytes"],
        "optimizer_state_bytes": train["optimizer_state_bytes"],
    }


# --- impossible values ---------------------------------------------------------------------

HEAD = "name: t\ninput: [3, 32, 32]\nlayers:\n  - conv: {out: 8, k: 3, pad: 1}\n"

IMPOSSIBLE_LAYERS = {
    # from the issue
    "conv k 0": "  - conv: {out: 8, k: 0}",
    "conv k [-3, 3]": "  - conv: {out: 8, k: [-3, 3]}",
    "conv dilation 0": "  - conv: {out: 8, k: 3, dilation: 0}",
    "conv stride 0": "  - conv: {out: 8, k: 3, stride: 0}",
    "conv pad same stride 0": "  - conv: {out: 8, k: 3, pad: same, stride: 0}",
    "conv_transpose pad -1": "  - conv_transpose: {out: 8, k: 3, pad: -1}",
    "conv_transpose stride 0": "  - conv_transpose: {out: 8, k: 3, stride: 0}",
    "maxpool stride 0": "  - maxpool: {k: 2, stride: 0}",
    "maxpool k 0": "  - maxpool: {k: 0}",
    "avgpool stride 0": "  - avgpool: {k: 2, stride: 0}",
    "subsample stride 0": "  - subsample: {stride: 0}",
    "upsample scale -2": "  - upsample: {scale: -2}",
    "upsample scale 0": "  - upsample: {scale: 0}",
    "repeat n -3": "  - repeat: {n: -3, layers: [relu]}",
    # beyond #10 (same class)
    "conv out 0": "  - conv: {out: 0, k: 3}",
    "conv out -8": "  - conv: {out: -8, k: 3}",
    "conv groups 0": "  - conv: {out: 8, k: 3, groups: 0}",
    "conv groups -1": "  - conv: {out: 8, k: 3, groups: -1}",
    "conv pad -1": "  - conv: {out: 8, k: 3, pad: -1}",
    "conv kernel larger than the input": "  - conv: {out: 8, k: 64}",
    "conv stride 2.5": "  - conv: {out: 8, k: 3, stride: 2.5}",
    "maxpool k -2": "  - maxpool: {k: -2}",
    "maxpool dilation 0": "  - maxpool: {k: 2, dilation: 0}",
    "gap out 0": "  - gap: {out: 0}",
    "adaptive_avgpool out 0": "  - adaptive_avgpool: {out: 0}",
    "adaptive_avgpool out -4": "  - adaptive_avgpool: {out: -4}",
    "crop h -1": "  - crop: {h: -1, w: 4}",
    "crop larger than the input": "  - crop: {h: 64, w: 64}",
    "groupnorm groups 0": "  - groupnorm: {groups: 0}",
    "lrn size 0": "  - lrn: {size: 0}",
    "dropout p 2": "  - dropout: {p: 2}",
    "upsample scale [2, -1]": "  - upsample: {scale: [2, -1]}",
    "sparse_conv table out of range": "  - sparse_conv: {out: 2, k: 3, table: '0 9 | 1'}",
    "repeat n 2.5": "  - repeat: {n: 2.5, layers: [relu]}",
    "repeat n 'x'": "  - repeat: {n: x, layers: [relu]}",
}


@pytest.mark.parametrize("layer", IMPOSSIBLE_LAYERS.values(), ids=IMPOSSIBLE_LAYERS.keys())
def test_impossible_layer_values_are_located_errors(tmp_path, layer):
    """#10: `k: 0`, `k: [-3, 3]` (params -208), dilation 0, `upsample: {scale: -2}` (shape -64),
    negative transposed-conv padding, `repeat: {n: -3}` (silently nothing), stride 0 in conv,
    pool, subsample and transposed conv (ZeroDivisionError), ... -> exit 2 at the line."""
    spec = write_spec(tmp_path, HEAD + layer + "\n  - relu\n")
    out = invoke("analyze", spec, "--format", "json")
    assert_error(out, file=spec, line=5)


@pytest.mark.parametrize("out", [-5, 0])
def test_linear_out_not_positive(tmp_path, out):
    """#10: `linear: {out: -5}` was accepted (params = 8*32*32*(-5) + (-5)); `out: 0` gives a
    [N, 0] output (found by the fuzz suite)."""
    spec = write_spec(tmp_path, HEAD + f"  - flatten\n  - linear: {{out: {out}}}\n")
    assert_error(invoke("analyze", spec, "--format", "json"), file=spec, line=6)


def test_set_classes_negative():
    """#10: `analyze resnet18 --set classes=-5` printed fc params -2,565 (= 512*(-5) + (-5))."""
    out = invoke("analyze", "resnet18", "--set", "classes=-5", "--format", "json")
    assert_error(out, "classes")


@pytest.mark.parametrize("value", ["0", "-1", "2.5", "abc", "true", "10**30"])
def test_set_classes_outside_its_domain(value):
    out = invoke("analyze", "resnet18", "--set", f"classes={value}", "--format", "json")
    assert_error(out, "classes")


def test_set_classes_right_number():
    """The control: --set classes=10 gives fc params 512 * 10 + 10 = 5,130, so the total is
    11,689,512 - 513,000 + 5,130 = 11,181,642."""
    doc = analyze_json("resnet18", "--set", "classes=10")
    assert doc["totals"]["params"] == 11_689_512 - (512 * 1000 + 1000) + (512 * 10 + 10) == 11_181_642


def test_set_string_variable_to_an_unknown_choice():
    """#10: `regnet_x_400mf --set rounding=torchvison` silently gave pycls rounding (398 M MACs
    instead of 414 M)."""
    out = invoke("analyze", "regnet_x_400mf", "--set", "rounding=torchvison", "--format", "json")
    assert_error(out, "rounding")
    assert analyze_json("regnet_x_400mf", "--set", "rounding=torchvision")["totals"]["macs"] == 413_812_608


def test_set_unknown_variable_is_an_error():
    assert_error(invoke("analyze", "resnet18", "--set", "clases=10"), "clases")


@pytest.mark.parametrize(
    "text",
    ["conv(64,k=3,k=5)", "conv(64,k=3,p=1,pad=2)", "conv(64,3,k=5)", "conv(64,k=3,stride=2,s=1)"],
)
def test_inline_duplicate_keyword_is_an_error(text):
    """#10: inline `conv(64,k=3,k=5)` silently used k=5."""
    assert_error(invoke("analyze", text, "--format", "json"))


def test_inline_single_keyword_right_number():
    """`conv(64,k=5)` on 3x32x32: params = 64*3*5*5 + 64 = 4,864."""
    assert analyze_json("conv(64,k=5)", "--input", "3x32x32")["totals"]["params"] == 64 * 3 * 5 * 5 + 64


@pytest.mark.parametrize("shape", ["0x32x32", "3x0x32", "3x-1x32", "3x32x32x32", "x", "3x1e9x1e9"])
def test_bad_input_shapes(shape):
    assert_error(invoke("analyze", "resnet18", "--input", shape))


@pytest.mark.parametrize("shape", ["[0, 32, 32]", "[3, -32, 32]", "[3, 32, x]", "5"])
def test_bad_spec_input(tmp_path, shape):
    """beyond #10: the spec's own `input` with a zero, negative or non-integer size."""
    spec = write_spec(tmp_path, f"name: t\ninput: {shape}\nlayers:\n  - conv: {{out: 8, k: 1}}\n")
    assert_error(invoke("analyze", spec, "--format", "json"), file=spec, line=2)


def test_spec_input_missing_a_size(tmp_path):
    """Two sizes are a token sequence [L, C] (issue 13): a conv on it is refused at the conv,
    and the message says how a map is written."""
    spec = write_spec(tmp_path, "name: t\ninput: [3, 32]\nlayers:\n  - conv: {out: 8, k: 1}\n")
    assert_error(invoke("analyze", spec, "--format", "json"), "CxHxW", "[C, H, W]", file=spec, line=4)


@pytest.mark.parametrize("batch", ["0", "-1", "2.5", "abc"])
def test_bad_batch(batch):
    assert_error(invoke("analyze", "resnet18", "--batch", batch))


# --- config, baselines, units: check must not misreport bad input as over budget -----------

CONFIG_MODEL = '[[tool.netcost.models]]\nmodel = "lenet5"\nmax-params = "1M"\n'


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ('batch = "abc"', "batch"),
        ("batch = 2.7", "batch"),
        ("batch = 0", "batch"),
        ("batch = -1", "batch"),
        ("batch = true", "batch"),
        ('allow-partial = "no"', "allow-partial"),
        ("allow-partial = 1", "allow-partial"),
        ('train = "false"', "train"),
        ('amp = "no"', "amp"),
        ('dtype = "bogus"', "dtype"),
        ("dtype = 4", "dtype"),
        ('convention = "bogus"', "convention"),
        ('optimizer = "bogus"', "optimizer"),
        ('momentum = "x"', "momentum"),
        ("momentum = -1.0", "momentum"),
        ('train-device = "tpu"', "train-device"),
        ('input = "abc"', "input"),
        ('input = "3x0x32"', "input"),
        ("input = 5.5", "input"),
        ("set = 5", "set"),
        ("set = { classes = [1, 2] }", "classes"),
        ("freeze = 5", "freeze"),
        ('max-params = "nan"', "max-params"),
        ("max-params = true", "max-params"),
        ('max-params = "1e400"', "max-params"),
        ("model = 5", "model"),
    ],
)
def test_config_values_are_type_checked(tmp_path, line, key):
    """#10: `batch = "abc"`, bogus dtype/convention/optimizer: traceback, exit 1;
    `allow-partial = "no"` and `train = "false"` read as true, `batch = 2.7` as 2."""
    config = tmp_path / "pyproject.toml"
    replaced = next((old for old in ('model = "lenet5"', 'max-params = "1M"') if line.startswith(old.split()[0])), None)
    config.write_text(CONFIG_MODEL.replace(replaced, line) if replaced else CONFIG_MODEL + line + "\n")
    out = invoke("check", "--config", config, "--format", "json")
    assert_error(out, key)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("tool = 5\n", "tool"),
        ("[tool]\nnetcost = 5\n", "netcost"),
        ("[tool.netcost]\nmodels = 5\n", "models"),
        ("[tool.netcost]\nmodels = [5]\n", "models"),
        ("[tool.netcost]\nbaseline = 5\nmax-increase = '5%'\n" + CONFIG_MODEL, "baseline"),
        ('[tool.netcost]\nmax-increase = "abc"\n' + CONFIG_MODEL, "max-increase"),
        ('[tool.netcost]\nmax-increase = "inf"\nbaseline = "{tmp}/b.json"\n' + CONFIG_MODEL, "max-increase"),
        ('[tool.netcost]\nmax-increase = "nan%"\nbaseline = "{tmp}/b.json"\n' + CONFIG_MODEL, "max-increase"),
        ("[[tool.netcost.models]]\nmax-params = '1M'\n", "model"),
        ("not toml at all = = =\n", "pyproject.toml"),
    ],
)
def test_config_structure_errors(tmp_path, text, fragment):
    config = tmp_path / "pyproject.toml"
    (tmp_path / "b.json").write_text(json.dumps({"model": "lenet5", "totals": {"params": 60000}}))
    config.write_text(text.replace("{tmp}", str(tmp_path)))
    assert_error(invoke("check", "--config", config), fragment)


def test_config_not_utf8(tmp_path):
    config = tmp_path / "pyproject.toml"
    config.write_bytes(b"[tool.netcost]\n# \xff\xfe\n" + CONFIG_MODEL.encode())
    assert_error(invoke("check", "--config", config), "pyproject.toml")


def test_config_is_a_directory(tmp_path):
    assert_error(invoke("check", "--config", tmp_path), str(tmp_path.name))


@pytest.mark.parametrize(("line", "passes"), [("allow-partial = false", True), ("train = false", True)])
def test_config_real_booleans_still_work(tmp_path, line, passes):
    config = tmp_path / "pyproject.toml"
    config.write_text(CONFIG_MODEL + line + "\n")
    out = invoke("check", "--config", config, "--format", "json")
    assert_check_contract(out)
    assert (out.code == 0) is passes


def test_config_batch_integer_is_used(tmp_path):
    """`batch = 3`: lenet5 MACs 326,520 per sample -> 979,560; a 979,560 budget passes."""
    config = tmp_path / "pyproject.toml"
    config.write_text('[[tool.netcost.models]]\nmodel = "lenet5"\nbatch = 3\nmax-macs = "979560"\n')
    out = invoke("check", "--config", config, "--format", "json")
    doc = assert_check_contract(out)
    assert out.code == 0 and doc["results"][0]["actual"] == 3 * 326_520


def baseline_file(tmp_path: Path, doc) -> Path:
    path = tmp_path / "baseline.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


@pytest.mark.parametrize(
    "doc",
    [
        {"totals": {"params": 60000}},  # no model
        {"model": "lenet5", "totals": {"params": "60000"}},  # string totals
        '{"model": "lenet5", "totals": {"params": NaN}}',
        '{"model": "lenet5", "totals": {"params": Infinity}}',
        {"model": "lenet5", "totals": {"params": -5}},
        {"model": "lenet5", "totals": [1, 2]},
        {"model": "lenet5", "totals": 5},
        {"model": ["lenet5"], "totals": {"params": 60000}},
        {"models": 5},
        {"models": [5]},
        {"models": [{"model": "lenet5"}]},
        {"results": [{"metric": 5}]},
        {"results": [{"model": "lenet5", "metric": "params"}]},
        {"results": 5},
        [],
        "null",
        '"a string"',
    ],
    ids=repr,
)
def test_bad_baselines_are_exit_2(tmp_path, doc):
    """#10: a baseline without `model` or with string totals: traceback, exit 1; NaN: exit 1."""
    path = baseline_file(tmp_path, doc)
    out = invoke("check", "lenet5", "--max-params", "1M", "--baseline", path, "--max-increase", "5%")
    assert_error(out, "baseline")


def test_baseline_not_utf8_or_directory(tmp_path):
    path = tmp_path / "baseline.json"
    path.write_bytes(b'{"model": "lenet5", "totals": {"params": 1}}\xff')
    assert_error(invoke("check", "lenet5", "--baseline", path, "--max-increase", "5%"), "baseline")
    assert_error(invoke("check", "lenet5", "--baseline", tmp_path, "--max-increase", "5%"), "baseline")


def test_baseline_growth_right_number(tmp_path):
    """lenet5 has 60,000 params; a baseline of 57,000 and --max-increase 5% allows
    57,000 x 1.05 = 59,850 < 60,000: exit 1; 6% allows 60,420: exit 0."""
    path = baseline_file(tmp_path, {"model": "lenet5", "totals": {"params": 57_000}})
    over = invoke("check", "lenet5", "--baseline", path, "--max-increase", "5%", "--format", "json")
    assert_check_contract(over)
    assert over.code == 1
    ok = invoke("check", "lenet5", "--baseline", path, "--max-increase", "6%", "--format", "json")
    assert_check_contract(ok)
    assert ok.code == 0


@pytest.mark.parametrize("value", ["inf", "nan", "-inf", "infinity%", "NaN%", "abc", ""])
def test_max_increase_must_be_finite(tmp_path, value):
    """#10: `--max-increase inf` passed everything."""
    path = baseline_file(tmp_path, {"model": "lenet5", "totals": {"params": 1}})
    assert_error(invoke("check", "lenet5", "--baseline", path, "--max-increase", value))


@pytest.mark.parametrize(
    "value", ["1e400", "nan", "inf", "NaN", "Infinity", "-5", "5%", "", " ", "1.5.5", "1e", "0x10"]
)
def test_budgets_must_be_finite_numbers(value):
    """#10: `--max-params 1e400`: traceback, exit 1."""
    assert_error(invoke("check", "lenet5", "--max-params", value), "max-params")


def test_check_dtype_bogus():
    """#10: `check --dtype bogus`: traceback, exit 1."""
    assert_error(invoke("check", "lenet5", "--max-params", "1M", "--dtype", "bogus"), "dtype")


MACS_41G = ("conv(100,k=1)", "--input", "41x1000x1000")  # MACs = 41 * 100 * 1000 * 1000 = 4.1e9


@pytest.mark.parametrize(
    ("budget", "code"),
    [
        ("4.1G", 0),  # 4,100,000,000 exactly: within
        ("4100000000", 0),
        ("4.1e9", 0),
        ("4100M", 0),
        ("4.099999999G", 1),  # 4,099,999,999: one MAC over
        ("4099999999", 1),
    ],
)
def test_budgets_are_exact_decimals(budget, code):
    """#10: `--max-macs 4.1G` exited 2 ("not a whole number": 4.1e9 as a float)."""
    out = invoke("check", *MACS_41G, "--max-macs", budget, "--format", "json")
    doc = assert_check_contract(out)
    assert doc is not None and doc["results"][0]["actual"] == 41 * 100 * 1000 * 1000
    assert out.code == code, f"{out!r}"


def test_budget_beyond_float_precision():
    """Budgets above 2**53 stay exact (a float would round them to even numbers).
    flatten > linear(2**22) on a 1x46341x46341 input: 46341**2 = 2,147,488,281 features, so
    params = 2,147,488,281 * 4,194,304 + 4,194,304 = 9,007,218,686,951,424 + 4,194,304
    = 9,007,218,691,145,728 (> 2**53)."""
    params = 46341**2 * 2**22 + 2**22
    assert params == 9_007_218_691_145_728 and params > 2**53 and float(params - 1) == float(params)
    model = (f"flatten > linear({2**22})", "--input", "1x46341x46341")
    ok = invoke("check", *model, "--max-params", str(params), "--format", "json")
    doc = assert_check_contract(ok)
    assert ok.code == 0 and doc["results"][0]["actual"] == params
    over = invoke("check", *model, "--max-params", str(params - 1), "--format", "json")
    assert_check_contract(over)
    assert over.code == 1, f"{over!r}"


@pytest.mark.parametrize("metric", ["--max-params", "--max-macs", "--max-param-bytes", "--max-activation-bytes"])
@pytest.mark.parametrize("unit", ["2G", "2GB", "2GiB", "2T", "2M", "2MiB", "2K", "2KiB"])
def test_both_unit_families_on_every_metric(metric, unit):
    out = invoke("check", "lenet5", metric, unit, "--format", "json")
    assert_check_contract(out)
    assert out.code in (0, 1)


@pytest.mark.parametrize(("si", "iec"), [("2gb", "2gib"), ("2Gb", "2Gib"), ("2gB", "2giB"), ("2GB", "2GIB")])
def test_unit_case_rules_are_consistent(si, iec):
    """#10: `2Gib` was refused while `2gb` was accepted. One case rule for both families: a
    spelling is accepted in both (meaning 2 x 10**9 and 2 x 2**30) or refused in both (exit 2)."""
    outs = [invoke("check", "lenet5", "--max-param-bytes", v, "--format", "json") for v in (si, iec)]
    for out in outs:
        assert_check_contract(out)
    accepted = [out.code != 2 for out in outs]
    assert accepted[0] == accepted[1], f"one family accepted, the other refused: {outs!r}"
    if all(accepted):
        budgets = [strict_json(out.stdout)["results"][0]["budget"] for out in outs]
        assert budgets == [2 * 10**9, 2 * 2**30]


@pytest.mark.parametrize("fmt", ["table", "json", "markdown", "junit"])
def test_zero_budget_is_handled(fmt):
    """#10: `--max-macs 0` printed `-inf%` (and `-Infinity` is not JSON)."""
    out = invoke("check", "lenet5", "--max-macs", "0", "--format", fmt)
    assert_no_crash(out, (1,))
    assert "inf" not in out.stdout.lower().replace("info", "")
    if fmt == "json":
        strict_json(out.stdout, out)


def test_zero_budget_zero_actual_passes():
    """A zero budget on a zero total passes: a relu has no parameters."""
    out = invoke("check", "relu()", "--input", "3x8x8", "--max-params", "0", "--format", "json")
    doc = assert_check_contract(out)
    assert out.code == 0 and doc["results"][0]["actual"] == 0


# --- tracebacks ------------------------------------------------------------------------------


def test_stage_stride_0(tmp_path):
    spec = write_spec(
        tmp_path,
        """
        name: t
        input: [3, 32, 32]
        blocks:
          b:
            args: {out: required, stride: 1}
            layers:
              - conv: {out: out, k: 3, stride: stride, pad: 1}
        layers:
          - stage: {block: b, n: 2, out: 8, stride: 0}
        """,
    )
    assert_error(invoke("analyze", spec, "--format", "json"), file=spec)


def test_tab_indented_yaml(tmp_path):
    spec = tmp_path / "net.yaml"
    spec.write_text("name: t\ninput: [3, 32, 32]\nlayers:\n\t- relu\n")
    assert_error(invoke("analyze", spec), file=spec, line=4)


@pytest.mark.parametrize("depth", [200, 5000])
def test_deep_nesting(tmp_path, depth):
    """#10: 5,000-deep nesting: RecursionError."""
    spec = tmp_path / "net.yaml"
    spec.write_text("name: t\ninput: [3, 8, 8]\nlayers: " + "[" * depth + "relu" + "]" * depth + "\n")
    assert_analyze_contract(invoke("analyze", spec, "--format", "json"), spec)


def test_deep_nesting_of_seq(tmp_path):
    inner = "relu"
    for _ in range(3000):
        inner = "{seq: {layers: [" + inner + "]}}"
    spec = tmp_path / "net.yaml"
    spec.write_text("name: t\ninput: [3, 8, 8]\nlayers: [" + inner + "]\n")
    assert_analyze_contract(invoke("analyze", spec, "--format", "json"), spec)


@pytest.mark.parametrize(
    "layer",
    [
        "  - stage: {block: [a], n: 2, out: 8}",
        "  - stage: {block: {a: 1}, n: 2, out: 8}",
        "  - {[conv]: {out: 8, k: 3}}",
        "  - {conv: {out: 8, k: 3}, relu: null}",
        "  - conv: {name: [x], out: 8, k: 3}",
        "  - conv: {name: {x: 1}, out: 8, k: 3}",
        "  - conv: [8, 3]",
        "  - conv: 8",
        "  - 5",
        "  - null",
        "  - [relu, [relu, {conv: {out: 8, k: 3}}]]",
        "  - parallel: {merge: [add], branches: [[relu], [relu]]}",
        "  - parallel: {merge: add, branches: 5}",
        "  - parallel: {merge: add, branches: []}",
        "  - repeat: {n: 2, layers: relu}",
        "  - repeat: {n: 2, layers: [relu], var: [i]}",
        "  - conv: {out: 8, k: 3, pad: {a: 1}}",
        "  - conv: {out: 8, k: 3, bias: [true]}",
        "  - upsample: {mode: [nearest]}",
    ],
    ids=lambda layer: layer.strip().removeprefix("- "),
)
def test_wrong_types_where_a_name_or_value_is_expected(tmp_path, layer):
    """#10: `stage: {block: [a]}` and list/dict values where a name is expected (unhashable)."""
    spec = write_spec(
        tmp_path,
        HEAD.replace("layers:", "blocks:\n  a:\n    args: {out: 8}\n    layers: [relu]\nlayers:") + layer + "\n",
    )
    out = invoke("analyze", spec, "--format", "json")
    assert_error(out, file=spec, line=line_of(spec, layer.strip()))


@pytest.mark.parametrize("expr", ["'10**5000'", "'10**30'", "'2**64'"])
def test_huge_channel_counts(tmp_path, expr):
    """#10: `out: '10**5000'` crashed rendering. Either a located limit (exit 2) or the exact
    number: a 1x1 conv on 3 channels to N: params = 3N + N = 4N."""
    spec = write_spec(tmp_path, f"name: t\ninput: [3, 4, 4]\nlayers:\n  - conv: {{out: {expr}, k: 1}}\n")
    for fmt in ("json", "table", "csv", "markdown"):
        out = invoke("analyze", spec, "--format", fmt)
        assert_no_crash(out, (0, 2))
        if out.code == 2:
            assert_located(out, spec, 4)
        elif fmt == "json":
            n = eval(expr.strip("'"))  # the test's own constant, not spec text
            assert strict_json(out.stdout, out)["totals"]["params"] == 4 * n


def test_inline_longer_than_a_file_name():
    """#10: an inline spec over 255 bytes: OSError from Path.exists. 30 convs of 8 channels on
    3x32x32: params = (8*3*9 + 8) + 29 * (8*8*9 + 8) = 224 + 29 * 584 = 17,160."""
    text = " > ".join(["conv(8,k=3)"] * 30)
    assert len(text.encode()) > 255
    doc = analyze_json(text, "--input", "3x32x32")
    assert doc["totals"]["params"] == 224 + 29 * 584 == 17_160


@pytest.mark.parametrize(
    "text",
    [
        "dwsep(k=3)",
        "conv(64,k=[3,3,3])",
        "conv(k=3)",
        "conv(64,k=3,s=0)",
        "conv(64,k=3,bogus=1)",
        "conv(64,k=3",
        "conv(64,k=(3)",
        "conv(64,k=3))",
        "conv(64,k=3) >",
        "> relu",
        "conv(64,k={a: 1})",
        "conv([64],k=3)",
        "conv(64,k=3,p=same,s=0)",
        "maxpool(k=0)",
        "upsample(scale=0)",
        "linear(0)",
        "relu(1)",
        "conv(64,k=3) > linear(-1)",
        "conv(64,k=-3)",
        "conv(64,k=3,d=0)",
        "conv(64,k=3,g=0)",
        "dwsep(64,k=0)",
        "conv(64,k=3,k=5)",
        "conv(" + "(" * 3000 + ")" * 3000 + ")",
    ],
)
def test_bad_inline_specs(text):
    """#10: inline `dwsep(k=3)` (KeyError), `conv(64,k=[3,3,3])` ... -> exit 2."""
    assert_error(invoke("analyze", text, "--input", "3x16x16", "--format", "json"))


def test_device_tpu_on_verify():
    pytest.importorskip("torch")
    assert_error(invoke("verify", "conv(4,k=3)", "--input", "3x8x8", "--device", "tpu"), "tpu")


@pytest.mark.parametrize("args", [("--device", "tpu"), ("--dtype", "bogus"), ("--device", "cuda:99")])
def test_calibrate_bad_arguments(args, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.setenv("NETCOST_CACHE_DIR", str(tmp_path))
    assert_error(invoke("calibrate", *args, seconds=30), args[1].split(":")[0])


def test_calibrate_cuda_without_cuda(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    monkeypatch.setenv("NETCOST_CACHE_DIR", str(tmp_path))
    assert_error(invoke("calibrate", "--device", "cuda"), "cuda")
    assert_error(invoke("profile", "conv(4,k=3)", "--input", "3x8x8", "--device", "cuda"), "cuda")


@pytest.fixture(scope="module")
def calibration_cache(tmp_path_factory):
    """A valid cache written by one real calibration (shared: measuring takes seconds)."""
    pytest.importorskip("torch")
    root = tmp_path_factory.mktemp("cache")
    out = run_process("calibrate", "--format", "json", env={"NETCOST_CACHE_DIR": str(root)}, timeout=120)
    assert out.code == 0, f"{out!r}"
    return json.loads((root / "calibration.json").read_text())


@pytest.fixture(scope="module")
def calibrated_dir(calibration_cache, tmp_path_factory):
    """A cache directory holding a valid calibration (profile --per-layer reads it)."""
    root = tmp_path_factory.mktemp("calibrated")
    (root / "calibration.json").write_text(json.dumps(calibration_cache))
    return root


def _assert_measured(out):
    assert_no_crash(out, (0,))
    doc = strict_json(out.stdout, out)
    assert doc["peak_flop_per_s"] > 0 and doc["bandwidth_bytes_per_s"] > 0
    return doc


def _entries(change):
    """The cache document with ``change`` applied to every entry (schema 2: {"entries": ...})."""
    return lambda doc: {**doc, "entries": {key: change(value) for key, value in doc["entries"].items()}}


@pytest.mark.parametrize(
    "corrupt",
    [
        _entries(lambda value: {"wrong": "schema"}),
        _entries(lambda value: {**value, "peak_flop_per_s": 0}),
        _entries(lambda value: {**value, "bandwidth_bytes_per_s": -1.0}),
        _entries(lambda value: {**value, "peak_flop_per_s": "fast"}),
        _entries(lambda value: 5),
        lambda doc: [1, 2, 3],
        lambda doc: b"\xff\xfe not utf-8",
    ],
    ids=["wrong-schema", "peak-0", "bandwidth-negative", "peak-string", "entry-int", "a-list", "not-utf8"],
)
@pytest.mark.slow  # each case measures again (seconds)
def test_invalid_calibration_cache_is_measured_again(calibration_cache, tmp_path, corrupt):
    """#10: a calibration cache with the wrong schema, non-UTF-8 bytes or peak_flop_per_s: 0
    crashed; it must be validated on read and re-measured."""
    bad = corrupt(calibration_cache)
    path = tmp_path / "calibration.json"
    if isinstance(bad, bytes):
        path.write_bytes(bad)
    else:
        path.write_text(json.dumps(bad))
    out = run_process("calibrate", "--format", "json", env={"NETCOST_CACHE_DIR": str(tmp_path)}, timeout=120)
    doc = _assert_measured(out)
    assert doc["cached"] is False


@pytest.mark.slow
def test_unwritable_cache_keeps_the_measurement(tmp_path):
    """#10: an unwritable cache directory crashed after measuring, losing the measurement."""
    pytest.importorskip("torch")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    out = run_process("calibrate", "--format", "json", env={"NETCOST_CACHE_DIR": str(blocker / "cache")}, timeout=120)
    _assert_measured(out)
    assert out.stderr.strip(), "no warning that the cache was not written"


# --- extends ---------------------------------------------------------------------------------

PARENT = "name: base\ninput: [3, 8, 8]\nvars: {width: 4}\nlayers:\n  - conv: {out: width, k: 1}\n"


def test_extends_a_file_that_is_not_a_spec(tmp_path):
    """#10: `extends:` naming a file outside the spec's folder that is not a spec: ValueError."""
    (tmp_path / "notes.txt").write_text("hello\n")
    (tmp_path / "data.json").write_text('{"a": 1}\n')
    sub = tmp_path / "sub"
    sub.mkdir()
    for target in ("../notes.txt", "../data.json", str(REPO / "pyproject.toml"), "/dev/null", "..", "../"):
        spec = write_spec(sub, f"name: c\nextends: {target}\nvars: {{width: 2}}\n")
        assert_error(invoke("analyze", spec, "--format", "json"), file=spec, line=2)


def test_extends_does_not_fall_back_to_the_current_directory(tmp_path, monkeypatch):
    """#10: a parent not beside the spec was found in the current directory."""
    (tmp_path / "base.yaml").write_text(PARENT)
    sub = tmp_path / "sub"
    sub.mkdir()
    spec = write_spec(sub, "name: c\nextends: base.yaml\nvars: {width: 2}\n")
    monkeypatch.chdir(tmp_path)
    assert_error(invoke("analyze", spec, "--format", "json"), "base", file=spec, line=2)


@pytest.mark.parametrize("parent", ["base", "base.yaml", "./base.yaml"])
def test_extends_a_sibling_with_or_without_suffix(tmp_path, monkeypatch, parent):
    """#10: `extends: base` never found a sibling base.yaml. The child's width 2: a 1x1 conv
    3 -> 2: params = 3*2 + 2 = 8 (the parent's width 4 would give 16)."""
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "base.yaml").write_text(PARENT)
    spec = write_spec(sub, f"name: c\nextends: {parent}\nvars: {{width: 2}}\n")
    monkeypatch.chdir(tmp_path)
    doc = analyze_json(spec)
    assert doc["totals"]["params"] == 3 * 2 + 2


def test_extends_a_bundled_name():
    """regnet_x_400mf extends the bundled regnet; torchvision's 5,495,976 params."""
    assert analyze_json("regnet_x_400mf")["totals"]["params"] == 5_495_976


# --- corrupt output --------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["import", "factory", "forward"])
def test_user_print_does_not_corrupt_json(user_model, where):
    """#10: anything a user's torch model prints went to stdout and broke --format json."""
    model = user_model(where, "print")
    out = invoke("analyze", model, "--input", "3x8x8", "--format", "json")
    doc = assert_analyze_contract(out)
    assert doc is not None and "USER-PRINT" not in out.stdout
    check = invoke("check", model, "--input", "3x8x8", "--max-params", "1M", "--format", "junit")
    assert_no_crash(check, (0,))
    assert "USER-PRINT" not in check.stdout


@pytest.mark.parametrize("action", ["print", "fdprint"])
def test_user_print_does_not_corrupt_json_in_a_process(user_model, action):
    model = user_model("forward", action)
    out = run_process("analyze", model, "--input", "3x8x8", "--format", "json", timeout=60)
    doc = assert_analyze_contract(out)
    assert doc is not None and "USER-" not in out.stdout
    assert "USER-" in out.stderr


def test_ansi_in_names_is_escaped(tmp_path):
    """#10: ANSI escape sequences in layer or model names reached the terminal as they were."""
    spec = write_spec(tmp_path, 'name: "\\e[31mevil\\e[0m"\ninput: [3, 8, 8]\nlayers:\n  - conv: {out: 4, k: 1}\n')
    for command in (("analyze", spec), ("analyze", spec, "--format", "markdown"), ("compare", spec, spec)):
        out = invoke(*command)
        assert_no_crash(out, (0,))
        assert "\x1b" not in out.output, f"{out!r}"
    out = invoke("check", spec, "--max-params", "1")
    assert_no_crash(out, (1,))
    assert "\x1b" not in out.output, f"{out!r}"


def test_ansi_in_layer_names_is_escaped_or_refused(tmp_path):
    spec = write_spec(tmp_path, 'name: t\ninput: [3, 8, 8]\nlayers:\n  - conv: {name: "c\\e[2Jx", out: 4, k: 1}\n')
    for fmt in ("table", "markdown", "csv"):
        out = invoke("analyze", spec, "--format", fmt)
        assert_no_crash(out, (0, 2))
        assert "\x1b" not in out.output, f"{out!r}"
        if out.code == 2:
            assert_located(out, spec, 4)


def test_ansi_in_error_messages_is_escaped(tmp_path):
    spec = write_spec(tmp_path, 'name: t\ninput: [3, 8, 8]\nlayers:\n  - "\\e[31mnotanop"\n')
    out = invoke("analyze", spec)
    assert_error(out, file=spec, line=4)
    out = invoke("analyze", "\x1b[31mnosuchmodel")
    assert_error(out)


@pytest.mark.parametrize("fmt", ["csv", "markdown"])
def test_verify_honours_its_formats(fmt):
    """#10: `verify --format csv` and `--format markdown` printed the rich table. Either the
    format is refused (exit 2) or stdout is that format."""
    pytest.importorskip("torch")
    out = invoke("verify", "conv(4,k=3) > relu", "--input", "3x8x8", "--no-memory", "--format", fmt, seconds=60)
    assert_no_crash(out, (0, 2))
    if out.code == 0:
        lines = [line for line in out.stdout.splitlines() if line.strip()]
        assert lines
        if fmt == "csv":
            import csv

            rows = list(csv.reader(lines))
            assert len(rows[0]) > 1 and all(len(row) == len(rows[0]) for row in rows), out.stdout
        else:
            table = [line for line in lines if line.startswith("|")]
            assert table and table[0].startswith("| layer |") and set(table[1]) <= set("|-: "), out.stdout
            assert not any(ch in out.stdout for ch in "╭│━┃"), out.stdout  # no rich table


@pytest.mark.parametrize("command", ["analyze", "compare", "check", "zoo", "profile"])
def test_every_advertised_format_is_honoured(command):
    """Each command either renders each format it offers, or refuses it at parse time."""
    pytest.importorskip("torch")
    for fmt in ("json", "csv", "markdown", "junit", "html"):
        args = {
            "analyze": ("analyze", "conv(4,k=1)", "--input", "3x4x4"),
            "compare": ("compare", "conv(4,k=1)", "conv(8,k=1)", "--input", "3x4x4"),
            "check": ("check", "conv(4,k=1)", "--input", "3x4x4", "--max-params", "1M"),
            "zoo": ("zoo",),
            "profile": ("profile", "conv(4,k=1)", "--input", "3x4x4", "--min-time", "0.01"),
        }[command]
        out = invoke(*args, "--format", fmt, seconds=60)
        assert_no_crash(out, (0, 2))
        if out.code == 0 and fmt == "json":
            strict_json(out.stdout, out)
        if out.code == 0 and fmt == "csv":
            assert "," in out.stdout.splitlines()[0], f"{fmt}: {out!r}"
        if out.code == 0 and fmt == "markdown":
            assert "|" in out.stdout, f"{fmt}: {out!r}"
        if out.code == 0 and fmt in ("junit", "html"):
            assert out.stdout.lstrip().startswith("<"), f"{fmt}: {out!r}"


def test_error_on_line_100_is_not_an_emoji(tmp_path):
    """#10: an error location on line 100 rendered as `s.yaml💯5` (rich markup :100:)."""
    spec = tmp_path / "s.yaml"
    spec.write_text("name: t\ninput: [3, 8, 8]\n" + "#\n" * 96 + "layers:\n  - bogus_op\n")
    assert line_of(spec, "bogus_op") == 100
    out = invoke("analyze", spec)
    assert_error(out, file=spec, line=100)
    assert "s.yaml:100:" in out.stderr and "💯" not in out.stderr


@pytest.mark.parametrize("line_no", [5, 8, 100, 101, 1000])
def test_error_locations_at_any_line(tmp_path, line_no):
    spec = tmp_path / "s.yaml"
    padding = "#\n" * (line_no - 5)
    spec.write_text(padding + "name: t\ninput: [3, 8, 8]\nlayers:\n  - relu\n  - bogus_op\n")
    if line_no < 5:
        pytest.skip("needs the header above")
    assert_error(invoke("analyze", spec), file=spec, line=line_no)


@pytest.mark.parametrize(
    "text",
    [
        "name: t\ninput: [3, 8, 8]\nlayers:\n  - conv: {out: 8, k: 3, bogus: 1}\n",
        "name: t\ninput: [3, 8, 8]\nlayers:\n  - conv: {out: 8}\n",
        "name: t\ninput: [3, 8, 8]\nbogus: 1\nlayers:\n  - relu\n",
        "name: t\ninput: [3, 8, 8]\nlayers:\n  - conv: {out: 8, k: 3, name: a}\n  - conv: {out: 8, k: 3, name: a}\n",
        "name: t\ninput: [3, 8, 8]\nlayers:\n  - conv: {out: 8, k: 3, groups: 3}\n",
        "name: t\ninput: [3, 8, 8]\nlayers:\n  - parallel: {merge: add, branches: [[conv: {out: 4, k: 1}], []]}\n",
        "name: t\ninput: [3, 8, 8]\nlayers:\n  - conv: {out: 'nope + 1', k: 3}\n",
        "name: t\ninput: [3, 8, 8]\nvars: {a: 1}\nlayers:\n  - conv: {out: 'a / 0', k: 3}\n",
        "name: t\ninput: [3, 8, 8]\nlayers:\n  - stage: {block: nosuch, n: 2}\n",
    ],
    ids=[
        "unknown-field",
        "missing-field",
        "unknown-top-key",
        "duplicate-name",
        "groups",
        "merge-shapes",
        "unknown-var",
        "div-by-zero",
        "unknown-block",
    ],
)
def test_every_spec_error_names_line_and_column(tmp_path, text):
    """#10: some errors carried only a YAML path, no line:col."""
    spec = write_spec(tmp_path, text)
    assert_error(invoke("analyze", spec), file=spec)


# --- hangs -----------------------------------------------------------------------------------

FEW_SECONDS = 10.0  # "a few seconds": generous for a loaded CI machine, far below a hang


def assert_quick(out):
    assert out.seconds < FEW_SECONDS, f"took {out.seconds:.1f} s (a few seconds at most): {out!r}"


HANGS = {
    "two upsamplings of 1000": "  - upsample: {scale: 1000}\n  - upsample: {scale: 1000}",
    "repeat n 100000": "  - repeat: {n: 100000, layers: [relu]}",
    "repeat n 10**9": "  - repeat: {n: 1000000000, layers: [relu]}",
    "nested repeats 1000 x 1000": "  - repeat: {n: 1000, layers: [{repeat: {n: 1000, layers: [relu]}}]}",
    "stage n 10**7": "  - stage: {block: b, n: 10000000}",
    "adaptive_avgpool out 10**8": "  - adaptive_avgpool: {out: 100000000}",
    "upsample scale 100000 between convs": "  - upsample: {scale: 100000}\n  - conv: {out: 4, k: 3, pad: 1}",
    "upsample scale 10**9": "  - upsample: {scale: 1000000000}",
    "huge kernel on a huge map": "  - upsample: {scale: 100000}\n  - conv: {out: 4, k: 99999}",
    "expression power tower": "  - conv: {out: '9**9**9**9', k: 1}",
    "expression huge range": "  - conv: {out: 'sum(range(10**12))', k: 1}",
}


@pytest.mark.parametrize("layer", HANGS.values(), ids=HANGS.keys())
def test_no_hang(tmp_path, layer):
    """#10: `repeat` n >= 100,000, `stage` n = 10**7, `adaptive_avgpool: {out: 100000000}`,
    `upsample: {scale: 100000}` between convs hung past 20 s. Finish fast: a located limit
    (exit 2) or exact, consistent numbers (exit 0)."""
    spec = write_spec(
        tmp_path,
        "name: t\ninput: [3, 8, 8]\nblocks:\n  b:\n    layers: [relu]\nlayers:\n"
        "  - conv: {out: 4, k: 3, pad: 1}\n" + layer + "\n",
    )
    out = run_process("analyze", spec, "--format", "json", timeout=20)
    assert_analyze_contract(out, spec if out.code else None)
    assert_quick(out)


def test_no_hang_efficientnet_phi_100():
    out = run_process("analyze", "efficientnet_b0", "--set", "phi=100", "--format", "json", timeout=20)
    assert_analyze_contract(out)
    assert_quick(out)


def test_yaml_alias_bomb(tmp_path):
    """#10: a small YAML alias bomb whose anchors sit under `notes:` hung."""
    lines = ["name: t", "input: [3, 8, 8]", "notes:", "  a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        lines.append(f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    lines += ["layers:", "  - relu"]
    spec = tmp_path / "net.yaml"
    spec.write_text("\n".join(lines) + "\n")
    out = run_process("analyze", spec, "--format", "json", timeout=20)
    assert_analyze_contract(out, spec if out.code else None)
    assert_quick(out)


def test_yaml_alias_bomb_in_layers(tmp_path):
    lines = ["name: t", "input: [3, 8, 8]", "vars:", "  a0: &a0 [relu, relu, relu, relu, relu, relu, relu, relu]"]
    for i in range(1, 8):
        lines.append(f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 8) + "]")
    lines += ["layers: *a7"]
    spec = tmp_path / "net.yaml"
    spec.write_text("\n".join(lines) + "\n")
    out = run_process("analyze", spec, "--format", "json", timeout=20)
    assert_analyze_contract(out, spec if out.code else None)
    assert_quick(out)


# --- verify false alarms ---------------------------------------------------------------------


def test_squeezenet_spec_is_exact():
    """torchvision's squeezenet1_0 has 1,248,424 parameters: conv1 96*3*7*7 + 96 = 14,208,
    eight Fire modules, classifier conv 1000*512 + 1000 = 513,000."""
    doc = analyze_json(SQUEEZENET)
    assert doc["totals"]["params"] == 1_248_424


@pytest.mark.slow
def test_verify_passes_an_exact_squeezenet():
    """#10: verify failed the receptive field of squeezenet's classifier (its unpadded 7x7/2
    first conv never reads the last row and column)."""
    pytest.importorskip("torch")
    out = run_process("verify", SQUEEZENET, "--no-memory", timeout=300)
    assert_no_crash(out, (0,))


@pytest.mark.slow
def test_verify_never_tracebacks_on_fields_larger_than_the_probe(tmp_path):
    """#10: deep multi-branch specs crashed verify (`no input size up to 100 holds the field`)."""
    pytest.importorskip("torch")
    spec = write_spec(
        tmp_path,
        """
        name: deep
        input: [3, 16, 16]
        blocks:
          inc:
            layers:
              - parallel:
                  merge: concat
                  branches:
                    - - conv: {out: 2, k: 3, stride: 2}
                    - - maxpool: {k: 3, stride: 2}
        layers:
          - conv: {out: 2, k: 3, pad: 1}
          - repeat: {n: 3, layers: [inc]}
        """,
    )
    out = run_process("verify", spec, "--no-memory", timeout=300)
    assert_no_crash(out, (0,))


# --- Python API ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"input_shape": (3, -1, 160)},
        {"input_shape": (3, 160.5, 160)},
        {"batch": "8"},
        {"batch": 0},
        {"dtype": "bogus"},
        {"convention": "bogus"},
        {"overrides": {"classes": -5}},
        {"overrides": "classes=5"},
    ],
    ids=repr,
)
def test_python_api_reports_netcost_errors(kwargs):
    """#10: `netcost.analyze("resnet18", input_shape="3x160x160")` raised a raw TypeError."""
    import netcost
    from netcost.errors import NetcostError

    with pytest.raises(NetcostError):
        netcost.analyze("resnet18", **kwargs)


def test_python_api_takes_the_cli_input_text():
    """#10's example: input_shape="3x160x160" is the CLI's text and means (3, 160, 160)."""
    import netcost

    report = netcost.analyze("resnet18", input_shape="3x160x160")
    assert report.to_dict()["layers"][0]["macs"] == 64 * 3 * 7 * 7 * 80 * 80


def test_python_api_right_number():
    """input_shape=(3, 160, 160): resnet18's conv1 MACs 64*3*7*7 * 80*80 = 60,211,200."""
    import netcost

    report = netcost.analyze("resnet18", input_shape=(3, 160, 160))
    assert report.to_dict()["layers"][0]["macs"] == 64 * 3 * 7 * 7 * 80 * 80


def test_python_api_keywords_are_documented():
    import netcost

    doc = netcost.analyze.__doc__ or ""
    for keyword in ("input_shape", "batch", "dtype", "overrides", "convention"):
        assert keyword in doc, f"netcost.analyze does not document {keyword!r}"


# --- no rich markup in messages from any source ---------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("analyze", "[bold]x[/bold]"),
        ("analyze", "resnet18", "--set", "classes=[red]1"),
        ("analyze", "resnet18", "--input", "[bold]3x3"),
        ("check", "lenet5", "--max-params", "[red]1M"),
    ],
)
def test_messages_are_plain_text(args):
    """The user's own text in a message is shown as written, not eaten as rich markup."""
    out = invoke(*args)
    assert_no_crash(out, (2,))
    assert "\x1b" not in out.stderr
    assert re.search(r"\[(bold|red)\]", out.message), f"the user's text was eaten as markup: {out!r}"


# --- beyond #10: found by the fuzz suite and by hand (same classes) ---------------------------


@pytest.mark.parametrize("fmt", ["csv", "markdown"])
def test_calibrate_honours_its_formats(calibrated_dir, fmt):
    """calibrate offers --format csv|markdown (the shared Format) but prints its text line."""
    out = run_process("calibrate", "--format", fmt, env={"NETCOST_CACHE_DIR": str(calibrated_dir)}, timeout=60)
    assert_no_crash(out, (0, 2))
    if out.code == 0:
        lines = out.stdout.splitlines()
        if fmt == "csv":  # a header and a row, the same number of fields
            import csv

            rows = list(csv.reader(lines))
            assert len(rows) >= 2 and len(rows[0]) == len(rows[1]) > 1, f"{out!r}"
        else:
            assert lines[0].startswith(("|", "#")), f"{out!r}"


def test_verify_against_something_that_is_not_a_module():
    """`verify --against os:getcwd`: AttributeError traceback ('str' object has no attribute
    'eval'); a reference that is not a torch module is a usage error."""
    pytest.importorskip("torch")
    out = invoke("verify", "conv(4,k=3)", "--input", "3x8x8", "--against", "os:getcwd", "--no-fields", "--no-memory")
    assert_error(out, "getcwd")


def test_verify_train_on_a_bogus_device():
    pytest.importorskip("torch")
    out = invoke("verify", "conv(4,k=3)", "--input", "3x8x8", "--train", "--device", "tpu")
    assert_error(out, "tpu")


@pytest.mark.parametrize("plot", ["{tmp}/no/such/dir/roofline.png", "{tmp}/roofline.txt"])
def test_profile_plot_to_a_bad_path(calibrated_dir, tmp_path, plot):
    """`profile --plot /missing/dir/x.png` (FileNotFoundError) or `--plot x.txt` (matplotlib's
    ValueError): tracebacks after the whole measurement."""
    pytest.importorskip("matplotlib")
    args = ("profile", "conv(4,k=3)", "--input", "3x8x8", "--per-layer", "--min-time", "0.01")
    out = run_process(
        *args, "--plot", plot.format(tmp=tmp_path), env={"NETCOST_CACHE_DIR": str(calibrated_dir)}, timeout=120
    )
    assert_error(out, "plot")


@pytest.mark.parametrize("threads", ["100000", "0", "-1"])
def test_profile_threads_out_of_range(threads):
    """`profile --threads 100000` died with SIGSEGV (exit 139) inside torch.set_num_threads."""
    pytest.importorskip("torch")
    out = run_process(
        "profile", "conv(4,k=3)", "--input", "3x8x8", "--min-time", "0.01", "--threads", threads, timeout=60
    )
    assert_no_crash(out, (0, 2))


def test_layer_name_must_be_a_name(tmp_path):
    """`name: [x]` was accepted and the layer named "['x']"."""
    spec = write_spec(tmp_path, HEAD + "  - relu: {name: [x]}\n")
    assert_error(invoke("analyze", spec, "--format", "json"), file=spec, line=5)


@pytest.mark.parametrize("reference", ["-0.5", "-.inf", ".nan", "[a]", "{a: 1}"])
def test_reference_must_be_a_callable_path(tmp_path, reference):
    """`reference: -0.5` is echoed into the JSON as a number, `reference: -.inf` as `-Infinity`
    (not JSON at all)."""
    spec = write_spec(tmp_path, f"name: t\nreference: {reference}\ninput: [3, 8, 8]\nlayers:\n  - relu\n")
    assert_error(invoke("analyze", spec, "--format", "json"), file=spec, line=2)


def test_inline_error_locations_are_not_lines_of_generated_yaml():
    """An inline spec's error named `<inline '...'>:6:3`, a line of the YAML netcost generated,
    which the user never wrote. It must point into the text the user wrote: line 1, the
    column of the item (`conv(8,k=3) > linear(10)`: linear starts at column 15)."""
    out = invoke("analyze", "conv(8,k=3) > linear(10)", "--input", "3x4x4")
    assert_error(out, "linear")
    match = re.search(r"<inline '.*'>:(\d+):(\d+)", out.message)
    assert match and match.groups() == ("1", "15"), f"{out!r}"


@pytest.mark.parametrize(
    "text",
    [
        "name: t\ninput: [3, 8, 8]\nlayers:\n  - conv:\n      out: 4\n      k: 3\n      k: 5\n",
        "name: t\ninput: [3, 8, 8]\nlayers:\n  - relu\nlayers:\n  - conv: {out: 4, k: 1}\n",
    ],
    ids=["field", "top-level"],
)
def test_duplicate_yaml_keys_are_errors(tmp_path, text):
    """The YAML twin of inline `conv(64,k=3,k=5)`: a duplicate key is a located error (guard)."""
    spec = write_spec(tmp_path, text)
    assert_error(invoke("analyze", spec), "duplicate", file=spec)


@pytest.mark.parametrize("command", ["analyze", "check"])
def test_freeze_pattern_that_matches_nothing(command):
    """`--freeze laye1` (a typo) froze nothing and printed the unfrozen figures as the frozen
    ones, like `--set rounding=torchvison`: a pattern that names no layer is an error."""
    budget = ("--max-train-memory-bytes", "1000T") if command == "check" else ()
    out = invoke(command, "resnet18", "--train", "--freeze", "laye1", *budget)
    assert_error(out, "laye1")
