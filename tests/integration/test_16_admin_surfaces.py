"""No open admin surface (issue 21, item 3): on the converged cluster every socket listening beyond loopback is a
service of the host's group data (or the operator's own), and from another host every admin call to it is refused;
the stack's unauthenticated APIs (CPU Ollama, Prometheus, Alertmanager) listen on the storage host's loopback only."""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Callable

import pytest

from devcluster.local import network
from devcluster.local.cluster import Cluster
from hydra_ops.runner import DeployResult
from hydra_ops.services.stack.state import readiness
from hydra_ops.services.storage import storage
from hydra_ops.targets import load_inventory
from tests.admin_surfaces import listening, survey
from tests.claimer import Claimer, forget_owners
from tests.integration.conftest import converged

STORAGE = "hydra-storage"


@pytest.fixture(scope="module")
def everything(local_cluster: Cluster, deploy: Callable[..., DeployResult]) -> DeployResult:
    converged(deploy, "deploys/site.py")
    return converged(deploy, "deploys/monitoring.py")


def test_every_exposed_port_is_a_service_and_refuses_admin_calls(everything: DeployResult,
                                                                local_cluster: Cluster) -> None:
    rows, findings = survey(local_cluster)
    print("\n" + "\n".join(rows))
    assert len(rows) >= 12 and findings == [], "\n".join(findings)


def test_the_stacks_admin_apis_listen_on_loopback_only(everything: DeployResult, local_cluster: Cluster) -> None:
    sockets = listening(local_cluster, STORAGE)
    for port in (11500, 9090, 9093):  # CPU Ollama, Prometheus, Alertmanager (the lab's group data)
        assert [a for a, p in sockets if p == port] == ["127.0.0.1"], (port, sockets)
    # and they serve there: the stack reaches them by name, the host's tools on loopback
    answers = local_cluster.ssh(STORAGE, "for p in 11500/api/version 9090/-/ready 9093/-/ready; do "
                                         "curl -s -o /dev/null -w '%{http_code} ' http://127.0.0.1:$p; done").stdout
    assert answers.split() == ["200", "200", "200"]


def test_n8n_and_uptime_kuma_get_their_owner_before_anyone_else_can_reach_them(
        everything: DeployResult, local_cluster: Cluster, deploy: Callable[..., DeployResult]) -> None:
    forget_owners(local_cluster)
    with Claimer(local_cluster.host(STORAGE).address) as claimer:
        result = deploy(target="deploys/storage.py")
    assert claimer.claimed == [] and claimer.attempts > 10, (claimer.claimed, claimer.attempts, result.errors())
    assert result.ok, result.errors()
    print(f"\nn8n and Uptime Kuma, new and unclaimed: {claimer.attempts} attempts from the LAN to claim them during "
          "the deploy, none succeeded; the deploy made both owners")
    again = deploy(target="deploys/storage.py")
    assert again.ok and again.no_op, again.errors() or again.changed


#: the stack's loopback-only services as the lab runs them: (service, container port, an admin or private path)
BEHIND_LOOPBACK = [("prometheus", 9090, "/api/v1/status/config"), ("alertmanager", 9093, "/api/v2/silences"),
                   ("ollama-cpu", 11434, "/api/version"), ("n8n", 5678, "/rest/settings"),
                   ("uptime-kuma", 3001, "/")]
GUARD = "/opt/hydra-stack/docker-guard.sh"
NEIGHBOUR = "10.213.7.66"  # on the default flavour's bridge, no host's address


def container_answers(cluster: Cluster, subnet: str, targets: list[tuple[str, str, int, str]]) -> dict[str, str]:
    """From a machine on the LAN that is none of the cluster's hosts (a namespace on the cluster's bridge, where
    root may add routes) and routes the project's subnet through the storage host: the HTTP code each container
    answers on its own address ('000' when nothing comes back)."""
    net, name = cluster.spec.net, "lan-neighbour"
    ns = network.netns_name(net, name)
    calls = "; ".join(f"echo {svc} $(curl -s -m 3 -o /dev/null -w '%{{http_code}}' http://{ip}:{port}{path})"
                      for svc, ip, port, path in targets)
    try:
        network.host_up(net, name, NEIGHBOUR)
        subprocess.run(["ip", "-n", ns, "route", "replace", subnet, "via", cluster.host(STORAGE).address],
                       check=True)
        out = subprocess.run(["ip", "netns", "exec", ns, "sh", "-c", calls], capture_output=True, text=True,
                             timeout=60).stdout
    finally:
        network.host_down(net, name)
    return dict(line.split() for line in out.splitlines())


def test_a_neighbour_routing_to_the_containers_reaches_none_of_the_loopback_services(
        everything: DeployResult, local_cluster: Cluster, deploy: Callable[..., DeployResult]) -> None:
    """Docker before 28 (Debian's is 20.10) forwards to a published container port from any interface
    (moby#45610): the guard drops that; taken away, the same calls answer, and Docker's restart brings it back."""
    services = " ".join(s for s, *_ in BEHIND_LOOPBACK)
    info = local_cluster.ssh(STORAGE, "docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' "
                                      "$(docker network ls -q --filter label=com.docker.compose.project); "
                                      f"for s in {services}; do docker inspect -f "
                                      "'{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "
                                      "$(docker ps -q --filter label=com.docker.compose.service=$s); done")
    subnet, *ips = info.stdout.split()
    targets = [(s, ip, port, path) for (s, port, path), ip in zip(BEHIND_LOOPBACK, ips, strict=True)]
    closed = container_answers(local_cluster, subnet, targets)
    assert closed == {s: "000" for s, *_ in BEHIND_LOOPBACK}, closed
    litellm = local_cluster.ssh("hydra-ai", "curl -s -m 5 -o /dev/null -w '%{http_code}' "
                                            f"http://{local_cluster.host(STORAGE).address}:4000/health/readiness")
    assert litellm.stdout == "200"  # what is published on the LAN address still answers through Docker's DNAT

    local_cluster.ssh(STORAGE, "iptables -w -D DOCKER-USER -j HYDRA-GUARD && iptables -w -F HYDRA-GUARD")
    try:
        opened = container_answers(local_cluster, subnet, targets)
        assert opened["prometheus"] == opened["alertmanager"] == opened["ollama-cpu"] == "200", opened
    finally:
        local_cluster.ssh(STORAGE, "systemctl restart docker.service")  # its drop-in runs the guard again
    assert local_cluster.ssh(STORAGE, f"sh {GUARD} --check", check=False).returncode == 0
    cfg = storage(load_inventory(local_cluster.inventory)[0].get_host(STORAGE).data.dict(), STORAGE)
    for check in readiness(cfg).values():  # the stack restarted with Docker: every service answers again
        local_cluster.ssh(STORAGE, f"timeout 300 sh -c {shlex.quote(f'until {check}; do sleep 1; done')}",
                          timeout=320)
    assert container_answers(local_cluster, subnet, targets) == closed
    print(f"\nrouted from the LAN to the containers' own addresses: with the guard {closed}; without it {opened}")
    again = deploy(target="deploys/storage.py")
    assert again.ok and again.no_op, again.errors() or again.changed
