"""EfficientNet's compound-scaling study as a sweep (docs/sweep.md), and its figures by hand.

The hand count below is written from the paper's Table 1 and torchvision's MBConv rules
(make_divisible channels, ceil repeats, SE squeezing to a quarter of the block's input),
independently of netcost's spec; at phi = 0 it must give torchvision efficientnet_b0's
385,814,752 conv + linear MACs (tests/golden/reference.json)."""

from __future__ import annotations

import math

import pytest

import netcost
from netcost.spec.expr import make_divisible

B0 = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3)]
B0 += [(6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]  # t, k, s, c, n


def conv_out(n: int, k: int, s: int) -> int:
    return (n + 2 * ((k - 1) // 2) - k) // s + 1


def hand_macs(width: float, depth: float, resolution: int) -> int:
    size = conv_out(resolution, 3, 2)
    c = make_divisible(32 * width, 8)
    macs = 3 * c * 9 * size * size  # stem 3x3/2
    for t, k, s, channels, n in B0:
        out = make_divisible(channels * width, 8)
        for i in range(math.ceil(n * depth)):
            hidden = make_divisible(c * t, 8)
            if hidden != c:
                macs += c * hidden * size * size  # 1x1 expand
            size = conv_out(size, k, s if i == 0 else 1)
            macs += hidden * k * k * size * size  # depthwise
            squeeze = max(1, c // 4)
            macs += 2 * hidden * squeeze  # SE: two 1x1 convs on the pooled vector
            macs += hidden * out * size * size  # 1x1 project
            c = out
    macs += c * 4 * c * size * size  # head 1x1 to 4x the last stage (1280 for B0)
    return macs + 4 * c * 1000  # classifier


def resolution(gamma: float, phi: int) -> int:
    return 32 * round(224 * gamma**phi / 32)  # the spec's rule: a multiple of the total stride


def test_hand_count_is_torchvisions_b0():
    assert hand_macs(1.0, 1.0, 224) == 385_814_752


def test_the_constraint_grid():
    """The study: alpha, beta, gamma on a grid, the candidates near alpha * beta^2 * gamma^2 = 2,
    and each one's MACs at phi = 1 over phi = 0."""
    df = netcost.sweep(
        "efficientnet_b0",
        grid={"alpha": [1.1, 1.2, 1.3], "beta": [1.05, 1.1, 1.15], "gamma": [1.1, 1.15, 1.2], "phi": [0, 1]},
        where="abs(alpha * beta**2 * gamma**2 - 2) < 0.1",
    )
    b0 = df[df.phi == 0]
    assert set(b0["macs"]) == {385_814_752}  # phi = 0 is B0 whatever the bases
    one = df[df.phi == 1]
    candidates = {(r.alpha, r.beta, r.gamma) for r in one.itertuples()}
    by_hand = {
        (a, b, g)
        for a in (1.1, 1.2, 1.3)
        for b in (1.05, 1.1, 1.15)
        for g in (1.1, 1.15, 1.2)
        if abs(a * b**2 * g**2 - 2) < 0.1
    }
    assert candidates == by_hand and (1.2, 1.1, 1.15) in candidates
    for r in one.itertuples():
        assert r.macs == hand_macs(r.beta, r.alpha, resolution(r.gamma, 1)), (r.alpha, r.beta, r.gamma)


def test_the_papers_bases_unrounded_and_rounded():
    alpha, beta, gamma = 1.2, 1.1, 1.15
    assert round(alpha * beta**2 * gamma**2, 4) == 1.9203  # the paper's constraint, unrounded
    df = netcost.sweep("efficientnet_b0", grid={"phi": [0, 1, 2, 3]})
    macs = df["macs"].tolist()
    by_hand = [hand_macs(beta**p, alpha**p, resolution(gamma, p)) for p in range(4)]
    assert macs == by_hand
    ratios = [round(m / macs[0], 2) for m in macs[1:]]
    assert ratios == [2.23, 4.12, 8.54]  # the rounded networks (README)
    assert [resolution(gamma, p) for p in range(4)] == [224, 256, 288, 352]


@pytest.mark.parametrize("budget", ["1G", "2G", "4G"])
def test_fit_phi_is_the_largest_integer_under_the_budget(budget):
    limit = {"1G": 10**9, "2G": 2 * 10**9, "4G": 4 * 10**9}[budget]
    found = netcost.fit("efficientnet_b0", "phi", budgets={"macs": budget})
    hand = [hand_macs(1.1**p, 1.2**p, resolution(1.15, p)) for p in range(8)]
    assert found.value == max(p for p in range(8) if hand[p] <= limit)
    assert found.row["macs"] == hand[found.value] and hand[found.next_value] > limit


def test_fit_tied_scale():
    """width and depth tied to one scale x (resolution fixed): the largest x under 1 GMACs."""
    found = netcost.fit("efficientnet_b0", ["width=1.1**x", "depth=1.2**x"], budgets={"macs": "1G"})
    x = found.value
    assert hand_macs(1.1**x, 1.2**x, 224) <= 10**9 < hand_macs(1.1**found.next_value, 1.2**found.next_value, 224)
    assert found.variables == {"width": 1.1**x, "depth": 1.2**x} and found.scale == "x"
