import pytest

from netcost.units import binary, grouped, parse_quantity, si


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1.5G", 1_500_000_000),
        ("300M", 300_000_000),
        ("12e6", 12_000_000),
        ("2e9", 2_000_000_000),
        ("24GiB", 24 * 2**30),
        ("512KiB", 512 * 1024),
        ("7", 7),
        ("12k", 12_000),
        ("300MB", 300_000_000),
    ],
)
def test_parse_quantity(text, value):
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["2Q", "abc", "", "1.5", "M"])
def test_parse_quantity_rejects(text):
    with pytest.raises(ValueError):
        parse_quantity(text)


def test_formatting():
    assert si(210_830_400) == "211 M"
    assert si(1_814_073_344) == "1.81 G"
    assert si(512) == "512"
    assert binary(3_211_264) == "3.06 MiB"
    assert binary(100) == "100 B"
    assert grouped(11_689_512) == "11,689,512"
