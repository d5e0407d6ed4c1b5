"""No open admin surface (issue 21, item 3): on the converged cluster every socket listening beyond loopback is a
service of the host's group data (or the operator's own), and from another host every admin call to it is refused;
the stack's unauthenticated APIs (CPU Ollama, Prometheus, Alertmanager) listen on the storage host's loopback only."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from devcluster.local.cluster import Cluster
from hydra_ops.runner import DeployResult
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
