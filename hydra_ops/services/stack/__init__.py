"""The hydra-storage compose project every storage bundle runs in: engine, images, docker-compose.yml from group
data (cpuset/mem_limit per service), converged with `up -d` only on change, then waited for."""

from __future__ import annotations

from collections.abc import Mapping
from io import StringIO

from pyinfra import host
from pyinfra.api.operation import OperationMeta
from pyinfra.operations import files

from facts.resources import HostResources
from hydra_ops.gaps.g03_secrets import host_secrets, secret_files
from hydra_ops.gaps.g04_redis import redis_tier
from hydra_ops.gaps.g05_litellm import cpu_fallback_models, litellm_gateway, secret_env
from hydra_ops.gaps.g07_crewai import crewai
from hydra_ops.gaps.g08_langgraph import langgraph
from hydra_ops.operations import docker_stack
from hydra_ops.render import render
from hydra_ops.stack import check_host, check_secret_values, validate_storage
from hydra_ops.validation import Settings, validate_secrets

#: services that run the agent worker, and the framework each imports
AGENTS = {"crewai": "crewai", "langgraph": "langgraph"}


def compose_yml(cfg: Settings) -> str:
    return render("docker-compose.yml.j2", services=cfg.stack_services, secret_dir=cfg.secret_dir,
                  redis_uid=cfg.redis_uid, redis_port=cfg.redis_port, litellm_port=cfg.litellm_port,
                  litellm_secrets=sorted(set(secret_env(cfg).values())), agents=AGENTS)


def readiness(cfg: Settings) -> dict[str, str]:
    """Per service, a shell test that passes once it serves (Redis answers NOAUTH once its AOF is loaded)."""
    def healthy(service: str) -> str:
        ps = docker_stack.compose(cfg, "ps", "-q", service)
        return f"test \"$(docker inspect -f '{{{{.State.Health.Status}}}}' $({ps}))\" = healthy"
    checks = {"redis": f"{docker_stack.compose(cfg, 'exec', '-T', 'redis', 'redis-cli', 'ping')} 2>&1 | grep -q NOAUTH",
              "litellm": f"curl -fsS -o /dev/null http://127.0.0.1:{cfg.litellm_port}/health/readiness"}
    checks.update({service: healthy(service) for service in AGENTS})
    return checks


def stack(cfg: Settings, mounts: Mapping[str, list[OperationMeta]]) -> None:
    """Engine, images, compose file, then converge: mounts maps a service to the ops whose change restarts it."""
    docker_stack.engine("Stack", cfg)
    files.directory(name="Stack: project directory", path=cfg.stack_dir, mode="755")
    images = docker_stack.built_images("Stack", cfg)
    compose_file = files.put(name="Stack: docker-compose.yml (cpuset + mem_limit per service)", mode="644",
                             dest=f"{cfg.stack_dir}/docker-compose.yml", src=StringIO(compose_yml(cfg)))
    docker_stack.converge("Stack", cfg, compose_file, images, mounts, readiness(cfg))




def storage() -> None:
    """The whole storage deploy (G3 files, G4, G5, G7, G8 in one stack): every check before any change.

    The four gaps are services of one compose project, so `hydra fix` of any of them converges the stack.
    """
    data = host.data.dict()
    validate_secrets(data, host.name)
    cfg = validate_storage(data, host.name)
    check_host(cfg, host.get_fact(HostResources), host.name)
    services = cfg.stack_services
    redis_password = host_secrets(["redis_password"])["redis_password"] if "redis" in services else ""
    if redis_password:
        check_secret_values({"redis_password": redis_password}, host.name)
    secrets = secret_files()
    mounts: dict[str, list[OperationMeta]] = {}
    if "redis" in services:
        mounts["redis"] = redis_tier(cfg, redis_password)
    if "litellm" in services:
        mounts["litellm"] = litellm_gateway(cfg) + [op for s in secret_env(cfg).values() if (op := secrets.get(s))]
    for name, bundle in (("crewai", crewai), ("langgraph", langgraph)):
        if name in services:
            mounts[name] = bundle(cfg)
    stack(cfg, mounts)
    if "ollama-cpu" in services:
        cpu_fallback_models(cfg)
