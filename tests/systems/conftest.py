"""The systems flavour (HYDRA_CLUSTER_FLAVOUR=systems): the SOLLOL nodes and the spark hosts, converged once."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest

from devcluster.local.cluster import Cluster
from hydra_ops.runner import DeployResult
from tests.integration.conftest import deploy_runner

SOLLOL_HOSTS, SPARK_HOSTS = ("sollol-1", "sollol-2"), ("spark-1", "spark-2")
#: every installed package with its version and dpkg state, one a line
DPKG_STATE = "dpkg-query -W -f '${Package} ${Version} ${db:Status-Abbrev}\\n' | sort"


@pytest.fixture(scope="session")
def systems(local_cluster: Cluster) -> Cluster:
    """The local cluster, which must be the systems flavour for these tests."""
    assert local_cluster.flavour == "systems", "run tests/systems with HYDRA_CLUSTER_FLAVOUR=systems"
    return local_cluster


@pytest.fixture(scope="session")
def deploy(systems: Cluster) -> Callable[..., DeployResult]:
    """deploy(overrides, tmp, target=..., group=...) on the systems cluster."""
    return deploy_runner(systems)


@pytest.fixture(scope="session")
def spark_packages_before(systems: Cluster) -> dict[str, str]:
    """The spark hosts' dpkg state before the first deploy (on a new cluster: the DGX OS-shaped image's)."""
    return {name: systems.ssh(name, DPKG_STATE).stdout for name in SPARK_HOSTS}


@pytest.fixture(scope="session")
def first_runs(deploy: Callable[..., DeployResult], spark_packages_before: dict[str, str]) -> dict[str, DeployResult]:
    """Each system deployed once (on a new cluster: everything installed and started), after the spark hosts'
    packages were recorded."""
    runs = {target: deploy(target=f"deploys/{target}.py") for target in ("sollol", "spark")}
    for target, result in runs.items():
        assert result.ok, f"{target}: failed {result.failed}\n{result.errors()}"
    return runs


def snapshot(cluster: Cluster) -> str:
    """A digest of everything the two deploys could change on their hosts: units, files, packages, containers,
    ports."""
    parts = []
    for name in (*SOLLOL_HOSTS, *SPARK_HOSTS):
        parts.append(cluster.ssh(name, "systemctl list-units --all --no-legend 'ollama*' 'nginx*' 'sollol*' "
                                       "'traefik*' | awk '{print $1,$3,$4}'; dpkg-query -W; ls -laR "
                                       "--time-style=full-iso /etc/systemd/system /etc/sollol /opt /etc/nginx "
                                       "/var/lib/ollama 2>&1; "
                                       "{ docker ps -a --format '{{.Names}} {{.ID}} {{.Status}}' 2>/dev/null || true; "
                                       "} | sed 's/Up [^(]*//'; ss -ltnH | awk '{print $4}' | "
                                       # Ray's workers (loopback, ephemeral ports) come and go by themselves
                                       "grep -Ev '^(127[.]0[.]0[.]1|[[]::ffff:127[.]0[.]0[.]1[]]):"
                                       "(3[2-9][0-9]{3}|[4-6][0-9]{4})$' | sort").stdout)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()
