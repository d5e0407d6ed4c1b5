"""Smoke checks for hydra-storage (audit Part 7 and more): LiteLLM routes to the :11400 LB with the Redis cache on
and a repeat is a hit; Redis runs with the configured maxmemory, policy and AOF; its password include is private;
every container of the stack runs its pinned image on its cpuset with its memory cap."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import redis
import requests
import testinfra
import yaml

from hydra_ops.facts.docker import ComposeContainers
from hydra_ops.secrets import SecretStore
from hydra_ops.services.redis.options import redis_bytes
from hydra_ops.services.stack.options import docker_bytes
from hydra_ops.services.storage import Storage, storage
from hydra_ops.targets import Target, targets


@pytest.fixture(scope="module")
def storage_hosts(cluster_name: str) -> list[tuple[Target, Storage, Any, dict[str, str]]]:
    """(target, validated data, testinfra host, secrets) for every storage host."""
    out = []
    for t in targets(cluster_name):
        if "storage" in t.groups:
            out.append((t, storage(t.data, t.name), testinfra.get_host(t.testinfra_url),
                        SecretStore.from_data(t.data).read()))
    assert out, f"no storage host in the {cluster_name} inventory"
    return out


@pytest.fixture(scope="module")
def addresses(cluster_name: str) -> dict[str, str]:
    return {t.name: t.address for t in targets(cluster_name)}


def litellm_config(cfg: Storage, host: Any) -> dict[str, Any]:
    return yaml.safe_load(host.file(f"{cfg.stack.stack_dir}/litellm/config.yaml").content_string)


class TestLiteLLM:
    """G5: the gateway routes through the LB and caches in Redis."""

    def test_fast_models_route_to_the_lb_on_11400(self, storage_hosts: list, addresses: dict[str, str]) -> None:
        for target, cfg, host, secrets in storage_hosts:
            routes = {m["model_name"]: m["litellm_params"]["api_base"] for m in litellm_config(cfg, host)["model_list"]}
            for name, model in cfg.litellm.litellm_models.items():
                backend = cfg.litellm.litellm_backends[model.backend]
                # a stack service (the CPU fallback) by its name on the stack's network, else the host's address
                where = backend.host if backend.host in cfg.stack.stack_services else addresses[backend.host]
                want = f"http://{where}:{backend.port}{backend.path}"
                assert routes[name] == want, f"{target.name}: {name} goes to {routes[name]}, not {want}"
            assert any(url.endswith(":11400") for url in routes.values()), "no model routes to the :11400 LB"
            listed = requests.get(f"http://{target.address}:{cfg.litellm.litellm_port}/v1/models", timeout=30,
                                  headers={"Authorization": f"Bearer {secrets['litellm_master_key']}"})
            assert {m["id"] for m in listed.json()["data"]} == set(cfg.litellm.litellm_models)

    def test_redis_cache_is_on_and_a_repeated_request_is_a_hit(self, storage_hosts: list) -> None:
        for target, cfg, host, secrets in storage_hosts:
            settings = litellm_config(cfg, host)["litellm_settings"]
            assert settings["cache"] is True and settings["cache_params"]["type"] == "redis"
            fast = next(n for n, m in cfg.litellm.litellm_models.items() if m.backend == "ollama_lb")
            body = {"model": fast, "max_tokens": 8,
                    "messages": [{"role": "user", "content": f"hydra smoke {uuid.uuid4()}"}]}
            url = f"http://{target.address}:{cfg.litellm.litellm_port}/v1/chat/completions"
            auth = {"Authorization": f"Bearer {secrets['litellm_master_key']}"}
            first = requests.post(url, json=body, headers=auth, timeout=300)
            second = requests.post(url, json=body, headers=auth, timeout=300)
            assert first.status_code == second.status_code == 200
            key = second.headers.get("x-litellm-cache-key")
            def text(reply: requests.Response) -> str:
                return reply.json()["choices"][0]["message"]["content"]
            assert key and text(first) == text(second)
            r = redis.Redis(host=target.address, port=cfg.redis.redis_port, password=secrets["redis_password"],
                            socket_timeout=10)
            assert r.exists(key) == 1, f"{target.name}: cache key not in Redis"


class TestRedis:
    """G4: the KV/cache tier."""

    def test_runs_with_the_configured_maxmemory_policy_and_aof(self, storage_hosts: list) -> None:
        for target, cfg, _, secrets in storage_hosts:
            r = redis.Redis(host=target.address, port=cfg.redis.redis_port, password=secrets["redis_password"],
                            socket_timeout=10)
            got = {k: v for pattern in ("maxmemory", "maxmemory-policy", "appendonly", "appendfsync")
                   for k, v in r.config_get(pattern).items()}
            o = cfg.redis
            assert got == {"maxmemory": str(redis_bytes(o.redis_maxmemory)),
                           "maxmemory-policy": o.redis_maxmemory_policy,
                           "appendonly": "yes" if o.redis_appendonly else "no",
                           "appendfsync": o.redis_appendfsync}, target.name

    def test_refuses_clients_without_the_password(self, storage_hosts: list) -> None:
        for target, cfg, _, _ in storage_hosts:
            with pytest.raises(redis.AuthenticationError):
                redis.Redis(host=target.address, port=cfg.redis.redis_port, socket_timeout=10).get("any")

    def test_password_include_is_private_and_overcommit_is_set(self, storage_hosts: list) -> None:
        for target, cfg, host, _ in storage_hosts:
            include = host.file(f"{cfg.secret_dir}/redis-auth.conf")
            uid, gid = (int(n) for n in cfg.redis.redis_uid.split(":"))
            assert (include.mode, include.uid, include.gid) == (0o600, uid, gid), target.name
            if host.file("/etc/unraid-version").exists:  # Unraid: set at every boot from the flash drive's go file
                go = host.file("/boot/config/go").content_string.splitlines()
                assert any(line.startswith("sysctl -w vm.overcommit_memory=1") for line in go), target.name
            else:
                assert "vm.overcommit_memory = 1" in host.file("/etc/sysctl.d/60-hydra-redis.conf").content_string
            if cfg.stack.apply_sysctls_live:
                assert host.file("/proc/sys/vm/overcommit_memory").content_string.strip() == "1"


class TestStack:
    """G7/G8 and the stack: every service runs pinned to its cores."""

    def test_every_container_runs_its_pinned_image_on_its_cpuset(self, storage_hosts: list) -> None:
        fact = ComposeContainers()
        for target, cfg, host, _ in storage_hosts:
            running = fact.process(host.check_output(fact.command(cfg.stack.compose_project)).splitlines())
            for name, svc in cfg.stack.stack_services.items():
                c = running.get(name)
                assert c, f"{target.name}: {name} has no container"
                assert (c["state"], c["image"], c["cpuset"], c["memory"]) == \
                       ("running", svc.image, svc.cpuset, docker_bytes(svc.mem_limit)), f"{name}: {c}"

    def test_agent_runtimes_are_healthy(self, storage_hosts: list) -> None:
        for target, cfg, host, _ in storage_hosts:
            for name in (n for n in cfg.agents.agent_frameworks if n in cfg.stack.stack_services):
                cid = host.check_output(f"docker ps -q --filter label=com.docker.compose.project="
                                        f"{cfg.stack.compose_project} --filter label=com.docker.compose.service={name}")
                status = host.check_output(f"docker inspect -f '{{{{.State.Health.Status}}}}' {cid}")
                assert status == "healthy", f"{target.name}: {name} is {status}"

    def test_containers_drop_capabilities_and_publish_on_an_address(self, storage_hosts: list) -> None:
        """Issue 11: no capability beyond the declared ones, no privilege gain, read-only roots where declared,
        and no port on every interface."""
        for target, cfg, host, _ in storage_hosts:
            for name, svc in cfg.stack.stack_services.items():
                cid = host.check_output(f"docker ps -q --filter label=com.docker.compose.project="
                                        f"{cfg.stack.compose_project} --filter label=com.docker.compose.service={name}")
                got = host.check_output("docker inspect -f '{{json .HostConfig.CapDrop}} {{json .HostConfig.CapAdd}} "
                                        "{{json .HostConfig.SecurityOpt}} {{.HostConfig.ReadonlyRootfs}} "
                                        f"{{{{json .HostConfig.PortBindings}}}}' {cid}")
                drop, add, opts, read_only, ports = got.split(" ", 4)
                # docker adds label=disable for a service sharing the host's pid namespace (Unraid's node exporter)
                extra = {"label=disable"} if svc.role == "node-exporter" or name == "node-exporter" else set()
                assert drop == '["ALL"]' and set(json.loads(opts)) - extra == {"no-new-privileges:true"}, \
                    f"{target.name} {name}: {got}"
                added = sorted(c.removeprefix("CAP_") for c in json.loads(add) or [])
                assert added == sorted(svc.cap_add), f"{target.name} {name}: adds {added}"
                assert read_only == str(svc.read_only).lower(), f"{name}: read-only {read_only}"
                for binding in (b for bs in (json.loads(ports) or {}).values() for b in bs or []):
                    assert binding["HostIp"] not in ("", "0.0.0.0", "::"), f"{name} publishes on every interface"


class TestUptimeKuma:
    """G9 (checklist item 7): Uptime Kuma shows every monitor the inventory calls for, and each is up."""

    def test_every_wanted_monitor_is_present_and_up(self, storage_hosts: list) -> None:
        from hydra_ops.services.monitoring import kuma

        for target, cfg, _, secrets in storage_hosts:
            assert cfg.stack.named("uptime-kuma"), f"{target.name}: no uptime-kuma service (G9 not deployed)"
            url = f"http://{target.address}:{cfg.monitoring.uptime_kuma_port}"
            api = kuma.connect(url, cfg.monitoring.uptime_kuma_username, secrets["uptime_kuma_password"])
            try:
                monitors = {m["name"]: m["id"] for m in api.get_monitors()
                            if kuma.MARK in str(m.get("description") or "")}
                assert len(monitors) >= 10, f"{target.name}: only {len(monitors)} monitors"
                down = [n for n, i in monitors.items() if kuma.last_status(api, i) != 1]
            finally:
                api.disconnect()
            assert down == [], f"{target.name}: not up: {down}"


def _n8n_container(target: Any, cfg: Any, host: Any) -> str:
    """The running n8n container's id on a storage host (the check fails when there is none)."""
    name = cfg.stack.named("n8n")
    assert name, f"{target.name}: no n8n service (G6 not deployed)"
    project = cfg.stack.compose_project
    cid = host.check_output(f"docker ps -q --filter label=com.docker.compose.project={project}"
                            f" --filter label=com.docker.compose.service={name} --filter status=running")
    assert cid, f"{target.name}: n8n is not running"
    return cid


