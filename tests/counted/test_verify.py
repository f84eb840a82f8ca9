"""verify: every bundled spec compiles, runs and agrees with its counted self exactly."""

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("fvcore")

import netcost  # noqa: E402
from netcost.api import verify  # noqa: E402
from netcost.ops.conv import Conv  # noqa: E402
from netcost.zoo import bundled  # noqa: E402
from tests.counted.refnets import TINY_SPEC  # noqa: E402

# receptive fields are measured (by gradient) on these; the others skip that slower check
FIELD_CHECKED = {"resnet18", "vgg16", "mobilenet_v2", "densenet121", "se_resnet50", "alexnet_slide"}
LARGE = {
    "efficientnet_b5",
    "efficientnet_b6",
    "efficientnet_b7",
    "resnext101_32x8d",
    "densenet161",
    "resnet152",
    "regnet",
    "unet",
    "vit_b_16",
    "swin_t",
    "inception_v4",  # 14 s on 2 cores
    "inception_resnet_v2",  # 26 s
    "fcn_resnet50",  # 26 s: 143 G MACs at 520x520
    "hourglass",
    # ShuffleNetV2: x0_5 and x1_0 run by default; the wider ones and the generic body (the
    # 1.0x network again) only in the slow run
    "shufflenet_v2",
    "shufflenet_v2_x1_5",
    "shufflenet_v2_x2_0",
}


def _marks(name: str) -> list:
    return [pytest.mark.slow] * (name in LARGE)


@pytest.mark.parametrize("name", [pytest.param(n, marks=_marks(n)) for n in bundled()])
def test_every_bundled_spec_verifies(name):
    report = verify(name, fields=name in FIELD_CHECKED)
    assert report.passed, report.mismatches
    if name in FIELD_CHECKED:
        assert report.fields and all(f.ok for f in report.fields)


def test_resnet18_fields_are_measured_not_assumed():
    report = verify("resnet18", memory=False)
    sizes = {f.node: f.measured for f in report.fields}
    assert sizes["layer4.1.relu2"] == (435, 435)  # the figure, by gradient
    assert sizes["avgpool"] == (224, 224)  # global: the whole input


def test_peak_memory_is_measured_equal(spec_file):
    report = verify("mobilenet_v2", fields=False)
    assert report.memory["measured_bytes"] == report.memory["analytic_bytes"] == 9_633_792


def test_a_wrong_formula_fails_and_names_the_layer(monkeypatch, cli):
    original = Conv.cost

    def off_by_one(self, ins, out):
        cost = original(self, ins, out)
        return type(cost)(cost.params, cost.buffers, cost.macs + 1, cost.elementwise, cost.bias)

    monkeypatch.setattr(Conv, "cost", off_by_one)
    report = verify("resnet18", fields=False, memory=False)
    assert not report.passed
    assert "conv1: fvcore" in report.mismatches and "conv1: flopcounter" in report.mismatches
    result = cli("verify", "resnet18", "--no-fields", "--no-memory")
    assert result.exit_code == 1
    assert "verify FAILED" in result.stdout and "conv1" in result.stdout


def test_cli_json_and_against(cli, spec_file):
    path = spec_file(TINY_SPEC)
    result = cli("verify", path, "--against", "tests.counted.refnets:tiny", "--format", "json")
    assert result.exit_code == 0, result.stdout
    doc = json.loads(result.stdout)
    assert doc["passed"] and doc["against"]["ok"]
    assert doc["against"]["params"] == {"analytic": 277, "reference": 277}  # conv 8*3*9 + bn 2*8 + fc 8*5 + 5
    bad = cli("verify", path, "--against", "tests.counted.refnets:tiny_wider", "-f", "json")
    assert bad.exit_code == 1
    assert json.loads(bad.stdout)["against"]["first_shape_difference"]["index"] == 0
    missing = cli("verify", path, "--against", "no_such_module:x")
    assert missing.exit_code == 2 and "cannot import" in missing.stderr


def test_build_names_modules_like_the_spec():
    model = netcost.build("resnet18")
    names = dict(model.named_modules())
    assert isinstance(names["layer2.0.downsample.0"], torch.nn.Conv2d)
    assert sum(p.numel() for p in model.parameters()) == 11_689_512
    with torch.no_grad():
        assert model(torch.randn(2, 3, 64, 64)).shape == (2, 1000)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_verify_on_cuda():
    report = verify("resnet18", device="cuda", fields=False)
    assert report.passed, report.mismatches
    assert report.memory["device_peak_bytes"] >= report.memory["analytic_bytes"]


def test_cuda_requested_without_gpu(cli):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    result = cli("verify", "resnet18", "--device", "cuda")
    assert result.exit_code == 2 and "no CUDA device" in result.stderr


def test_against_compares_named_tensors(cli):
    """vit_b_16 at toy size against torchvision's VisionTransformer written out (refnets):
    the same state_dict names and shapes, and the MACs FlopCounterMode counts of it under
    no_grad: all but nn.MultiheadAttention's fast path (hand count below)."""
    sets = ["-s", "image_size=32", "-s", "layers=1", "-s", "heads=2", "-s", "hidden=16", "-s", "mlp=32"]
    result = cli(
        "verify",
        "vit_b_16",
        *sets,
        "-s",
        "classes=5",
        "--against",
        "tests.counted.refnets:tiny_vit",
        "--no-fields",
        "-f",
        "json",
    )
    doc = json.loads(result.stdout)
    against = doc["against"]
    assert doc["passed"] and against["ok"]
    assert against["named_tensors"] == {"equal": True, "missing": [], "unexpected": [], "shape_differs": []}
    # 5 tokens of 16: the projections 4 x 5 x 16², Q·Kᵀ and A·V 2 x 5² x 16
    attention = 4 * 5 * 16 * 16 + 2 * 5 * 5 * 16
    assert against["macs"]["missed"] == attention
    patch, mlp, head = 4 * 16 * 3 * 16 * 16, 2 * 5 * 16 * 32, 16 * 5
    assert against["macs"]["reference"] == patch + mlp + head
