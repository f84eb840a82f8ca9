"""User code is contained: whatever a torch model's own code does at import, in its factory
or in forward (exit, interrupt, raise, print), netcost exits 2 with a message naming the
model, the stage and the exception, or measures it with its prints on stderr."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytest.importorskip("torch")

from netcost.errors import UserCodeError
from netcost.usercode import FORWARD, IMPORT, load_callable, user_code
from tests.counted.usermodels import HOWS, SAID

ROOT = Path(__file__).resolve().parents[2]
M = "tests.counted.usermodels"
STAGE_WORDS = {"import": "at import", "factory": "in the factory", "forward": "in forward"}


def _model(stage: str, how: str, monkeypatch) -> str:
    if stage == "import":
        monkeypatch.setenv("NETCOST_TEST_MISBEHAVE", how)
        sys.modules.pop(f"{M}_import", None)
        return f"{M}_import:tiny"
    return f"{M}:{stage}_{how}"


COMMANDS = {
    "analyze": lambda m: ["analyze", m, "--input", "3x4x4", "--format", "json"],
    "check": lambda m: ["check", m, "--max-params", "100", "--input", "3x4x4", "--format", "json"],
    "profile": lambda m: ["profile", m, "--input", "3x4x4", "--min-time", "0.01", "--format", "json"],
    "verify": lambda m: [
        "verify", "conv(2,k=1)", "--input", "3x4x4", "--against", m, "--no-fields", "--no-memory", "-f", "json",
    ],
}  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("stage", ["import", "factory", "forward"])
@pytest.mark.parametrize("how", HOWS)
def test_every_misbehaviour_is_exit_2_naming_model_stage_and_cause(cli, monkeypatch, command, stage, how):
    model = _model(stage, how, monkeypatch)
    result = cli(*COMMANDS[command](model))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    err = " ".join(result.stderr.split())
    assert model in err and STAGE_WORDS[stage] in err and SAID[how] in err
    assert "\x1b" not in result.stderr  # the model's ANSI escape is shown escaped


def test_the_healthy_model_passes_through_every_command(cli):
    """The control: the same commands on the well-behaved Tiny (8 params) succeed."""
    for command, args in COMMANDS.items():
        result = cli(*args(f"{M}:tiny"))
        assert result.exit_code == 0, (command, result.stdout, result.stderr)
        doc = json.loads(result.stdout)
        if command == "analyze":
            assert doc["totals"]["params"] == 8
        if command == "verify":
            assert doc["against"]["params"] == {"analytic": 8, "reference": 8}


def test_a_missing_module_or_name_is_a_plain_usage_error(cli):
    result = cli("check", "no_such_module_xyz:net", "--max-params", "1")
    assert result.exit_code == 2 and "cannot import 'no_such_module_xyz'" in result.stderr
    assert "user code" not in result.stderr
    result = cli("check", f"{M}:no_such_factory", "--max-params", "1")
    assert result.exit_code == 2 and "has no attribute 'no_such_factory'" in result.stderr


def test_an_import_error_inside_the_users_module_is_user_code(tmp_path, monkeypatch):
    (tmp_path / "nc_broken_dep.py").write_text("import no_such_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(UserCodeError, match=r"at import .*No module named 'no_such_dependency_xyz'"):
        load_callable("nc_broken_dep:net")


# --- the boundary itself -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "said"),
    [(SystemExit(0), "sys.exit(0)"), (SystemExit(None), "sys.exit(None)"), (KeyboardInterrupt(), "KeyboardInterrupt")],
)
def test_exits_and_interrupts_become_user_code_errors(exc, said):
    with pytest.raises(UserCodeError) as info, user_code("pkg.mod:net", FORWARD):
        raise exc
    assert info.value.exit_code == 2 and info.value.stage == FORWARD and info.value.original is exc
    assert said in str(info.value) and "pkg.mod:net" in str(info.value)


def test_control_characters_in_names_and_messages_are_escaped():
    with pytest.raises(UserCodeError) as info, user_code("m\x1b[2J:net", IMPORT):
        raise RuntimeError("\x07bell\x9b")
    text = str(info.value)
    assert "\\x1b[2J" in text and "\\x07bell\\x9b" in text
    assert not any(ord(c) < 0x20 and c != "\n" for c in text)


def test_stdout_is_restored_at_both_levels_even_on_error(capfd):
    before_py, before_fd = sys.stdout, os.fstat(1)
    with pytest.raises(UserCodeError), user_code("m:net", FORWARD):
        assert sys.stdout is sys.stderr
        print("inside, python")
        os.write(1, b"inside, fd\n")
        raise ValueError("x")
    print("outside, python")
    os.write(1, b"outside, fd\n")
    after = os.fstat(1)
    assert sys.stdout is before_py and (after.st_dev, after.st_ino) == (before_fd.st_dev, before_fd.st_ino)
    out, err = capfd.readouterr()
    assert "inside, python" in err and "inside, fd" in err
    assert "inside" not in out and "outside, python" in out and "outside, fd" in out


def test_the_sigint_handler_is_put_back():
    before = signal.getsignal(signal.SIGINT)
    with user_code("m:net", FORWARD):
        assert signal.getsignal(signal.SIGINT) is not before
    assert signal.getsignal(signal.SIGINT) is before


def test_outside_the_main_thread_it_still_contains():
    caught = []

    def worker():
        try:
            with user_code("m:net", FORWARD):
                sys.exit(0)
        except UserCodeError as exc:
            caught.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert len(caught) == 1 and "sys.exit(0)" in str(caught[0])


def test_nested_boundaries_report_the_innermost_stage():
    with pytest.raises(UserCodeError) as info, user_code("m:net", IMPORT), user_code("m:net", FORWARD):
        raise ValueError("deep")
    assert info.value.stage == FORWARD


# --- the real CLI, in a subprocess: fd 1, exit codes, a real Ctrl-C ------------------------


def _netcost(*args: str, env: dict | None = None) -> subprocess.Popen:
    environ = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "netcost", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environ,
        cwd=ROOT,
    )


def test_the_real_cli_keeps_stdout_clean_and_exits_2():
    """All at once (each process imports torch): prints at both levels from forward and from
    a factory; exits at import, in the factory and in forward; a raised KeyboardInterrupt;
    and a real SIGINT, which stays an interrupt (130)."""
    over = ["--max-params", "1", "--input", "3x4x4", "--format", "json"]
    runs = {
        "prints in forward": (_netcost("check", f"{M}:forward_prints", *over), 1),
        "prints in the factory": (
            _netcost(*COMMANDS["verify"](f"{M}:factory_prints")),
            0,
        ),
        "exit 0 at import": (
            _netcost("check", f"{M}_import:tiny", *over, env={"NETCOST_TEST_MISBEHAVE": "exit0"}),
            2,
        ),
        "exit 'bye' in the factory": (_netcost("check", f"{M}:factory_exit_bye", *over), 2),
        "exit 3 in forward": (_netcost("analyze", f"{M}:forward_exit3", "--input", "3x4x4", "-f", "json"), 2),
        "KeyboardInterrupt raised": (_netcost("check", f"{M}:forward_interrupt", *over), 2),
        "a real Ctrl-C": (_netcost("check", f"{M}:forward_sigint", *over), 130),
    }
    for what, (process, expected) in runs.items():
        out, err = process.communicate(timeout=120)
        assert process.returncode == expected, (what, out, err)
        if expected in (0, 1):
            json.loads(out)  # exactly one JSON document: nothing the model printed
            assert "print() from the model" in err and "os.write(1) from the model" in err, what
        else:
            assert out == "", (what, out)
        if expected == 2:
            assert "user code failed" in err and "Traceback" not in err, (what, err)
