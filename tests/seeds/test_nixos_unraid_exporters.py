"""Exporters on the seeds' platforms: on the NixOS-shaped hosts nixpkgs' node exporter module and hydra-ops'
nvidia-smi exporter in one module (a checked switch, never apt), reachable from hydra-storage through the NixOS
firewall; on the Unraid-shaped hydra-storage the node exporter is the stack's container, nothing installed on the
host; a second run changes nothing; what Unraid cannot have is refused before any change."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from devcluster.local.cluster import Cluster
from hydra_ops.runner import DeployResult
from tests.seeds.conftest import AI, COMPUTE, current_system

STORAGE = "hydra-storage"


@pytest.fixture(scope="module")
def exporters(seeds: Cluster, deploy: Callable[..., DeployResult]) -> DeployResult:
    result = deploy(target="deploys/monitoring.py")
    assert result.ok, result.stderr[-4000:]
    return result


def metrics(cluster: Cluster, target: str, port: int, via: str = STORAGE) -> str:
    """An exporter's page as Prometheus on hydra-storage sees it (across the hosts' firewalls)."""
    address = cluster.host(target).address
    result = cluster.ssh(via, f"curl -fsS --max-time 10 http://{address}:{port}/metrics")
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_nixos_hosts_run_both_exporters_from_a_module(exporters: DeployResult, seeds: Cluster) -> None:
    assert not [n for n in exporters.changed if "apt" in n.lower()]
    for host in (AI, COMPUTE):
        module = seeds.ssh(host, "cat /etc/nixos/hydra-ops/monitoring.nix").stdout
        assert "exporters" in module and "hydra-gpu-exporter" in module, module
        unit = seeds.ssh(host, "systemctl show prometheus-node-exporter -p User -p ActiveState -p ExecStart").stdout
        assert "User=node-exporter" in unit and "ActiveState=active" in unit and "/nix/store/" in unit, unit
        assert "node_cpu_seconds_total" in metrics(seeds, host, 9100)
        gpus = metrics(seeds, host, 9835)
        assert "nvidia_smi_up 1" in gpus and gpus.count("nvidia_smi_temperature_gpu{") == 2, gpus[:2000]


def test_unraid_runs_the_node_exporter_in_its_stack(exporters: DeployResult, seeds: Cluster) -> None:
    assert not [n for n in exporters.changed if STORAGE in n]
    page = metrics(seeds, STORAGE, 9100, via=AI)
    assert "node_filesystem_avail_bytes" in page and "node_cpu_seconds_total" in page
    container = seeds.ssh(STORAGE, "docker inspect -f '{{.HostConfig.NetworkMode}} {{.HostConfig.PidMode}} "
                                   "{{.HostConfig.ReadonlyRootfs}}' $(docker ps -q --filter "
                                   "label=com.docker.compose.service=node-exporter)").stdout.split()
    assert container == ["host", "host", "true"]
    assert seeds.ssh(STORAGE, "test -e /usr/bin/prometheus-node-exporter", check=False).returncode == 1  # not on host


def test_second_run_changes_nothing(exporters: DeployResult, seeds: Cluster,
                                    deploy: Callable[..., DeployResult]) -> None:
    generations = {h: current_system(seeds, h) for h in (AI, COMPUTE)}
    again = deploy(target="deploys/monitoring.py")
    assert again.no_op, again.changed
    assert {h: current_system(seeds, h) for h in (AI, COMPUTE)} == generations


def test_a_gpu_exporter_on_unraid_is_refused_before_any_change(exporters: DeployResult, seeds: Cluster,
                                                               deploy: Callable[..., DeployResult],
                                                               tmp_path: Path) -> None:
    generations = {h: current_system(seeds, h) for h in (AI, COMPUTE)}
    result = deploy("expected_gpu_count = 1\n", tmp_path, target="deploys/monitoring.py", group="storage")
    assert not result.ok
    assert "no GPU exporter for Unraid hosts" in result.stdout + result.stderr
    assert result.changed == [] and {h: current_system(seeds, h) for h in (AI, COMPUTE)} == generations