class TestResourceMonitor:
    """G6 (checklist item 6): n8n runs the resource-monitor workflow: present and active, and (with --act) a run
    started now through n8n's own CLI succeeds and is recorded as the workflow's last run."""

    def test_workflow_is_active(self, storage_hosts: list) -> None:
        for target, cfg, host, _ in storage_hosts:
            cid = _n8n_container(target, cfg, host)
            active = host.check_output(f"docker exec {cid} n8n list:workflow --active=true --onlyId")
            assert cfg.monitoring.resource_monitor_id in active.split(), \
                f"{target.name}: workflow not active: {active!r}"

    @pytest.mark.acts
    def test_a_run_started_now_succeeds(self, storage_hosts: list) -> None:
        """Acts: the run reads Prometheus and posts an alert to the Activity API for each value over its threshold."""
        from hydra_ops.services.monitoring import n8n

        for target, cfg, host, secrets in storage_hosts:
            o = cfg.monitoring
            cid = _n8n_container(target, cfg, host)
            api = n8n.connect(f"http://{target.address}:{o.n8n_port}", o.n8n_owner_email,
                              secrets["n8n_owner_password"])
            before = {e["id"] for e in api.executions(o.resource_monitor_id)}
            run = host.run(f"docker exec {cid} n8n execute --id={o.resource_monitor_id} --rawOutput")
            assert run.rc == 0, f"{target.name}: the workflow's run failed: {run.stderr[-500:]}"
            # this run, not merely the newest: the schedule may start one of its own meanwhile
            runs = [e for e in api.executions(o.resource_monitor_id) if e["id"] not in before and e["mode"] == "cli"]
            assert [e["status"] for e in runs] == ["success"], runs


