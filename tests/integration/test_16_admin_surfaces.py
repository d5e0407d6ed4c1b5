"""No open admin surface (issue 21, item 3): on the converged cluster every socket listening beyond loopback is a
service of the host's group data (or the operator's own), and from another host every admin call to it is refused;
the stack's unauthenticated APIs (CPU Ollama, Prometheus, Alertmanager) listen on the storage host's loopback only."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable

import pytest
import requests

from devcluster.local.cluster import Cluster
from hydra_ops.runner import DeployResult
from tests.admin_surfaces import listening, survey
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


class Claimer:
    """Someone on the LAN who tries, over and over, to make himself the owner of n8n and Uptime Kuma at their
    published ports (what anyone could do while a new instance waits for its first visitor)."""

    def __init__(self, address: str) -> None:
        self.address, self.attempts, self.claimed = address, 0, []
        self.stop = threading.Event()
        self.password = secrets.token_urlsafe(12) + "A1"
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        from uptime_kuma_api import UptimeKumaApi

        while not self.stop.is_set():
            self.attempts += 1
            try:
                reply = requests.post(f"http://{self.address}:5678/rest/owner/setup", timeout=5, json={
                    "email": "mallory@lan.invalid", "password": self.password, "firstName": "M", "lastName": "L"})
                if reply.ok:
                    self.claimed.append("n8n")
            except requests.RequestException:
                pass
            try:
                api = UptimeKumaApi(f"http://{self.address}:3001", timeout=5)
                try:
                    if api.need_setup():
                        api.setup("mallory", self.password)
                        self.claimed.append("uptime-kuma")
                finally:
                    api.disconnect()
            except Exception:  # refused, not serving yet, or the socket dropped: try again
                pass
            self.stop.wait(0.05)  # the attacker's pace, not a wait for a condition


def test_n8n_and_uptime_kuma_get_their_owner_before_anyone_else_can_reach_them(
        everything: DeployResult, local_cluster: Cluster, deploy: Callable[..., DeployResult]) -> None:
    project = local_cluster.ssh(STORAGE, "docker inspect -f '{{index .Config.Labels \"com.docker.compose.project\"}}' "
                                         "$(docker ps -q --filter label=com.docker.compose.service=n8n)").stdout.strip()
    local_cluster.ssh(STORAGE, "for s in n8n uptime-kuma; do "
                               f"docker rm -f $(docker ps -aq --filter label=com.docker.compose.project={project} "
                               "--filter label=com.docker.compose.service=$s) >/dev/null; "
                               f"docker volume rm $(docker volume ls -q --filter label=com.docker.compose.project="
                               f"{project} --filter label=com.docker.compose.volume=$s-data) >/dev/null; done")
    claimer = Claimer(local_cluster.host(STORAGE).address)
    claimer.thread.start()
    try:
        result = deploy(target="deploys/storage.py")
    finally:
        claimer.stop.set()
        claimer.thread.join(timeout=30)
    assert claimer.claimed == [] and claimer.attempts > 10, (claimer.claimed, claimer.attempts)
    assert result.ok, result.errors()
    print(f"\nn8n and Uptime Kuma, new and unclaimed: {claimer.attempts} attempts from the LAN to claim them during "
          "the deploy, none succeeded; the deploy made both owners")
    again = deploy(target="deploys/storage.py")
    assert again.ok and again.no_op, again.errors() or again.changed
