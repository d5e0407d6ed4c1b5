"""CLI papercuts: operator mistakes end in one line with exit 2, never a traceback; --version; every deploy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HYDRA = str(Path(sys.executable).parent / "hydra")


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([HYDRA, *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize(("args", "env", "message"), [
    (["fix", "G99"], {}, "Error: unknown gap 'G99': one of G1, G2"),
    (["audit"], {"HYDRA_CLUSTER": "bogus"}, "Error: unknown cluster 'bogus': choose one of local, real"),
    (["verify"], {"HYDRA_CLUSTER": "bogus"}, "Error: unknown cluster 'bogus'"),
])
def test_operator_mistakes_are_one_line_and_exit_2(args: list[str], env: dict[str, str], message: str) -> None:
    proc = run(*args, env=env)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_version() -> None:
    proc = run("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("hydra, version ")


def test_deploy_accepts_every_deploy_file() -> None:
    proc = run("deploy", "nothere")
    assert proc.returncode == 2
    assert "'nothere' is not one of 'ai', 'compute', 'monitoring', 'site', 'storage'" in proc.stderr
