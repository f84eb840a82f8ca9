"""Shared fixtures: temporary specs and a CLI runner that keeps stdout and stderr apart."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from typer.testing import CliRunner, Result

from netcost.cli import run

GOLDEN = Path(__file__).parent / "golden"

# Property tests: a bounded run in CI; HYPOTHESIS_PROFILE=thorough for a long one.
settings.register_profile("ci", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Caches (zoo, calibration) go to a temporary folder, never the user's ~/.cache; a test
    that needs its own sets NETCOST_CACHE_DIR again."""
    folder = tmp_path_factory.mktemp("netcost-cache")
    before = os.environ.get("NETCOST_CACHE_DIR")
    os.environ["NETCOST_CACHE_DIR"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("NETCOST_CACHE_DIR", None)
    else:
        os.environ["NETCOST_CACHE_DIR"] = before


@pytest.fixture
def spec_file(tmp_path):
    """Write YAML text (dedented) to a file and return its path."""

    def write(text: str, name: str = "net.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        return path

    return write


@pytest.fixture
def cli():
    """Run the command line as `netcost` does (netcost.cli.run: the exit-code contract),
    with stdout and stderr captured apart."""
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        with runner.isolation(env=env) as (stdout, stderr, output):
            code = run([str(a) for a in args])
            sys.stdout.flush()
            sys.stderr.flush()
            return Result(
                runner=runner,
                stdout_bytes=stdout.getvalue(),
                stderr_bytes=stderr.getvalue(),
                output_bytes=output.getvalue(),
                return_value=None,
                exit_code=code,
                exception=None,
            )

    return invoke
