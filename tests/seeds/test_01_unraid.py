"""Unraid-shaped hydra-storage: from the audit's before state (seed 002's project in appdata, plaintext secrets,
Redis without maxmemory, LiteLLM on the single Ollama), refusals before any change (missing Compose plugin, a
port held by a foreign process), migration of the plaintext into the store, adoption of the running project with
its data intact, a no-op second run, and a reboot that keeps stack, secrets and sysctl. Never apt.

Runs first in the seeds flavour (test_nixos_deploys' site deploy then finds storage converged)."""

from __future__ import annotations

import hashlib
import os
import runpy
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from devcluster.local import unraid_before as before_state
from devcluster.local.cluster import Cluster
from hydra_ops import PROJECT_ROOT
from hydra_ops.audit import audit
from hydra_ops.leaks import files_containing, process_args_containing
from hydra_ops.runner import DeployResult
from tests.integration.conftest import wait_for

STORAGE = "hydra-storage"
STACK = before_state.STACK_DIR
SECRETS = "/mnt/user/appdata/hydra-secrets"
GAPS = ["G3", "G4", "G5", "G7", "G8"]
PLUGIN = "/usr/libexec/docker/cli-plugins/docker-compose"
#: everything a storage deploy could change, hashed: files of the project and secrets, go file, containers, images
STATE = (f"cd {STACK} && find . -path ./.hydra-ops-backups -prune -o -type f -print0 | sort -z | "
         "xargs -0 sha256sum; ls -la /mnt/user/appdata; cat /boot/config/go; ls /etc/sysctl.d; "
         "docker ps -aq | xargs docker inspect -f '{{.Id}} {{.State.StartedAt}}'; docker images -q | sort")
APT_LOG = "cat /var/log/hydra-unraid-apt.log 2>/dev/null || true"  # the apt stubs log every call
TIMES: dict[str, float] = {}
SEEN: dict[str, str] = {}


def state(cluster: Cluster) -> str:
    return hashlib.sha256(cluster.ssh(STORAGE, STATE).stdout.encode()).hexdigest()


def storage_data() -> dict[str, Any]:
    """The seeds flavour's storage group data as written for this run (to derive overrides from)."""
    return runpy.run_path(str(PROJECT_ROOT / "devcluster/local/group_data.seeds/storage.py"))


def hydra(*args: str) -> subprocess.CompletedProcess[str]:
    """The hydra CLI on the seeds cluster, as an operator runs it."""
    env = dict(os.environ, HYDRA_CLUSTER_FLAVOUR="seeds")
    return subprocess.run([str(Path(sys.executable).with_name("hydra")), *args], capture_output=True, text=True,
                          env=env, timeout=300, cwd=PROJECT_ROOT)


def statuses(cluster: Cluster) -> dict[str, str]:
    return {r.gap: r.status for r in audit(cluster.inventory, GAPS) if r.host == STORAGE}


@pytest.fixture(scope="module")
def before(seeds: Cluster) -> dict[str, Any]:
    """The before state as the cluster built it, recorded before any deploy touches hydra-storage."""
    assert seeds.ssh(STORAGE, "cat /etc/unraid-version").stdout.startswith('version="6.')
    values = before_state.before_secrets(seeds)
    return {"secrets": values, "rows": before_state.count_rows(seeds),
            "keys": before_state.count_keys(seeds, values["REDIS_PASSWORD"]),
            "containers": before_state.container_ids(seeds), "audit": statuses(seeds),
            "files": {f: seeds.ssh(STORAGE, f"sha256sum {STACK}/{f}").stdout.split()[0]
                      for f in ("docker-compose.yml", "litellm/config.yaml")}}


def test_the_before_state_is_the_audits(before: dict[str, Any], seeds: Cluster) -> None:
    assert before["audit"] == dict.fromkeys(GAPS, "open")
    assert (before["rows"], before["keys"]) == (before_state.BEFORE_ROWS, before_state.BEFORE_KEYS)
    assert {"litellm", "ollama", "redis", "postgres", "letta", "plex"} <= set(before["containers"])
    config = seeds.ssh(STORAGE, f"cat {STACK}/litellm/config.yaml").stdout
    assert ":11434" in config and ":11400" not in config  # G5: LiteLLM on the single Ollama
    assert seeds.ssh(STORAGE, "apt-get update", check=False).returncode != 0  # Unraid has no apt


