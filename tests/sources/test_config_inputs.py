"""``[tool.netcost]`` gives a torch model its inputs, device and mode as the command line does."""

from __future__ import annotations

import importlib.util

import pytest

import netcost
from netcost.errors import NetcostError

pytestmark = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch")

# tests.counted.inputnets:lstm on 50 steps of 128 features: per step 4 gates x 256 x (128 + 256)
# (layer 1) and 4 x 256 x (256 + 256) (layer 2); the head 256 x 10 on the last step
LSTM_MACS = 50 * (4 * 256 * (128 + 256) + 4 * 256 * (256 + 256)) + 256 * 10


def write(tmp_path, body: str):
    path = tmp_path / "pyproject.toml"
    path.write_text(body)
    return path


def test_a_torch_model_takes_its_inputs_from_the_config(tmp_path):
    config = write(
        tmp_path,
        '[[tool.netcost.models]]\nmodel = "tests.counted.inputnets:lstm"\ninput = "50x128"\n'
        f'device = "cpu"\nmax-macs = "{LSTM_MACS}"\n',
    )
    result = netcost.check(config=config)
    assert result.passed
    assert result.totals["tests.counted.inputnets:lstm"]["macs"] == LSTM_MACS
    assert result.totals["tests.counted.inputnets:lstm"]["peak_activation_bytes"] is not None  # measured on cpu


def test_several_named_inputs_as_a_list(tmp_path):
    """TwoInputs: linears 8 -> 4 and 6 -> 4, no bias: 56 MACs per sample, batch 2."""
    config = write(
        tmp_path,
        '[[tool.netcost.models]]\nmodel = "tests.counted.inputnets:two_inputs"\n'
        'input = ["8", "context=6"]\nbatch = 2\nmax-macs = "112"\n',
    )
    assert netcost.check(config=config).passed
    over = write(tmp_path, config.read_text().replace('max-macs = "112"', 'max-macs = "111"'))
    assert not netcost.check(config=over).passed


@pytest.mark.parametrize(
    ("line", "message"),
    [('device = "tpu"', "device"), ('mode = "training"', "mode"), ('input = "8:int65"', "dtype")],
)
def test_bad_torch_keys_name_the_key(tmp_path, line, message):
    config = write(tmp_path, f'[[tool.netcost.models]]\nmodel = "tests.counted.inputnets:two_inputs"\n{line}\n')
    with pytest.raises(NetcostError, match=message):
        netcost.check(config=config)
