"""The seeds flavour (HYDRA_CLUSTER_FLAVOUR=seeds): NixOS-shaped hydra-compute and hydra-ai, converged once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from devcluster.local.cluster import Cluster
from hydra_ops.runner import DeployResult, run_deploy

COMPUTE, AI = "hydra-compute", "hydra-ai"


@pytest.fixture(scope="session")
def seeds(local_cluster: Cluster) -> Cluster:
    """The local cluster, which must be the seeds flavour for these tests."""
    assert local_cluster.flavour == "seeds", "run tests/nixos with HYDRA_CLUSTER_FLAVOUR=seeds"
    return local_cluster


@pytest.fixture(scope="session")
def compute_address(seeds: Cluster) -> str:
    return seeds.host(COMPUTE).address


@pytest.fixture(scope="session")
def deploy(seeds: Cluster) -> Callable[..., DeployResult]:
    """Run a deploy file on the seeds cluster, optionally with extra group data for one group."""
    counter = iter(range(1000))

    def run(target: str = "deploys/compute.py", overrides: str | None = None, tmp: Path | None = None,
            group: str = "compute", **kwargs: object) -> DeployResult:
        group_data = []
        if overrides is not None:
            assert tmp is not None
            folder = tmp / f"gd{next(counter)}"
            folder.mkdir()
            (folder / f"{group}.py").write_text(overrides)
            group_data.append(folder)
        return run_deploy(seeds.inventory, target, group_data=group_data, **kwargs)  # type: ignore[arg-type]

    return run


def current_system(cluster: Cluster, host: str = COMPUTE) -> str:
    return cluster.ssh(host, "readlink -f /run/current-system").stdout.strip()