def test_a_missing_compose_plugin_is_refused_before_any_change(before: dict[str, Any], seeds: Cluster,
                                                               deploy: Callable[..., DeployResult]) -> None:
    snapshot = state(seeds)
    seeds.ssh(STORAGE, f"mv {PLUGIN} {PLUGIN}.away")
    try:
        result = deploy(target="deploys/storage.py")
    finally:
        seeds.ssh(STORAGE, f"mv {PLUGIN}.away {PLUGIN}")
    assert not result.ok and "the Docker Compose v2 plugin is missing" in result.stderr + result.stdout
    assert state(seeds) == snapshot


def test_a_port_held_by_a_foreign_process_is_refused_before_any_change(
    before: dict[str, Any], seeds: Cluster, deploy: Callable[..., DeployResult], tmp_path: Path,
) -> None:
    services = storage_data()["stack_services"]
    services["ollama"] = {**services["ollama"], "ports": ["18081:11434"]}
    seeds.ssh(STORAGE, "systemd-run --unit hydra-test-squatter python3 -m http.server 18081 >/dev/null 2>&1")
    try:
        wait_for(lambda: seeds.ssh(STORAGE, "ss -Hltn 'sport = :18081' | grep -q .", check=False).returncode == 0,
                 30, "the squatter to listen on :18081")
        snapshot = state(seeds)
        result = deploy(f"stack_services = {services!r}\n", tmp_path, target="deploys/storage.py", group="storage")
    finally:
        seeds.ssh(STORAGE, "systemctl stop hydra-test-squatter", check=False)
    assert not result.ok
    assert "host port 18081 is already held by process 'python3'" in result.stderr + result.stdout
    assert state(seeds) == snapshot


@pytest.fixture(scope="module")
def migrated(before: dict[str, Any], seeds: Cluster) -> subprocess.CompletedProcess[str]:
    """`hydra secrets migrate --host hydra-storage --replace` on the before state's plaintext."""
    proc = hydra("secrets", "migrate", "--cluster", "local", "--host", STORAGE, "--replace")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def test_migrate_moves_the_running_values_into_the_store(migrated: subprocess.CompletedProcess[str],
                                                         before: dict[str, Any], seeds: Cluster) -> None:
    old = before["secrets"]
    stored = seeds.secrets.read()
    assert (stored["litellm_master_key"], stored["redis_password"], stored["postgres_password"]) == \
           (old["LITELLM_KEY"], old["REDIS_PASSWORD"], old["POSTGRES_PASSWORD"])
    assert not any(v in migrated.stdout + migrated.stderr for v in old.values())
    holders = files_containing(seeds.ssh_argv(STORAGE), old)
    assert not [f for f in holders if f.startswith(STACK)], holders
    again = hydra("secrets", "migrate", "--cluster", "local", "--host", STORAGE)
    assert again.returncode == 0 and "nothing to do" in again.stdout, again.stdout + again.stderr


@pytest.fixture(scope="module")
def adopted(migrated: subprocess.CompletedProcess[str], seeds: Cluster,
            deploy: Callable[..., DeployResult]) -> DeployResult:
    SEEN["apt"] = seeds.ssh(STORAGE, APT_LOG).stdout
    started = time.monotonic()
    result = deploy(target="deploys/storage.py")
    TIMES["converge"] = time.monotonic() - started
    assert result.ok, result.stderr[-4000:]
    return result


def test_adoption_changes_the_project_in_place_and_never_uses_apt(adopted: DeployResult, seeds: Cluster) -> None:
    names = " ".join(adopted.changed)
    assert "apt" not in names.lower() and "docker engine" not in names
    assert seeds.ssh(STORAGE, APT_LOG).stdout == SEEN["apt"]  # the deploy called no apt at all
    assert seeds.ssh(STORAGE, "ls /etc/sysctl.d").stdout.count("hydra") == 0
    projects = seeds.ssh(STORAGE, "docker ps --format '{{.Label \"com.docker.compose.project\"}}' | sort -u").stdout
    assert projects.split() == ["hydra-stack"]  # plex has no project label: one project, no second stack
    config = seeds.ssh(STORAGE, f"cat {STACK}/litellm/config.yaml").stdout
    assert ":11400" in config


