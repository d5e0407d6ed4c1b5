"""A failed change puts the old one back on Debian (issue 21, item 5): files whose service then fails its health
check are restored byte for byte, the service restarted on them answers again, and the deploy fails naming the
check. Each fault renders valid-looking files the validators accept."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from devcluster.local.cluster import Cluster
from hydra_ops.runner import DeployResult
from tests.claimer import Claimer, forget_owners
from tests.integration.conftest import COMPUTE, converged

AI = "hydra-ai"
TABBY = "http://10.213.7.10:5000"
LB = "http://10.213.7.11:11400"
KEPT = "/var/lib/hydra-ops/previous"
STORAGE = "hydra-storage"


def digests(cluster: Cluster, host: str, paths: list[str]) -> dict[str, str]:
    """sha256, mode and owner of each path (hashes only: api_tokens.yml holds keys)."""
    out = cluster.ssh(host, "for p in " + " ".join(paths) + "; do printf '%s %s ' \"$p\" "
                            "\"$(stat -c '%a %U' \"$p\")\"; sha256sum < \"$p\" | cut -d' ' -f1; done").stdout
    return {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in out.splitlines()}


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).ok
    except requests.RequestException:
        return False


@pytest.mark.parametrize(("bad", "changed"), [
    ('tabby_host = "127.0.0.2"\n', 2),  # runs, but never answers 127.0.0.1:5000/health (config, unit)
    # the prestart refuses (config, prestart, unit): restarts fail until the start limit, the incident's state
    ('tabby_model_name = "No-Such-Model-exl2"\n', 3),
], ids=["not-answering", "unit-failing"])
def test_tabbyapi_that_fails_health_gets_its_previous_files_back(
    local_cluster: Cluster, deploy: Callable[..., DeployResult], tmp_path: Path, bad: str, changed: int,
) -> None:
    """Valid settings whose TabbyAPI never answers its health check, in a new config.yml and unit file
    (TimeoutStartSec): the deploy fails naming the check, the files are back (the canary's too: the deploy stopped
    before its restart), and the service answers on them."""
    converged(deploy, "deploys/ai.py")
    paths = []
    for unit in ("tabbyapi", "tabbyapi-canary"):  # the local cluster runs a canary beside the stable install
        app = local_cluster.ssh(AI, f"systemctl show -p WorkingDirectory --value {unit}.service").stdout.strip()
        paths += [f"{app}/config.yml", f"{app}/api_tokens.yml", f"/usr/local/lib/hydra-ops/{unit}-prestart.sh",
                  f"/etc/systemd/system/{unit}.service"]
    before = digests(local_cluster, AI, paths)
    timeout_before = local_cluster.ssh(AI, "systemctl show -p TimeoutStartUSec --value tabbyapi.service").stdout

    failed = deploy(bad + "tabby_timeout_start_sec = 10\n", tmp_path, target="deploys/ai.py", group="ai")
    output = failed.stdout + failed.stderr
    assert not failed.ok, "a TabbyAPI that never answers its health check was reported deployed"
    assert "tabbyapi.service failed its health check (http://127.0.0.1:5000/health): the previous files were " \
           f"restored ({changed}) and tabbyapi.service restarted on them; the previous version answers again" in output
    # the canary's new files were written before the stable unit's check failed, but it was never restarted
    assert "the files tabbyapi-canary.service runs on were put back too (it was not restarted yet)" in output
    assert digests(local_cluster, AI, paths) == before
    # the restored unit file is the one systemd runs (daemon-reload after the restore)
    assert local_cluster.ssh(AI, "systemctl show -p TimeoutStartUSec --value tabbyapi.service").stdout \
        == timeout_before
    assert local_cluster.ssh(AI, "systemctl is-active tabbyapi.service", check=False).stdout.strip() == "active"
    assert answers(f"{TABBY}/health")
    assert local_cluster.ssh(AI, f"ls -A {KEPT}").stdout.split() == []  # no copies (old keys) left behind
    assert deploy(target="deploys/ai.py").no_op


def test_lb_config_that_passes_nginx_t_but_fails_health_is_put_back(
    local_cluster: Cluster, deploy: Callable[..., DeployResult], tmp_path: Path,
) -> None:
    """A Host header the loopback-bound Ollama instances refuse (403): nginx -t accepts the site, the LB's health
    check through it fails, and the previous site is back and serving."""
    converged(deploy, "deploys/compute.py")
    conf = "/etc/nginx/conf.d/ollama-lb.conf"
    before = digests(local_cluster, COMPUTE, [conf])

    bad = deploy('lb_upstream_host_header = "lb.example.org"\n', tmp_path)
    output = bad.stdout + bad.stderr
    assert not bad.ok, "an LB that answers 403 to every request was reported deployed"
    assert "nginx.service failed its health check (http://127.0.0.1:11400/api/version): the previous files " \
           "were restored (1) and nginx.service restarted on them; the previous version answers again" in output
    assert digests(local_cluster, COMPUTE, [conf]) == before
    assert local_cluster.ssh(COMPUTE, "systemctl is-active nginx.service", check=False).stdout.strip() == "active"
    assert answers(f"{LB}/api/version")
    assert local_cluster.ssh(COMPUTE, f"test -e {KEPT}/nginx.service", check=False).returncode != 0
    assert deploy().no_op


def test_a_stack_service_that_fails_health_gets_the_previous_compose_file_back(
    local_cluster: Cluster, deploy: Callable[..., DeployResult], tmp_path: Path,
) -> None:
    """A memory cap too small for LiteLLM (valid as a size): the new compose file recreates it, it never answers
    its readiness check, and the previous compose file is back with LiteLLM answering on it. n8n and Uptime Kuma,
    new and without an owner during that deploy, stay stopped: the previous file publishes them beyond loopback,
    where someone on the LAN keeps trying to claim them."""
    import runpy

    from hydra_ops import PROJECT_ROOT

    converged(deploy, "deploys/storage.py")
    compose_file = "/opt/hydra-stack/docker-compose.yml"
    before = digests(local_cluster, STORAGE, [compose_file])
    services = runpy.run_path(str(PROJECT_ROOT / "devcluster/local/group_data/storage.py"))["stack_services"]
    services["litellm"] = {**services["litellm"], "mem_limit": "24m"}

    forget_owners(local_cluster)
    with Claimer(local_cluster.host(STORAGE).address) as claimer:
        bad = deploy(f"stack_services = {services!r}\nstack_ready_timeout = 60\n", tmp_path,
                     target="deploys/storage.py", group="storage")
    output = bad.stdout + bad.stderr
    assert claimer.claimed == [] and claimer.attempts > 10, (claimer.claimed, claimer.attempts)
    assert "n8n, uptime-kuma: kept stopped (no owner yet" in output, output[-3000:]
    assert not bad.ok, "a LiteLLM that never answers its readiness check was reported deployed"
    assert "litellm failed its health check (curl -fsS -o /dev/null http://10.213.7.12:4000/health/readiness): " \
           "the previous 1 file(s) were restored and the project brought up on them; the previous version answers " \
           "again" in output, output[-3000:]
    assert digests(local_cluster, STORAGE, [compose_file]) == before
    assert answers("http://10.213.7.12:4000/health/readiness")
    running = local_cluster.ssh(STORAGE, "for s in n8n uptime-kuma litellm; do echo $s $(docker ps -q --filter "
                                         "label=com.docker.compose.service=$s | wc -l); done").stdout.split()
    assert running == ["n8n", "0", "uptime-kuma", "0", "litellm", "1"]
    converged(deploy, "deploys/storage.py")  # their owners first, then published
    assert deploy(target="deploys/storage.py").no_op
