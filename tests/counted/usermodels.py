"""Torch models whose own code misbehaves: it exits, interrupts, raises or prints, at
import (``usermodels_import``), in the factory (``factory_<how>``) or in ``forward``
(``forward_<how>``). Each takes a 3xHxW input and is one 1x1 conv: 2*3 + 2 = 8 params."""

from __future__ import annotations

import os
import signal
import sys

from torch import nn

HOWS = ("exit0", "exit_bye", "exit3", "interrupt", "error")
# what the error names, for each
SAID = {
    "exit0": "sys.exit(0)",
    "exit_bye": "sys.exit('bye')",
    "exit3": "sys.exit(3)",
    "interrupt": "KeyboardInterrupt",
    "error": "ValueError: bad \\x1b[31mmodel",
}


def misbehave(how: str) -> None:
    if how == "exit0":
        sys.exit(0)
    if how == "exit_bye":
        sys.exit("bye")
    if how == "exit3":
        sys.exit(3)
    if how == "interrupt":
        raise KeyboardInterrupt
    if how == "error":
        raise ValueError("bad \x1b[31mmodel\nsecond line")
    if how == "sigint":  # a real Ctrl-C: the signal itself is delivered
        os.kill(os.getpid(), signal.SIGINT)
    if how == "prints":
        print("print() from the model")
        sys.stdout.flush()
        os.write(1, b"os.write(1) from the model\n")


class Tiny(nn.Module):
    def __init__(self, how: str = ""):
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 1)
        self.how = how

    def forward(self, x):
        misbehave(self.how)
        return self.conv(x)


def tiny():
    return Tiny()


def _factory(how: str):
    def factory():
        misbehave(how)
        return Tiny()

    return factory


def _forward(how: str):
    return lambda: Tiny(how)


for _how in (*HOWS, "sigint", "prints"):
    globals()[f"factory_{_how}"] = _factory(_how)
    globals()[f"forward_{_how}"] = _forward(_how)