class TestMetrics:
    """Seed 001 Part 10: Prometheus scrapes every exporter and probes every inference endpoint, and all answer."""

    def test_every_target_is_up_and_every_probe_succeeds(self, storage_hosts: list) -> None:
        import time
        from urllib.parse import quote

        for target, cfg, host, _ in storage_hosts:
            assert cfg.stack.named("prometheus"), f"{target.name}: no prometheus service"
            # Prometheus is published on the host's loopback only: read it there
            url = f"http://127.0.0.1:{cfg.monitoring.prometheus_port}/api/v1"

            def get(path: str, host: Any = host, url: str = url) -> Any:
                return json.loads(host.check_output(f"curl -fsS -m 10 '{url}/{path}'"))
            deadline = time.monotonic() + 60
            while True:  # a target just added reads "unknown" until its first scrape
                active = get("targets")["data"]["activeTargets"]
                if all(t["health"] != "unknown" for t in active) or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            down = [(t["labels"].get("job"), t["labels"].get("host"), t["lastError"]) for t in active
                    if t["health"] != "up"]
            assert active and down == [], f"{target.name}: targets not up: {down}"
            failing = get(f"query?query={quote('probe_success == 0')}")
            assert failing["data"]["result"] == [], f"{target.name}: probes failing: {failing['data']['result']}"


