"""The stack's desired state, whatever the platform: the compose document (every service on its cores with its
memory cap, secrets only as read-only file mounts), merged into the project already on the host (adopt.py), and
the shell test that says each service answers."""

from __future__ import annotations

import shlex
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

import yaml

from hydra_ops.services.stack import exposure
from hydra_ops.services.stack.adopt import MANAGED_LABEL, adopted, data_mount, delivered
from hydra_ops.services.stack.options import ROLE_SECRETS

if TYPE_CHECKING:
    from hydra_ops.services.storage import Storage

COMPOSE_FILE = "docker-compose.yml"
HEADER = ("# Managed by hydra-ops: the hydra-storage stack (G4 Redis, G5 LiteLLM, G7 CrewAI, G8 LangGraph, seed 001\n"
          "# Part 4). Services labelled io.hydra-ops.managed are rewritten from group data on every deploy; any\n"
          "# other service here is kept as it is. No secret is written here: services read theirs from read-only\n"
          "# 0600 files. The file this one replaced is kept under .hydra-ops-backups/.\n")
#: what the Qdrant wrapper exports before running the image's own entrypoint (its API key from a 0600 file)
QDRANT_ENV = {"QDRANT__SERVICE__API_KEY": "/run/secrets/qdrant_api_key"}
#: files under secret_dir named otherwise than the secret they hold: adopting, an old variable named after the
#: secret goes (Redis' password include, n8n's settings file)
SECRET_FILES = {"redis-auth.conf": "redis_password", **{file: secret for secret, file in ROLE_SECRETS.values()}}
#: where each role keeps its data inside the container (the mount adopted from an existing project, else a volume)
DATA = {"redis": "/data", "postgres": "/var/lib/postgresql/data", "ollama-cpu": "/root/.ollama",
        "qdrant": "/qdrant/storage", "n8n": "/home/node/.n8n", "prometheus": "/prometheus",
        "alertmanager": "/alertmanager", "uptime-kuma": "/app/data"}


def compose(cfg: Storage, *args: str) -> str:
    """A compose command line run in the project directory."""
    s = cfg.stack
    words = [*s.compose_command, "--project-name", s.compose_project, *args]
    return f"cd {shlex.quote(s.stack_dir)} && " + " ".join(shlex.quote(w) for w in words)


def compose_doc(cfg: Storage, existing: Mapping[str, Any] | None = None,
                unclaimed: Collection[str] = ()) -> dict[str, Any]:
    """The compose document: our services from group data, merged into the existing project's (if any);
    unclaimed: services without their owner yet, published on loopback only (exposure.py)."""
    before = dict((existing or {}).get("services") or {})
    services, volumes = {}, {}
    for name, svc in cfg.stack.stack_services.items():
        spec: dict[str, Any] = {"image": svc.image, "restart": "unless-stopped", "cpuset": svc.cpuset,
                                "mem_limit": svc.mem_limit, "labels": {MANAGED_LABEL: "true"}, "cap_drop": ["ALL"],
                                "security_opt": ["no-new-privileges:true"]}
        if svc.cap_add:
            spec["cap_add"] = list(svc.cap_add)
        if svc.read_only:
            spec.update(read_only=True, tmpfs=["/tmp"])
        if svc.user:
            spec["user"] = svc.user
        spec.update(_role(cfg, name))
        target = DATA.get(cfg.stack.role_of(name))
        if target:
            mount, volume = data_mount(before.get(name), target, f"{name}-data")
            spec["volumes"] = [*spec.get("volumes", []), mount]
            if volume:
                volumes[volume] = {}
        role = cfg.stack.role_of(name)
        ports = [m for p in [*spec.get("ports", []), *svc.ports]
                 for m in exposure.mappings(role, p, cfg.publish_address, name in unclaimed)]
        if ports:
            spec["ports"] = list(dict.fromkeys(ports))
        services[name] = spec
    return adopted({"version": "2.4", "services": services, "volumes": volumes}, existing,
                   delivered(services, cfg.secret_dir, SECRET_FILES), f"{cfg.stack.stack_dir}/{COMPOSE_FILE}")


def compose_yml(cfg: Storage, existing: Mapping[str, Any] | None = None,
                doc: Mapping[str, Any] | None = None) -> str:
    """docker-compose.yml for the stack (serialised, never pasted together); doc: compose_doc's result when the
    caller has it already."""
    doc = compose_doc(cfg, existing) if doc is None else doc
    return HEADER + yaml.safe_dump(dict(doc), sort_keys=False, default_flow_style=False)


