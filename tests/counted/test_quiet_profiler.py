"""The torch profiler's C-level log lines (``USDT: ... profiler_start``) stay out of
`verify --train`'s stderr; netcost's own messages still reach it."""

import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")

from netcost.usercode import stderr_silenced


def test_verify_train_stderr_has_no_profiler_lines():
    env = {**os.environ, "COLUMNS": "200"}
    run = subprocess.run(
        [sys.executable, "-m", "netcost", "verify", "lenet5", "--train", "--no-fields"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    assert "USDT" not in run.stderr and "profiler_start" not in run.stderr
    assert "verify --train passed" in run.stdout


def test_stderr_silenced_is_fd_level_and_restored(capfd):
    with stderr_silenced():
        os.write(2, b"from C\n")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"
