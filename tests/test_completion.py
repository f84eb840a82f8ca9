"""Shell completion: the scripts for bash, zsh and fish, and real completion in bash of a
command, an option and a bundled model name."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BIN = str(Path(sys.executable).parent)  # where `netcost` is installed beside this python


def netcost_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PATH": BIN + os.pathsep + os.environ.get("PATH", ""), **extra}


@pytest.mark.parametrize(
    "shell, marker", [("bash", "complete -o default -F"), ("zsh", "compdef"), ("fish", "complete --command netcost")]
)
def test_scripts(cli, shell, marker):
    out = cli("completion", shell)
    assert out.exit_code == 0 and marker in out.stdout and "_NETCOST_COMPLETE" in out.stdout


def test_an_unknown_shell_is_a_usage_error(cli):
    assert cli("completion", "tcsh").exit_code == 2


@pytest.mark.skipif(shutil.which("bash") is None or not Path(BIN, "netcost").exists(), reason="needs bash and netcost")
@pytest.mark.parametrize(
    "words, cword, expected, absent",
    [
        ("netcost an", 1, {"analyze"}, {"check"}),
        ("netcost analyze resn", 2, {"resnet18", "resnet50", "resnext50_32x4d"}, {"vgg16"}),
        ("netcost compare resnet18 mobilenet_v", 3, {"mobilenet_v1", "mobilenet_v2"}, {"resnet18"}),
        ("netcost check resnet18 --max-ma", 3, {"--max-macs"}, {"--max-params"}),
    ],
)
def test_bash_completes(words, cword, expected, absent):
    script = subprocess.run(["netcost", "completion", "bash"], capture_output=True, text=True, env=netcost_env())
    assert script.returncode == 0
    call = f"COMP_WORDS=({words}); COMP_CWORD={cword}; _netcost_completion netcost"
    probe = script.stdout + f'\n{call}; printf "%s\\n" "${{COMPREPLY[@]}}"\n'
    out = subprocess.run(
        ["bash", "--norc", "--noprofile"], input=probe, capture_output=True, text=True, env=netcost_env()
    )
    got = set(out.stdout.split())
    assert expected <= got and not (absent & got), (out.stdout, out.stderr)


def test_completion_does_not_run_a_command(tmp_path):
    """With the variable set, netcost answers the shell and does nothing else."""
    env = netcost_env(_NETCOST_COMPLETE="complete_bash", COMP_WORDS="netcost check resnet18", COMP_CWORD="2")
    out = subprocess.run([sys.executable, "-m", "netcost"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert out.returncode == 0 and "resnet18" in out.stdout and "budget" not in out.stdout
