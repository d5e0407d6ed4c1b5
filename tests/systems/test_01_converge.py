"""The two systems' deploys on the systems flavour: they converge, a second run changes nothing, site.py runs
them, and the audit finds both systems closed."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hydra_ops import PROJECT_ROOT
from hydra_ops.runner import DeployResult

HYDRA = str(Path(sys.executable).with_name("hydra"))  # the CLI of the venv running the tests


def test_both_systems_converge(first_runs: dict[str, DeployResult]) -> None:
    assert set(first_runs) == {"sollol", "spark"} and all(r.ok for r in first_runs.values())


def test_a_second_run_of_each_deploy_changes_nothing(first_runs: Any, deploy: Callable[..., DeployResult]) -> None:
    for target in ("sollol", "spark", "site"):
        again = deploy(target=f"deploys/{target}.py")
        assert again.ok, again.stderr[-2000:]
        assert again.no_op, f"{target}: the second run changed something:\n{again.stdout[-3000:]}"


def test_the_audit_finds_both_systems_closed(first_runs: Any) -> None:
    proc = subprocess.run([HYDRA, "audit", "--gap", "S1", "--gap", "V1"], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = {tuple(line.split()[:3]) for line in proc.stdout.splitlines() if line.startswith(("S1 ", "V1 "))}
    assert rows == {("S1", "sollol-1", "closed"), ("S1", "sollol-2", "closed"), ("V1", "spark-1", "closed"),
                    ("V1", "spark-2", "closed")}, proc.stdout


def test_verify_runs_the_systems_smoke_files(first_runs: Any) -> None:
    proc = subprocess.run([HYDRA, "verify", "-q", "--co"], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "test_sollol.py" in proc.stdout and "test_spark.py" in proc.stdout
    assert "test_compute.py" not in proc.stdout
