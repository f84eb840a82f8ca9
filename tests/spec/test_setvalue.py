"""``--set`` values and inline specs from random text: a value or a NetcostError/ValueError,
never another exception."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netcost.api import analyze
from netcost.errors import NetcostError
from netcost.spec import setvalue

VALUES = {
    "0.75": 0.75,
    "true": True,
    "false": False,
    "[3, 4, 6, 3]": [3, 4, 6, 3],
    "[3,4,1000,3]": [3, 4, 1000, 3],
    "2 * 64": 128,
    "'pycls'": "pycls",
    "torchvision": "torchvision",
    "A-LRN": "A-LRN",
    "1e-3": 0.001,
    "(1, 2)": [1, 2],
    "[[1, 3], [6, 5]]": [[1, 3], [6, 5]],
}


@pytest.mark.parametrize("text", VALUES)
def test_values(text):
    assert setvalue.parse(text) == VALUES[text]


@pytest.mark.parametrize("text", ["", "[1,", "None", "__import__('os')", "2 **", "10 ** 10 ** 10"])
def test_bad_values_are_value_errors(text):
    with pytest.raises(ValueError):
        setvalue.parse(text)


@given(st.text(max_size=40))
def test_random_set_text(text):
    try:
        value = setvalue.parse(text)
    except ValueError:
        return
    assert isinstance(value, (bool, int, float, str, list))


PIECES = st.sampled_from(["conv", "relu", "dwsep", "maxpool", "(", ")", ",", "=", ">", "k", "64", "3", "0", "-1"])


@given(st.lists(PIECES | st.text(max_size=3), max_size=12).map("".join))
def test_random_inline_text(text):
    try:
        report = analyze(text, input_shape=(3, 16, 16))
    except NetcostError as exc:
        assert str(exc)
        return
    assert all(row["params"] >= 0 and row["macs"] >= 0 for row in report.rows)
