"""The hydra-storage compose project every storage service runs in (G4 Redis, G5 LiteLLM, G7 CrewAI, G8 LangGraph,
Postgres, Qdrant, n8n): engine, images, docker-compose.yml from group data (cpuset/mem_limit per service),
converged with `up -d` only on change, then waited for.

options.py declares the settings (and the checks between services' cores), state.py the compose document and
adopt.py its merge into the project on the host, common.py converges it, debian.py and unraid.py bring the engine
(apt, or checks on Unraid), capacity.py checks it against the host's CPUs, RAM and ports, detect.py reads it.
"""

from __future__ import annotations

from pyinfra import host
from pyinfra.api.operation import OperationMeta

from hydra_ops import config

PLATFORMS = ("debian", "unraid")


def deploy_stack() -> None:
    """The whole storage deploy (G3 files, G4, G5, G7, G8 in one stack): every check before any change.

    The four gaps are services of one compose project, so `hydra fix` of any of them converges the stack. On
    Unraid nothing is installed and the project on the host is adopted in place (stack/unraid.py).
    """
    # imported here: the services below load this package's options, and facts.resources parses cpusets with them
    from hydra_ops.facts.ports import PortHolders
    from hydra_ops.facts.resources import HostResources
    from hydra_ops.platform import current
    from hydra_ops.services.agents import agent_files
    from hydra_ops.services.litellm.debian import cpu_fallback_models, litellm_gateway
    from hydra_ops.services.litellm.options import secret_env
    from hydra_ops.services.monitoring import claims
    from hydra_ops.services.monitoring.resource_monitor import resource_monitor
    from hydra_ops.services.monitoring.stack import config_files as monitoring_files
    from hydra_ops.services.monitoring.stack import uptime_monitors
    from hydra_ops.services.redis import debian as redis
    from hydra_ops.services.redis.options import check_secret_values
    from hydra_ops.services.secrets import host_secrets, secret_files
    from hydra_ops.services.stack import common, debian, unraid
    from hydra_ops.services.stack.capacity import check_host, check_ports
    from hydra_ops.services.stack.guard import docker_guard
    from hydra_ops.services.stack.project import existing_compose
    from hydra_ops.services.stack.state import COMPOSE_FILE, compose, compose_doc
    from hydra_ops.validation import ValidationError

    whole = config.host_config()
    cfg = whole.need(whole.storage, "stack_services")
    s = cfg.stack
    platform = current()
    if platform == "unraid":
        unraid.check_host(cfg, host.name)
    elif s.named("node-exporter"):
        raise ValidationError(host.name, ["stack_services: a node-exporter service is for Unraid only; on "
                                          f"{platform} deploys/monitoring.py installs the node exporter on the host"])
    check_host(s, cfg.redis, host.get_fact(HostResources), host.name)
    existing = existing_compose(f"{s.stack_dir}/{COMPOSE_FILE}")
    unclaimed = claims.unclaimed(cfg)  # published on loopback only until the deploy made their owner
    doc = compose_doc(cfg, existing, unclaimed)
    check_ports(doc, s.stack_services, s.compose_project, host.get_fact(PortHolders),
                host.name)
    redis_name, litellm_name, cpu_name = (s.named(r) for r in ("redis", "litellm", "ollama-cpu"))
    redis_password = host_secrets(["redis_password"])["redis_password"] if redis_name else ""
    if redis_password:
        check_secret_values({"redis_password": redis_password}, host.name)
    # passwords Uptime Kuma and n8n keep themselves: their host copies change only after the services took them
    logins = ("uptime_kuma_password", "n8n_owner_password")
    secrets = secret_files(skip=logins)
    mounts: dict[str, list[OperationMeta]] = {}
    if redis_name:
        if platform == "unraid":
            unraid.persist_sysctl("G4", "vm.overcommit_memory", "1", s.apply_sysctls_live)
        else:
            redis.overcommit(s.apply_sysctls_live)
        mounts[redis_name] = redis.redis_tier(cfg.redis, s.stack_dir, cfg.secret_dir, redis_password)
    if litellm_name:
        mounts[litellm_name] = litellm_gateway(cfg.litellm, s.stack_dir, redis_name or "redis", s.stack_services) + [
            op for name in secret_env(cfg.litellm).values() if (op := secrets.get(name))]
    for name in cfg.agents.agent_frameworks:
        if name in s.stack_services:
            mounts[name] = agent_files(name, s.stack_dir)
    mounts.update(common.role_files(cfg))
    mounts.update(monitoring_files(cfg))
    # Unraid: the engine was checked by check_host, the project is adopted in place; Debian: the engine from apt
    (common.apply if platform == "unraid" else debian.apply)(cfg, mounts, existing, doc, unclaimed)
    docker_guard(s.stack_dir, platform)  # loopback-only ports stay so on Docker before 28
    if cpu_name:
        cpu_fallback_models(list(cfg.litellm.ollama_cpu_models), compose(cfg, "exec", "-T", cpu_name))
    uptime_monitors(cfg)
    resource_monitor(cfg)
    claims.publish(cfg, existing, unclaimed)
    secret_files(only=logins)
