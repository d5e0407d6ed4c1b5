"""G10 canary: V3 side by side on :5001; promote makes it serve :5000 after backing up V2; rollback restores V2
with its config and unit byte-for-byte; an unhealthy canary is never promoted."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import yaml

from devcluster.local.cluster import Cluster
from hydra_ops.runner import DeployResult
from hydra_ops.services.tabbyapi.switch import TabbyError, switch
from hydra_ops.targets import Target, targets

AI = "hydra-ai"


@pytest.fixture(scope="module")
def ai_hosts(local_cluster: Cluster, deploy: Callable[..., DeployResult]) -> list[Target]:
    result = deploy(target="deploys/ai.py")
    assert result.ok, result.errors()
    return [t for t in targets("local") if "ai" in t.groups]


@pytest.fixture
def stable_after(local_cluster: Cluster, ai_hosts: list[Target]) -> Iterator[None]:
    yield
    switch("stable", local_cluster.inventory, local_cluster.dir / "group_data/ai.py", ai_hosts, log=lambda *_: None)


def serving_dir(cluster: Cluster, unit: str = "tabbyapi.service") -> str:
    return cluster.ssh(AI, f"systemctl show -p WorkingDirectory --value {unit}").stdout.strip()


def digests(cluster: Cluster, app: str) -> str:
    return cluster.ssh(AI, f"sha256sum {app}/config.yml /etc/systemd/system/tabbyapi.service").stdout


def test_promote_then_rollback_returns_v2_unchanged(local_cluster: Cluster, ai_hosts: list[Target],
                                                    stable_after: None) -> None:
    group_file = local_cluster.dir / "group_data/ai.py"
    v2_dir, v3_dir = serving_dir(local_cluster), serving_dir(local_cluster, "tabbyapi-canary.service")
    assert v2_dir != v3_dir
    before = digests(local_cluster, v2_dir)

    switch("canary", local_cluster.inventory, group_file, ai_hosts, log=lambda *_: None)
    assert serving_dir(local_cluster) == v3_dir
    served = yaml.safe_load(local_cluster.ssh(AI, f"cat {v3_dir}/config.yml").stdout)
    assert (served["model"]["backend"], served["network"]["port"]) == ("exllamav3", 5000)
    assert local_cluster.ssh(AI, "systemctl is-active tabbyapi-canary", check=False).stdout.strip() == "inactive"
    backup = local_cluster.ssh(AI, "ls -d /var/backups/hydra-ops/tabbyapi/*-" + v2_dir.rsplit("/", 1)[1]
                               + " | tail -1").stdout.strip()
    v2_config = local_cluster.ssh(AI, f"sha256sum < {v2_dir}/config.yml").stdout.split()[0]
    assert local_cluster.ssh(AI, f"sha256sum < {backup}/config.yml").stdout.split()[0] == v2_config
    assert 'tabby_serving = "canary"' in group_file.read_text()

    switch("stable", local_cluster.inventory, group_file, ai_hosts, log=lambda *_: None)
    assert serving_dir(local_cluster) == v2_dir
    assert digests(local_cluster, v2_dir) == before
    assert local_cluster.ssh(AI, "systemctl is-active tabbyapi-canary").stdout.strip() == "active"
    assert 'tabby_serving = "stable"' in group_file.read_text()


def test_an_unhealthy_canary_is_not_promoted(local_cluster: Cluster, ai_hosts: list[Target],
                                             stable_after: None) -> None:
    group_file = local_cluster.dir / "group_data/ai.py"
    recorded = group_file.read_text()
    local_cluster.ssh(AI, "systemctl stop tabbyapi-canary")
    with pytest.raises(TabbyError, match="is not serving a model; not promoting"):
        switch("canary", local_cluster.inventory, group_file, ai_hosts, log=lambda *_: None)
    assert group_file.read_text() == recorded
    assert serving_dir(local_cluster).endswith(ai_hosts[0].data["tabby_revision"] + "-"
                                               + ai_hosts[0].data["tabby_source_sha256"][:12])