def _role(cfg: Storage, name: str) -> dict[str, Any]:
    """What a service's role adds to its definition (commands, secret mounts, health checks)."""
    from hydra_ops.services.litellm.options import secret_env

    role, secrets = cfg.stack.role_of(name), cfg.secret_dir
    if role == "redis":
        return {"user": cfg.redis.redis_uid, "command": ["redis-server", "/usr/local/etc/redis/hydra.conf"],
                "ports": [f"{cfg.redis.redis_port}:6379"],
                "volumes": ["./redis/redis.conf:/usr/local/etc/redis/hydra.conf:ro",
                            f"{secrets}/redis-auth.conf:/run/secrets/redis-auth.conf:ro"]}
    if role == "litellm":
        spec: dict[str, Any] = {
            "entrypoint": ["/bin/sh", "/hydra/secrets-env.sh"],
            "command": ["litellm", "--config", "/app/config.yaml", "--host", "0.0.0.0", "--port", "4000"],
            "ports": [f"{cfg.litellm.litellm_port}:4000"],
            "volumes": ["./litellm/config.yaml:/app/config.yaml:ro",
                        "./litellm/secrets-env.sh:/hydra/secrets-env.sh:ro",
                        *(f"{secrets}/{s}:/run/secrets/{s}:ro" for s in sorted(set(secret_env(cfg.litellm).values())))]}
        redis = cfg.stack.named("redis")
        if redis:
            spec["depends_on"] = [redis]
        return spec
    if name in cfg.agents.agent_frameworks:
        return {"command": ["python3", "/hydra/agent_worker.py"],
                "environment": {"HYDRA_AGENT_FRAMEWORK": cfg.agents.agent_frameworks[name],
                                "HYDRA_AGENT_DIR": f"/app/{name}", "OPENAI_API_BASE": "http://litellm:4000/v1"},
                "volumes": ["./agents/agent_worker.py:/hydra/agent_worker.py:ro", f"./{name}:/app/{name}:ro"],
                "healthcheck": {"test": ["CMD", "python3", "/hydra/agent_worker.py", "--check"], "interval": "10s",
                                "timeout": "5s", "retries": 3}}
    if role == "ollama-cpu":
        return {"environment": {"OLLAMA_HOST": "0.0.0.0:11434"}}
    if role == "qdrant":
        return {"entrypoint": ["/bin/sh", "/hydra/secrets-env.sh"], "command": ["./entrypoint.sh"],
                "volumes": [f"./{name}/secrets-env.sh:/hydra/secrets-env.sh:ro",
                            f"{secrets}/qdrant_api_key:/run/secrets/qdrant_api_key:ro"]}
    if role in ("n8n", "prometheus", "alertmanager", "uptime-kuma", "node-exporter", "blackbox"):
        from hydra_ops.services.monitoring.stack import role_spec

        return role_spec(role, name, cfg.monitoring, secrets, cfg.publish_address)
    if role == "postgres":
        return {"environment": {"POSTGRES_PASSWORD_FILE": "/run/secrets/postgres_password"},
                "volumes": [f"{secrets}/postgres_password:/run/secrets/postgres_password:ro"]}
    return {}


def readiness(cfg: Storage) -> dict[str, str]:
    """Per service, a shell test that passes once it serves (Redis answers NOAUTH once its AOF is loaded)."""
    def healthy(service: str) -> str:
        ps = compose(cfg, "ps", "-q", service)
        return f"test \"$(docker inspect -f '{{{{.State.Health.Status}}}}' $({ps}))\" = healthy"
    checks = {}
    redis, litellm = cfg.stack.named("redis"), cfg.stack.named("litellm")
    if redis:
        checks[redis] = f"{compose(cfg, 'exec', '-T', redis, 'redis-cli', 'ping')} 2>&1 | grep -q NOAUTH"
    postgres = cfg.stack.named("postgres")
    if postgres:
        checks[postgres] = f"{compose(cfg, 'exec', '-T', postgres, 'pg_isready', '-q')}"
    if litellm:
        url = f"http://{cfg.publish_address}:{cfg.litellm.litellm_port}/health/readiness"
        checks[litellm] = f"curl -fsS -o /dev/null {url}"
    o = cfg.monitoring
    for role, port, path in (("prometheus", o.prometheus_port, "/-/ready"), ("uptime-kuma", o.uptime_kuma_port, "/"),
                             ("alertmanager", o.alertmanager_port, "/-/ready"),
                             ("n8n", o.n8n_port, "/rest/settings")):
        name = cfg.stack.named(role)
        if name:
            where = exposure.publish_address(role, cfg.publish_address)
            checks[name] = f"curl -fsS -o /dev/null http://{where}:{port}{path}"
    checks.update({service: healthy(service) for service in cfg.agents.agent_frameworks})
    return checks