def test_data_and_unmanaged_containers_survive_and_replaced_files_are_kept(
    adopted: DeployResult, before: dict[str, Any], seeds: Cluster,
) -> None:
    assert before_state.count_rows(seeds) == before["rows"]
    assert before_state.count_keys(seeds, seeds.secrets.read()["redis_password"]) == before["keys"]
    seeds.ssh(STORAGE, f"test -s {before_state.MODEL_MANIFEST}")
    now = before_state.container_ids(seeds)
    assert {n: now.get(n) for n in ("letta", "plex")} == {n: before["containers"][n] for n in ("letta", "plex")}
    assert {"litellm", "ollama", "redis", "postgres"} <= set(now)  # same container names, recreated
    for name, digest in before["files"].items():
        kept = seeds.ssh(STORAGE, f"sha256sum {STACK}/.hydra-ops-backups/*/{name}").stdout.split()
        assert kept and kept[0] == digest, f"{name}: no backup of the replaced file"
    assert seeds.ssh(STORAGE, f"stat -c %a {STACK}/.hydra-ops-backups").stdout.strip() == "700"


def test_second_run_changes_nothing_and_the_gaps_are_closed(adopted: DeployResult, seeds: Cluster,
                                                            deploy: Callable[..., DeployResult]) -> None:
    started = time.monotonic()
    again = deploy(target="deploys/storage.py")
    TIMES["no-op"] = time.monotonic() - started
    assert again.no_op, again.changed
    assert statuses(seeds) == dict.fromkeys(GAPS, "closed")
    print(f"\nUnraid adoption: converge {TIMES['converge']:.0f}s, no-op re-run {TIMES['no-op']:.0f}s")


def test_secrets_leak_nowhere(adopted: DeployResult, seeds: Cluster, before: dict[str, Any]) -> None:
    values = seeds.secrets.read()
    assert not [n for n, v in values.items() if v in adopted.stdout + adopted.stderr]
    assert process_args_containing(seeds.ssh_argv(STORAGE), values) == []
    inspect = seeds.ssh(STORAGE, "docker inspect $(docker ps -aq)").stdout
    assert [n for n, v in values.items() if v in inspect] == []
    modes = seeds.ssh(STORAGE, f"stat -c '%a %U %n' {SECRETS} {SECRETS}/*").stdout.splitlines()
    assert modes[0].startswith("700 root") and all(m.split()[0] == "600" for m in modes[1:]), modes


def test_a_reboot_keeps_the_stack_the_secrets_and_the_sysctl(adopted: DeployResult, before: dict[str, Any],
                                                             seeds: Cluster,
                                                             deploy: Callable[..., DeployResult]) -> None:
    seeds.ssh(STORAGE, "touch /opt/hydra-ram-marker")
    started = time.monotonic()
    seeds.reboot(STORAGE, log=lambda *_: None)
    running = "docker ps --filter status=running --format '{{.Names}}'"
    wanted = {"litellm", "ollama", "redis", "postgres", "crewai", "langgraph", "letta", "plex"}

    def all_up() -> bool:
        names = set(seeds.ssh(STORAGE, running, check=False).stdout.split())
        return {n for n in names if not n.startswith("hydra-stack-")} | \
            {n.removeprefix("hydra-stack-").rsplit("-", 1)[0] for n in names} >= wanted
    wait_for(all_up, 240, "every container running again after the reboot")
    url = f"http://{seeds.host(STORAGE).address}:4000/health/readiness"
    wait_for(lambda: seeds.ssh(STORAGE, f"curl -fsS -o /dev/null {url}",
                               check=False).returncode == 0, 240, "LiteLLM to answer after the reboot")
    TIMES["reboot"] = time.monotonic() - started
    assert seeds.ssh(STORAGE, "test -e /opt/hydra-ram-marker", check=False).returncode != 0  # RAM really went
    assert "vm.overcommit_memory=1" in seeds.ssh(STORAGE, "cat /run/hydra-unraid/sysctl").stdout
    # the docker guard came back from the go file (loopback-only ports stay so on Docker before 28)
    assert seeds.ssh(STORAGE, "sh /mnt/user/appdata/hydra-stack/docker-guard.sh --check", check=False).returncode == 0
    assert before_state.count_rows(seeds) == before["rows"]
    assert before_state.count_keys(seeds, seeds.secrets.read()["redis_password"]) == before["keys"]
    assert statuses(seeds) == dict.fromkeys(GAPS, "closed")
    again = deploy(target="deploys/storage.py")
    assert again.no_op, again.changed
    print(f"\nUnraid reboot: stack back in {TIMES['reboot']:.0f}s; re-deploy after it changed nothing")
