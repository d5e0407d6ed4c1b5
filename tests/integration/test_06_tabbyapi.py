"""G10 on the local cluster: converge, idempotency, and the prestart's three guards under real systemd."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
import requests

from devcluster.local.cluster import Cluster
from hydra_ops.runner import DeployResult
from tests.integration.conftest import converged, wait_for

AI = "hydra-ai"
BASE = "http://10.213.7.10:5000"
UNIT = "tabbyapi.service"


@pytest.fixture(scope="module")
def ai_deployed(local_cluster: Cluster, deploy: Callable[..., DeployResult]) -> DeployResult:
    return converged(deploy, "deploys/ai.py")


def show(cluster: Cluster, *props: str) -> dict[str, str]:
    out = cluster.ssh(AI, f"systemctl show -p {','.join(props)} {UNIT}").stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def journal_since(cluster: Cluster, cursor: str) -> str:
    return cluster.ssh(AI, f"journalctl -u {UNIT} -o cat --no-pager --after-cursor='{cursor}'").stdout


def cursor(cluster: Cluster) -> str:
    return cluster.ssh(AI, "journalctl -n 0 --show-cursor --no-pager | tail -1").stdout.split("cursor: ")[1].strip()


@pytest.fixture
def healthy_after(local_cluster: Cluster) -> Iterator[None]:
    """Whatever a test breaks, hand the next test a running service."""
    yield
    local_cluster.ssh(AI, f"systemctl reset-failed {UNIT}; systemctl start {UNIT}", check=False)
    wait_for(lambda: _healthy(), 60, "TabbyAPI to answer /health again")


def _healthy() -> bool:
    try:
        return requests.get(f"{BASE}/health", timeout=2).ok
    except requests.RequestException:
        return False


def test_converged_serving_the_configured_model_and_idempotent(
    ai_deployed: DeployResult, local_cluster: Cluster, deploy: Callable[..., DeployResult],
) -> None:
    key = local_cluster.secrets.read()["tabby_api_key"]
    model = requests.get(f"{BASE}/v1/model", headers={"x-api-key": key}, timeout=10)
    assert model.status_code == 200 and model.json()["id"] == "Llama-3.3-70B-Instruct-exl2-4.0bpw"
    assert requests.get(f"{BASE}/v1/model", headers={"x-api-key": "wrong"}, timeout=10).status_code == 401
    again = deploy(target="deploys/ai.py")
    assert again.no_op


def test_prestart_stops_an_orphan_holding_the_port(ai_deployed: DeployResult, local_cluster: Cluster,
                                                   healthy_after: None) -> None:
    app = local_cluster.ssh(AI, f"systemctl show -p WorkingDirectory --value {UNIT}").stdout.strip()
    local_cluster.ssh(AI, f"systemctl stop {UNIT}")
    local_cluster.ssh(AI, f"(cd {app} && exec runuser -u tabby -- setsid venv/bin/python main.py) "
                          "</dev/null >/dev/null 2>&1 &")
    wait_for(_healthy, 30, "the orphan to listen on :5000")
    orphan = local_cluster.ssh(AI, "ss -ltnpH 'sport = :5000' | grep -o 'pid=[0-9]*' | cut -d= -f2").stdout.strip()
    mark = cursor(local_cluster)
    local_cluster.ssh(AI, f"systemctl start {UNIT}")
    wait_for(_healthy, 30, "the service to answer after the prestart")
    assert local_cluster.ssh(AI, f"kill -0 {orphan}", check=False).returncode != 0, "orphan still alive"
    assert show(local_cluster, "MainPID")["MainPID"] != orphan
    assert f"port 5000 is held by orphan pid {orphan}" in journal_since(local_cluster, mark)


def test_prestart_refuses_to_kill_a_process_that_is_not_ours(ai_deployed: DeployResult, local_cluster: Cluster,
                                                            healthy_after: None) -> None:
    local_cluster.ssh(AI, f"systemctl stop {UNIT}")
    local_cluster.ssh(AI, "setsid python3 -m http.server 5000 </dev/null >/dev/null 2>&1 & echo $! > /run/holder.pid")
    try:
        wait_for(_healthy_any, 30, "the foreign holder to listen")
        mark = cursor(local_cluster)
        assert local_cluster.ssh(AI, f"systemctl start {UNIT}", check=False).returncode != 0
        assert "not a TabbyAPI orphan; refusing to start" in journal_since(local_cluster, mark)
        assert local_cluster.ssh(AI, "kill -0 $(cat /run/holder.pid)", check=False).returncode == 0
    finally:
        local_cluster.ssh(AI, f"systemctl stop {UNIT}; kill $(cat /run/holder.pid)", check=False)


def _healthy_any() -> bool:
    try:
        requests.get(f"{BASE}/", timeout=2)
        return True
    except requests.RequestException:
        return False


def test_too_little_vram_fails_with_its_message_and_stops_at_the_burst_limit(
    ai_deployed: DeployResult, local_cluster: Cluster, healthy_after: None,
) -> None:
    spec = "/etc/hydra-ops/fake-gpus.json"
    original = local_cluster.ssh(AI, f"cat {spec}").stdout
    gpus = json.loads(original)
    gpus["gpus"][1]["memory_used_mib"] = gpus["gpus"][1]["memory_mib"] - 1200  # 1200 MiB free on the 4090
    local_cluster.ssh(AI, f"cat > {spec}", input=json.dumps(gpus))
    try:
        mark = cursor(local_cluster)
        # reset-failed also clears the start-rate counter, so every start in the window is this test's
        local_cluster.ssh(AI, f"systemctl reset-failed {UNIT}; systemctl restart {UNIT}", check=False)
        # systemd 252 keeps Result=exit-code and logs the start limit; newer ones say start-limit-hit.
        wait_for(lambda: show(local_cluster, "ActiveState")["ActiveState"] == "failed"
                 and "Start request repeated too quickly" in journal_since(local_cluster, mark), 90,
                 "the unit to give up at its start limit")
        log = journal_since(local_cluster, mark)
        assert "not enough free VRAM after 3s: GPU 1 has 1200 MiB free; need 20000 MiB per GPU" in log
        assert log.count("not enough free VRAM") == 3  # StartLimitBurst=3 on the local cluster, then no more
    finally:
        local_cluster.ssh(AI, f"cat > {spec}", input=original)


def test_a_missing_model_directory_fails_with_its_message(ai_deployed: DeployResult, local_cluster: Cluster,
                                                          healthy_after: None) -> None:
    local_cluster.ssh(AI, "mv /mnt/models/exl2 /mnt/models/exl2.away")
    try:
        mark = cursor(local_cluster)
        local_cluster.ssh(AI, f"systemctl restart {UNIT}", check=False)
        wait_for(lambda: "model directory /mnt/models/exl2 does not exist" in journal_since(local_cluster, mark),
                 30, "the prestart's message")
        assert not _healthy()
    finally:
        local_cluster.ssh(AI, f"systemctl stop {UNIT}; mv /mnt/models/exl2.away /mnt/models/exl2")


def test_the_models_lie_on_their_own_mount_and_a_directory_on_root_is_refused(
    ai_deployed: DeployResult, local_cluster: Cluster,
) -> None:
    # seed 002's layout, with the prestart's mount check on: the mount is /mnt/models, the model directory below it
    assert local_cluster.ssh(AI, "findmnt -n -o TARGET --target /mnt/models/exl2").stdout.strip() == "/mnt/models"
    assert show(local_cluster, "ActiveState")["ActiveState"] == "active"
    # the deployed prestart, pointed at a model directory on the root file system, refuses it
    prestart = "/usr/local/lib/hydra-ops/tabbyapi-prestart.sh"
    edit = "s#^MODEL_DIR=.*#MODEL_DIR=/srv/on-root/exl2#; s#^PORT=.*#PORT=1#"
    proc = local_cluster.ssh(AI, f"mkdir -p /srv/on-root/exl2 && sed '{edit}' {prestart} | bash; "
                             "rc=$?; rm -rf /srv/on-root; exit $rc", check=False)
    assert proc.returncode == 1
    assert "model directory /srv/on-root/exl2 is on the root filesystem, not on a mounted models filesystem" \
        in proc.stderr


def test_a_config_change_restarts_the_service_and_an_unchanged_run_does_not(
    ai_deployed: DeployResult, local_cluster: Cluster, deploy: Callable[..., DeployResult], tmp_path,
) -> None:
    first = show(local_cluster, "MainPID")["MainPID"]
    changed = deploy("tabby_max_seq_len = 16384\n", tmp_path, target="deploys/ai.py", group="ai")
    assert changed.ok and any("restart tabbyapi.service" in name for name in changed.changed)
    second = show(local_cluster, "MainPID")["MainPID"]
    assert second != first
    app = local_cluster.ssh(AI, f"systemctl show -p WorkingDirectory --value {UNIT}").stdout.strip()
    assert "max_seq_len: 16384" in local_cluster.ssh(AI, f"cat {app}/config.yml").stdout
    back = deploy(target="deploys/ai.py")
    assert back.ok and show(local_cluster, "MainPID")["MainPID"] != second
    third = show(local_cluster, "MainPID")["MainPID"]
    again = deploy(target="deploys/ai.py")
    assert again.no_op and show(local_cluster, "MainPID")["MainPID"] == third


def test_superseded_installs_lose_their_keys_but_keep_their_code(
    ai_deployed: DeployResult, local_cluster: Cluster, deploy: Callable[..., DeployResult],
) -> None:
    old = "/opt/tabbyapi/double-exl2-000000000000"
    local_cluster.ssh(AI, f"mkdir -p {old} && touch {old}/main.py && install -m 600 /dev/null {old}/api_tokens.yml")
    try:
        result = deploy(target="deploys/ai.py")
        assert result.ok and any("remove the keys of superseded install double-exl2-000000000000" in name
                                 for name in result.changed)
        assert local_cluster.ssh(AI, f"test -e {old}/api_tokens.yml", check=False).returncode != 0
        assert local_cluster.ssh(AI, f"test -e {old}/main.py", check=False).returncode == 0
        app = local_cluster.ssh(AI, f"systemctl show -p WorkingDirectory --value {UNIT}").stdout.strip()
        assert local_cluster.ssh(AI, f"test -e {app}/api_tokens.yml", check=False).returncode == 0
    finally:
        local_cluster.ssh(AI, f"rm -rf {old}")
