"""The hydra-storage compose project every storage bundle runs in: engine, images, docker-compose.yml from group
data (cpuset/mem_limit per service), converged with `up -d` only on change, then waited for."""

from __future__ import annotations

from collections.abc import Mapping
from io import StringIO

from pyinfra.api.operation import OperationMeta
from pyinfra.operations import files

from hydra_ops.gaps.g05_litellm import secret_env
from hydra_ops.operations import docker_stack
from hydra_ops.render import render
from hydra_ops.validation import Settings

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


