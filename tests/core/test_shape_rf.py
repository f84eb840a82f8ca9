"""Closed-form checks of the output-size rule and the receptive-field recurrence."""

from fractions import Fraction

import pytest

from netcost.core.rf import RF, AxisRF, merge
from netcost.core.shape import Shape, same_padding, window_out


@pytest.mark.parametrize(
    ("n", "k", "s", "pad", "d", "ceil", "expected"),
    [
        (224, 11, 4, (2, 2), 1, False, 55),  # AlexNet conv1 (seeds 004): floor(217/4) + 1
        (55, 3, 2, (0, 0), 1, False, 27),  # overlapping pool
        (224, 7, 2, (3, 3), 1, False, 112),  # ResNet stem
        (112, 3, 2, (1, 1), 1, False, 56),
        (32, 3, 1, (2, 2), 2, False, 32),  # dilation 2, pad 2 keeps the size
        (14, 3, 2, (0, 0), 1, False, 6),
        (14, 3, 2, (0, 0), 1, True, 7),  # ceil_mode rounds the last window in
        (5, 2, 2, (1, 1), 1, True, 3),  # ... unless it would start inside the right padding
        (4, 5, 1, (0, 0), 1, False, 0),  # too small: <= 0, the op reports it
    ],
)
def test_window_out(n, k, s, pad, d, ceil, expected):
    assert window_out(n, k, s, pad, d, ceil) == expected


@pytest.mark.parametrize(
    ("n", "k", "s", "expected"),
    [(15, 3, 2, (1, 1)), (16, 3, 2, (0, 1)), (224, 7, 2, (2, 3)), (10, 1, 1, (0, 0)), (8, 4, 1, (1, 2))],
)
def test_same_padding_gives_ceil_n_over_s(n, k, s, expected):
    assert same_padding(n, k, s) == expected
    assert window_out(n, k, s, expected) == -(-n // s)


def test_stacked_convs_grow_linearly():
    # seeds 004: the RF after L layers of k x k convs is 1 + L(k - 1)
    rf = AxisRF()
    for layer in range(1, 6):
        rf = rf.through(3)
        assert rf.size == 1 + layer * 2
    assert rf.jump == 1


def test_stride_and_dilation():
    rf = AxisRF().through(7, 2, 3).through(3, 2, 1)  # ResNet stem: conv 7/2 p3, maxpool 3/2 p1
    assert (rf.size, rf.jump) == (11, 4)
    assert rf.start == Fraction(0)  # centred on pixel 0
    assert AxisRF().through(3, 1, 2, d=2).size == 5


def test_merge_takes_the_largest_and_global_wins():
    small, large = RF(axes=(AxisRF(Fraction(3)),) * 2), RF(axes=(AxisRF(Fraction(7)),) * 2)
    assert merge((small, large)).size == (7, 7)
    assert merge((small, RF.whole())).is_global


def test_shape_basics():
    s = Shape.of(64, 56, 56)
    assert (s.c, s.h, s.w, s.numel, str(s)) == (64, 56, 56, 200704, "64x56x56")
