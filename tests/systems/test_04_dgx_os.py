"""The spark hosts are DGX OS-shaped (Docker CE preinstalled, devcluster/local/dgxos_host.py): the spark deploy
uses that engine and installs no engine package; apt on these hosts would remove Docker CE for docker.io."""

from __future__ import annotations

from typing import Any

from devcluster.local.cluster import Cluster
from tests.systems.conftest import DPKG_STATE, SPARK_HOSTS

OWNERS = "dpkg-query -S \"$(readlink -f \"$(command -v dockerd)\")\" \"$(readlink -f \"$(command -v docker)\")\""


def packages(state: str) -> dict[str, str]:
    """package -> 'version status' from DPKG_STATE's output."""
    return dict(line.split(" ", 1) for line in state.splitlines() if line.strip())


def test_the_spark_deploy_installs_no_package_on_dgx_os(first_runs: Any, systems: Cluster,
                                                         spark_packages_before: dict[str, str]) -> None:
    """Nothing removed or changed on any spark host; only Traefik's python3-venv (and what it pulls) added on
    traefik_host; Docker CE still owns the engine."""
    for name in SPARK_HOSTS:
        before, after = packages(spark_packages_before[name]), packages(systems.ssh(name, DPKG_STATE).stdout)
        assert before["docker-ce"].endswith(" ii "), before["docker-ce"]  # the stand-in ships Docker CE
        assert {p: (v, after.get(p)) for p, v in before.items() if after.get(p) != v} == {}, name
        added = set(after) - set(before)
        if name == "spark-1":  # traefik_host: Traefik's venv support from apt, nothing else
            needs = systems.ssh(name, "apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts "
                                      "--no-breaks --no-replaces --no-enhances python3-venv").stdout
            allowed = {line.strip() for line in needs.splitlines() if line and not line.startswith(" ")}
            assert "python3-venv" in after and added <= allowed, added - allowed  # added: none on a rerun
        else:
            assert added == set(), added
        owners = systems.ssh(name, OWNERS).stdout
        assert owners.splitlines()[0].startswith("docker-ce: ") and owners.splitlines()[1].startswith(
            "docker-ce-cli: "), owners


def test_apt_would_remove_docker_ce_to_install_docker_io(first_runs: Any, systems: Cluster) -> None:
    """The stand-in is as strict as DGX OS: Docker CE's Conflicts make apt remove it for docker.io (simulated)."""
    sim = systems.ssh("spark-1", "apt-get -s install docker.io").stdout  # spark-1's lists: Traefik's apt update
    assert "Remv docker-ce " in sim and "Inst docker.io " in sim, sim[-2000:]
