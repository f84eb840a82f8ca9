"""Small reference models for `verify --against` and the dotted-path route."""

from torch import nn

TINY_SPEC = """
input: [3, 16, 16]
layers:
  - conv: {out: 8, k: 3, pad: 1, bias: false}
  - bn
  - relu
  - maxpool: {k: 2}
  - gap
  - flatten
  - linear: {out: 5}
"""


def tiny() -> nn.Module:
    """The same network as TINY_SPEC, written by hand in torch."""
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 5),
    )


def tiny_wider() -> nn.Module:
    """Like tiny() but 10 channels: a reference that must NOT match."""
    return nn.Sequential(
        nn.Conv2d(3, 10, 3, padding=1, bias=False),
        nn.BatchNorm2d(10),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(10, 5),
    )
