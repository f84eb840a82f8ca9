"""Hand-derived closed forms, most of them taken from the seeds' slides (004)."""

from fractions import Fraction

import pytest

from netcost.core.shape import Shape
from netcost.ops.conv import Conv, ConvTranspose
from netcost.ops.linear import Linear
from netcost.ops.norm import BatchNorm
from netcost.ops.pool import AdaptiveAvgPool, MaxPool


def cost_of(op, x):
    out = op.shape((x,))
    return out, op.cost((x,), out)


def test_slide_example_conv_5x5():
    # 004: "16 x (8 x 5 x 5 + 1) = 3,216" params; "16,384 x 8 x 5 x 5 x 2 ≅ 6.5M flops"
    out, cost = cost_of(Conv(out=16, k=(5, 5), pad=(2, 2, 2, 2)), Shape.of(8, 32, 32))
    assert out == Shape.of(16, 32, 32)
    assert out.numel == 16_384
    assert cost.params == 3_216
    assert 2 * cost.macs == 6_553_600


@pytest.mark.parametrize("c", [64, 128, 512])
def test_one_5x5_against_two_3x3(c):
    # 004 (VGG): 25C^2 + C vs 18C^2 + 2C params, 50 C^2 HW vs 36 C^2 HW FLOPs, CHW vs 2CHW activations
    x = Shape.of(c, 14, 14)
    out5, five = cost_of(Conv(out=c, k=(5, 5), pad=(2, 2, 2, 2)), x)
    three = Conv(out=c, k=(3, 3), pad=(1, 1, 1, 1))
    out3, one3 = cost_of(three, x)
    hw = 14 * 14
    assert five.params == 25 * c * c + c
    assert 2 * one3.params == 18 * c * c + 2 * c
    assert 2 * five.macs == 50 * c * c * hw
    assert 2 * (2 * one3.macs) == 36 * c * c * hw
    assert (out5.numel, 2 * out3.numel) == (c * hw, 2 * c * hw)


@pytest.mark.parametrize(("n", "k"), [(64, 3), (128, 3), (256, 5)])
def test_depthwise_separable_ratio(n, k):
    # MobileNet: depthwise + pointwise costs 1/N + 1/Dk^2 of a standard conv
    x = Shape.of(n, 28, 28)
    pad = (k // 2,) * 4
    _, standard = cost_of(Conv(out=n, k=(k, k), pad=pad, bias=False), x)
    dw_out, dw = cost_of(Conv(out=n, k=(k, k), pad=pad, groups=n, bias=False), x)
    _, pw = cost_of(Conv(out=n, k=(1, 1), bias=False), dw_out)
    assert Fraction(dw.macs + pw.macs, standard.macs) == Fraction(1, n) + Fraction(1, k * k)
    assert dw.macs * n == standard.macs // 1 and dw.params * n == standard.params


def test_grouped_conv_divides_by_groups():
    x = Shape.of(64, 8, 8)
    _, dense = cost_of(Conv(out=64, k=(3, 3), pad=(1, 1, 1, 1)), x)
    _, grouped = cost_of(Conv(out=64, k=(3, 3), pad=(1, 1, 1, 1), groups=4), x)
    assert grouped.macs * 4 == dense.macs
    assert grouped.params == 64 * 16 * 9 + 64


def test_transposed_conv_is_counted_on_the_input_grid():
    # U-Net up-conv 2x2/2, 1024 -> 512 channels on a 28x28 input: each input pixel meets the
    # whole kernel once, so MACs = Cin * Cout * k*k * Hin*Win (not * Hout*Wout, 4x more)
    op = ConvTranspose(out=512, k=(2, 2), stride=(2, 2))
    out, cost = cost_of(op, Shape.of(1024, 28, 28))
    assert out == Shape.of(512, 56, 56)
    assert cost.macs == 1024 * 512 * 4 * 28 * 28
    assert cost.params == 1024 * 512 * 4 + 512


def test_transposed_conv_output_size():
    # torch: (n-1)*s - 2p + d(k-1) + output_padding + 1
    out, _ = cost_of(ConvTranspose(out=6, k=(3, 3), stride=(2, 2), pad=(1, 1), output_pad=(1, 1)), Shape.of(6, 7, 9))
    assert out == Shape.of(6, 14, 18)


def test_linear_and_bn():
    _, fc = cost_of(Linear(out=4096), Shape.of(9216))
    assert (fc.params, fc.macs) == (37_752_832, 37_748_736)
    _, bn = cost_of(BatchNorm(), Shape.of(64, 56, 56))
    assert (bn.params, bn.buffers) == (128, 129)  # running mean/var + num_batches_tracked


def test_pool_shapes():
    out, _ = cost_of(MaxPool(k=(3, 3), stride=(2, 2), pad=(1, 1, 1, 1)), Shape.of(64, 112, 112))
    assert out == Shape.of(64, 56, 56)
    out, _ = cost_of(MaxPool(k=(3, 3), stride=(2, 2), ceil_mode=True), Shape.of(64, 112, 112))
    assert out == Shape.of(64, 56, 56)  # GoogLeNet's ceil-mode pools: ceil(109/2) + 1 = 56
    out, cost = cost_of(AdaptiveAvgPool(out=(6, 6)), Shape.of(256, 13, 13))
    assert out == Shape.of(256, 6, 6) and cost.elementwise == 256 * 13 * 13
