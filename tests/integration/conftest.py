"""Integration fixtures: hydra-compute reset to the audit's 'before' state, then deployed once per session."""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from devcluster.local.cluster import Cluster
from hydra_ops.runner import DeployResult, run_deploy
from hydra_ops.secrets import SecretStore

COMPUTE = "hydra-compute"


@pytest.fixture(scope="session")
def compute_before(local_cluster: Cluster) -> Cluster:
    """The local cluster with hydra-compute rebuilt into the audit's state (one ollama.service on GPU 0)."""
    local_cluster.reset(COMPUTE, log=lambda *_: None)
    return local_cluster


@pytest.fixture(scope="session")
def deploy(local_cluster: Cluster) -> Callable[..., DeployResult]:
    return deploy_runner(local_cluster)


def deploy_runner(cluster: Cluster) -> Callable[..., DeployResult]:
    """Run a deploy on a local cluster, optionally with extra group data (python text -> <group>.py)."""
    counter = iter(range(1000))

    def run(overrides: str | None = None, tmp: Path | None = None, target: str = "deploys/compute.py",
            group: str = "compute", **kwargs: object) -> DeployResult:
        group_data = []
        if overrides is not None:
            assert tmp is not None
            folder = tmp / f"gd{next(counter)}"
            folder.mkdir()
            (folder / f"{group}.py").write_text(overrides)
            group_data.append(folder)
        return run_deploy(cluster.inventory, target, group_data=group_data, **kwargs)  # type: ignore[arg-type]

    return run


@pytest.fixture(scope="session")
def first_deploy(compute_before: Cluster, deploy: Callable[..., DeployResult]) -> DeployResult:
    return deploy()


def snapshot(cluster: Cluster, host: str = COMPUTE) -> str:
    """A digest of everything a compute deploy could change: units, files, packages, listening ports."""
    out = cluster.ssh(host, "systemctl list-units --all --no-legend 'ollama*' 'nginx*' | awk '{print $1,$3,$4}'; "
                            "systemctl list-unit-files --no-legend 'ollama*' 'nginx*'; "
                            "ls -laR --time-style=full-iso /etc/systemd/system /etc/ollama /opt /etc/nginx "
                            "/usr/local/bin /var/lib/ollama /etc/hydra 2>&1; "
                            "dpkg-query -W; getent passwd; getent group; "
                            "ss -ltnH | awk '{print $4}' | sort").stdout
    return hashlib.sha256(out.encode()).hexdigest()


def converged(deploy: Callable[..., DeployResult], target: str) -> DeployResult:
    """Run a deploy that must succeed (module fixtures build their state with it)."""
    result = deploy(target=target)
    assert result.ok, result.errors()
    return result


def store_copy(cluster: Cluster, tmp_path: Path) -> SecretStore:
    """An empty secrets store beside the cluster's, opened by the same age key (for 'bad secrets' tests)."""
    copy = SecretStore(tmp_path / "secrets/copy.sops.yaml", cluster.secrets.key_file, tmp_path / ".sops.yaml")
    copy.file.parent.mkdir(parents=True)
    shutil.copyfile(cluster.secrets.config, copy.config)
    return copy


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll a condition until it holds (bounded); fail naming what never happened."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
