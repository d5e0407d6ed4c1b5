"""Shared test setup: the cluster switch and the local cluster (brought up once per session when needed)."""

import os

import pytest

from devcluster.local.cluster import Cluster

# The checkout's tests run against the lab: `hydra` (real cluster by default) and the library are told so explicitly;
# HYDRA_CLUSTER=real (or --hydra-cluster real) still points the smoke suite at the real cluster.
os.environ.setdefault("HYDRA_CLUSTER", "local")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--hydra-cluster", choices=["local", "real"], default=None,
                     help="cluster the smoke suite checks: local (default) or real; env HYDRA_CLUSTER")


@pytest.fixture(scope="session")
def local_cluster() -> Cluster:
    """The local cluster, up (booting it if needed; `up` is idempotent)."""
    cluster = Cluster()
    cluster.up(log=lambda *_: None)
    return cluster
