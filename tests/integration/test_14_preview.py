"""Preview, then apply, on the local cluster: `hydra fix` on a terminal shows what would change and, told no, leaves
the host exactly as it was; a --diff preview of a freshly rotated secret shows no secret value."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from devcluster.local.cluster import Cluster
from hydra_ops import PROJECT_ROOT
from hydra_ops.runner import DeployResult
from tests.integration.conftest import COMPUTE, snapshot
from tests.terminal import Terminal

HYDRA = str(Path(sys.executable).parent / "hydra")
EDIT = "# an operator's hand edit, which the G1 bundle would replace"


def hydra(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HYDRA, *args, "--cluster", "local"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=900, stdin=subprocess.DEVNULL)


@pytest.fixture
def drifted(first_deploy: DeployResult, local_cluster: Cluster) -> Iterator[str]:
    """hydra-compute converged, then one instance's environment file edited by hand (G1 has a change to make)."""
    assert first_deploy.ok, first_deploy.stderr[-2000:]
    path = local_cluster.ssh(COMPUTE, "ls /etc/ollama/*.env | head -n1").stdout.strip()
    local_cluster.ssh(COMPUTE, f"echo {shlex.quote(EDIT)} >> {shlex.quote(path)}")
    yield path
    restored = hydra("fix", "G1", "--yes")
    assert restored.returncode == 0, restored.stderr[-2000:]
    assert EDIT not in local_cluster.ssh(COMPUTE, f"cat {shlex.quote(path)}").stdout


@pytest.mark.parametrize("answer", ["n\r", "\x04"], ids=["no", "end-of-input"])
def test_fix_on_a_terminal_stops_at_the_preview_and_changes_nothing(answer: str, drifted: str,
                                                                     local_cluster: Cluster) -> None:
    before = snapshot(local_cluster)
    term = Terminal([HYDRA, "fix", "G1", "--diff", "--cluster", "local"])
    term.read_until("Apply these changes? [y/N]", timeout=600)
    assert "--> Detected changes:" in term.output and f"1 ({COMPUTE})" in term.output
    assert EDIT in term.output  # --diff: the line the bundle would remove
    term.type(answer)
    assert term.finish(timeout=60) == 1, term.output[-3000:]
    assert "Nothing was changed." in term.output and "--> Beginning operation run" not in term.output
    assert snapshot(local_cluster) == before
    assert EDIT in local_cluster.ssh(COMPUTE, f"cat {shlex.quote(drifted)}").stdout


def test_a_diff_preview_of_a_rotated_secret_shows_no_value(first_deploy: DeployResult,
                                                           local_cluster: Cluster) -> None:
    old = local_cluster.secrets.read()
    local_cluster.secrets.rotate(["tabby_admin_key"])
    new = local_cluster.secrets.read()["tabby_admin_key"]
    try:
        previews = {"fix G3": hydra("fix", "G3", "--dry", "--diff", "-vv"),
                    "deploy ai": hydra("deploy", "ai", "--dry", "--diff", "--limit", "hydra-ai", "-vv")}
        for name, proc in previews.items():
            output = proc.stdout + proc.stderr
            assert proc.returncode == 0, f"{name}: {proc.stderr[-2000:]}"
            assert re.search(r"secret file tabby_admin_key \(0600 \w+\)\s+\d+ \([^)]*hydra-ai", output), \
                f"{name}: the rotated secret's write was not previewed as a change"
            leaked = [n for n, v in {**old, "new tabby_admin_key": new}.items() if v in output]
            assert leaked == [], f"{name}: values of {leaked} appear in the preview"
    finally:
        rolled = hydra("deploy", "ai", "--yes", "--limit", "hydra-ai")
        assert rolled.returncode == 0, rolled.stderr[-2000:]