class TestAdminSurfaces:
    """The stack's unauthenticated admin APIs (CPU Ollama's pull/delete, Prometheus, Alertmanager's silences) answer
    on the storage host's loopback and refuse connections from anywhere else (this machine included)."""

    def test_admin_ports_refuse_other_hosts_and_answer_on_loopback(self, storage_hosts: list) -> None:
        import socket

        from hydra_ops.services.stack.exposure import LOOPBACK_ROLES

        for target, cfg, host, _ in storage_hosts:
            ports = {(name, int(p.split(":")[-2])) for name, svc in cfg.stack.stack_services.items()
                     if cfg.stack.role_of(name) in LOOPBACK_ROLES for p in svc.ports}
            o = cfg.monitoring
            ports |= {(cfg.stack.named(r), port) for r, port in (("prometheus", o.prometheus_port),
                                                                  ("alertmanager", o.alertmanager_port))
                      if cfg.stack.named(r)}
            assert ports, f"{target.name}: no admin surface in the stack to check"
            reached = []
            for name, port in sorted(ports):
                try:
                    socket.create_connection((target.address, port), timeout=5).close()
                    reached.append(f"{name} :{port}")
                except ConnectionRefusedError:
                    pass
                assert host.run(f"curl -sS -m 10 -o /dev/null http://127.0.0.1:{port}/").rc == 0, \
                    f"{target.name}: {name} does not answer on the host's loopback :{port}"
            assert reached == [], f"{target.name}: admin APIs reachable from another host: {reached}"

    def test_the_docker_guard_keeps_containers_out_of_reach_of_routed_traffic(self, storage_hosts: list) -> None:
        """Docker before 28 forwards to a published container port from any interface; the guard's rules must be
        in DOCKER-USER (stack/guard.py)."""
        for target, cfg, host, _ in storage_hosts:
            check = host.run(f"sh {cfg.stack.stack_dir}/docker-guard.sh --check")
            assert check.rc == 0, f"{target.name}: the docker guard's rules are not in place ({check.stderr.strip()})"
