"""hydra-ai as seed 002 describes it (the operator's own TabbyAPI unit as typhon from /opt/tabbyapi, models on the
/mnt/models mount) and G10 closing on it with no hand edits: the unit is adopted, the operator's files backed up."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from devcluster.local.cluster import Cluster
from hydra_ops.runner import DeployResult
from tests.integration.conftest import wait_for
from tests.seeds.conftest import AI

PROPS = "User,WorkingDirectory,ExecStartPre,Environment,After,ActiveState"
TYPHON = "getent passwd typhon; id -Gn typhon"
BACKUPS = "/var/backups/hydra-ops/tabbyapi"


def unit(seeds: Cluster) -> dict[str, str]:
    out = seeds.ssh(AI, f"systemctl show -p {PROPS} tabbyapi.service").stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def health(seeds: Cluster) -> str:
    return seeds.ssh(AI, "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:5000/health", check=False).stdout


def audit(*gaps: str) -> dict[str, dict[str, Any]]:
    hydra = str(Path(sys.executable).parent / "hydra")
    args = [a for g in gaps for a in ("--gap", g)]
    out = subprocess.run([hydra, "audit", "--json", *args], capture_output=True, text=True, timeout=300)
    return {row["gap"]: row for row in json.loads(out.stdout) if row["host"] == AI}


def journal(seeds: Cluster) -> str:
    return seeds.ssh(AI, "journalctl --no-pager -o cat -u tabbyapi.service").stdout


@pytest.fixture(scope="module")
def before(seeds: Cluster) -> dict[str, Any]:
    """hydra-ai freshly provisioned, recorded before any deploy. Seed 002's unit as written cannot start on NixOS:
    its venv finds no libstdc++ (issue 19 item 4), so it fails and restarts, as it would on the real host."""
    seeds.reset(AI, log=lambda *_: None)
    wait_for(lambda: "libstdc++.so.6" in journal(seeds), 60, "the operator's TabbyAPI to try to start")
    return {"unit": unit(seeds), "typhon": seeds.ssh(AI, TYPHON).stdout, "audit": audit("G10")["G10"],
            "config": seeds.ssh(AI, "sha256sum < /opt/tabbyapi/config.yml").stdout,
            "mount": seeds.ssh(AI, "findmnt -n -o TARGET --target /mnt/models/exl2").stdout.strip(),
            "exl2_is_mount": seeds.ssh(AI, "mountpoint -q /mnt/models/exl2", check=False).returncode == 0,
            "files": seeds.ssh(AI, "cd /opt/tabbyapi && stat -c '%U %n' . main.py prestart.sh config.yml "
                                   "venv/bin/python && test -x prestart.sh && grep -c . config.yml").stdout}


@pytest.fixture(scope="module")
def converged(before: dict[str, Any], deploy: Callable[..., DeployResult]) -> DeployResult:
    result = deploy(target="deploys/ai.py")
    assert result.ok, result.stderr[-4000:]
    return result


def test_the_before_state_is_seed_002s_hydra_ai(before: dict[str, Any]) -> None:
    u = before["unit"]
    assert (u["User"], u["WorkingDirectory"]) == ("typhon", "/opt/tabbyapi")
    assert u["ActiveState"] in ("activating", "failed")  # restarting after the ImportError, or at its start limit
    assert "path=/opt/tabbyapi/prestart.sh " in u["ExecStartPre"]
    assert {"CUDA_DEVICE_ORDER=PCI_BUS_ID", "CUDA_VISIBLE_DEVICES=0,1",
            "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True"} <= set(u["Environment"].split())
    assert "mnt-models.mount" in u["After"].split()
    assert before["mount"] == "/mnt/models" and not before["exl2_is_mount"]  # a plain directory on the mount
    assert all(line.startswith("typhon ") for line in before["files"].splitlines()[:5])
    assert before["audit"]["status"] == "open", before["audit"]
    assert any("not hydra-ops" in line for line in before["audit"]["evidence"]), before["audit"]


def test_g10_adopts_the_operators_unit(converged: DeployResult, before: dict[str, Any], seeds: Cluster) -> None:
    u = unit(seeds)
    assert u["ActiveState"] == "active" and u["User"] not in ("typhon", "")
    assert u["WorkingDirectory"].startswith("/opt/tabbyapi/") and "hydra-ops" in u["ExecStartPre"]
    assert "mnt-models.mount" in u["After"].split()  # the operator's ordering survives the merge
    assert health(seeds) == "200"
    # the operator's config.yml and unit were kept, in a 0700 directory named by the run's UTC time
    backup = seeds.ssh(AI, f"ls -d {BACKUPS}/*-tabbyapi").stdout.split()
    assert len(backup) == 1, backup
    assert seeds.ssh(AI, f"stat -c %a {backup[0]}").stdout.strip() == "700"
    assert seeds.ssh(AI, f"sha256sum < {backup[0]}/config.yml").stdout == before["config"]
    assert "User=typhon" in seeds.ssh(AI, f"cat {backup[0]}/tabbyapi.service").stdout
    # the operator's own files and the login account are left alone
    assert seeds.ssh(AI, "sha256sum < /opt/tabbyapi/config.yml").stdout == before["config"]
    assert seeds.ssh(AI, TYPHON).stdout == before["typhon"]


def test_second_run_changes_nothing(converged: DeployResult, deploy: Callable[..., DeployResult],
                                    seeds: Cluster) -> None:
    again = deploy(target="deploys/ai.py")
    assert again.ok, again.errors()
    assert again.no_op, again.changed
    assert len(seeds.ssh(AI, f"ls -d {BACKUPS}/*-tabbyapi").stdout.split()) == 1


def test_audit_reports_g10_and_g11_closed(converged: DeployResult) -> None:
    rows = audit("G10", "G11")
    assert rows["G10"]["status"] == rows["G11"]["status"] == "closed", rows
