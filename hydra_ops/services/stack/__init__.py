"""The hydra-storage compose project every storage service runs in (G4 Redis, G5 LiteLLM, G7 CrewAI, G8 LangGraph,
Postgres, Qdrant, n8n): engine, images, docker-compose.yml from group data (cpuset/mem_limit per service),
converged with `up -d` only on change, then waited for.

options.py declares the settings (and the checks between services' cores), state.py the compose file, debian.py
converges it, host.py checks it against the host's CPUs and RAM, detect.py reads the running containers.
"""

from __future__ import annotations

from pyinfra import host
from pyinfra.api.operation import OperationMeta

PLATFORMS = ("debian",)


def deploy_stack() -> None:
    """The whole storage deploy (G3 files, G4, G5, G7, G8 in one stack): every check before any change.

    The four gaps are services of one compose project, so `hydra fix` of any of them converges the stack.
    """
    # imported here: the services below load this package's options, and facts.resources parses cpusets with them
    from facts.resources import HostResources
    from hydra_ops.services.agents import agent_files
    from hydra_ops.services.litellm.debian import cpu_fallback_models, litellm_gateway
    from hydra_ops.services.litellm.options import secret_env
    from hydra_ops.services.redis.debian import redis_tier
    from hydra_ops.services.redis.options import check_secret_values
    from hydra_ops.services.secrets import host_secrets, secret_files
    from hydra_ops.services.stack import debian
    from hydra_ops.services.stack.capacity import check_host
    from hydra_ops.services.stack.state import compose
    from hydra_ops.services.storage import storage

    cfg = storage(host.data.dict(), host.name)
    s = cfg.stack
    services = s.stack_services
    check_host(s, cfg.redis, host.get_fact(HostResources), host.name)
    redis_password = host_secrets(["redis_password"])["redis_password"] if "redis" in services else ""
    if redis_password:
        check_secret_values({"redis_password": redis_password}, host.name)
    secrets = secret_files()
    mounts: dict[str, list[OperationMeta]] = {}
    if "redis" in services:
        mounts["redis"] = redis_tier(cfg.redis, s.stack_dir, cfg.secret_dir, redis_password, s.apply_sysctls_live)
    if "litellm" in services:
        mounts["litellm"] = litellm_gateway(cfg.litellm, s.stack_dir) + [
            op for name in secret_env(cfg.litellm).values() if (op := secrets.get(name))]
    for name in cfg.agents.agent_frameworks:
        if name in services:
            mounts[name] = agent_files(name, s.stack_dir)
    debian.apply(cfg, mounts)
    if "ollama-cpu" in services:
        cpu_fallback_models(list(cfg.litellm.ollama_cpu_models), compose(cfg, "exec", "-T", "ollama-cpu"))
