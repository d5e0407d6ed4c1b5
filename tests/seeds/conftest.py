"""The seeds flavour (HYDRA_CLUSTER_FLAVOUR=seeds): NixOS-shaped hydra-compute and hydra-ai, converged once."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from devcluster.local.cluster import Cluster
from hydra_ops.runner import DeployResult
from tests.integration.conftest import deploy_runner

COMPUTE, AI = "hydra-compute", "hydra-ai"


@pytest.fixture(scope="session")
def seeds(local_cluster: Cluster) -> Cluster:
    """The local cluster, which must be the seeds flavour for these tests."""
    assert local_cluster.flavour == "seeds", "run tests/seeds with HYDRA_CLUSTER_FLAVOUR=seeds"
    return local_cluster


@pytest.fixture(scope="session")
def compute_address(seeds: Cluster) -> str:
    return seeds.host(COMPUTE).address


@pytest.fixture(scope="session")
def deploy(seeds: Cluster) -> Callable[..., DeployResult]:
    """deploy(overrides, tmp, target=..., group=...) on the seeds cluster (as the integration tests do)."""
    return deploy_runner(seeds)


def current_system(cluster: Cluster, host: str = COMPUTE) -> str:
    return cluster.ssh(host, "readlink -f /run/current-system").stdout.strip()
