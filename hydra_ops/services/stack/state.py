"""The stack's desired state, whatever the platform: the compose file (every service on its cores with its memory
cap, secrets only as read-only file mounts) and the shell test that says each service answers."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from hydra_ops.render import render

if TYPE_CHECKING:
    from hydra_ops.services.storage import Storage


def compose(cfg: Storage, *args: str) -> str:
    """A compose command line run in the project directory."""
    s = cfg.stack
    words = [*s.compose_command, "--project-name", s.compose_project, *args]
    return f"cd {shlex.quote(s.stack_dir)} && " + " ".join(shlex.quote(w) for w in words)


def compose_yml(cfg: Storage) -> str:
    """docker-compose.yml for the stack."""
    from hydra_ops.services.litellm.options import secret_env

    services = {n: s.model_dump() for n, s in cfg.stack.stack_services.items()}
    return render("docker-compose.yml.j2", services=services, secret_dir=cfg.secret_dir,
                  redis_uid=cfg.redis.redis_uid, redis_port=cfg.redis.redis_port,
                  litellm_port=cfg.litellm.litellm_port, litellm_secrets=sorted(set(secret_env(cfg.litellm).values())),
                  agents=cfg.agents.agent_frameworks)


def readiness(cfg: Storage) -> dict[str, str]:
    """Per service, a shell test that passes once it serves (Redis answers NOAUTH once its AOF is loaded)."""
    def healthy(service: str) -> str:
        ps = compose(cfg, "ps", "-q", service)
        return f"test \"$(docker inspect -f '{{{{.State.Health.Status}}}}' $({ps}))\" = healthy"
    checks = {"redis": f"{compose(cfg, 'exec', '-T', 'redis', 'redis-cli', 'ping')} 2>&1 | grep -q NOAUTH",
              "litellm": f"curl -fsS -o /dev/null http://127.0.0.1:{cfg.litellm.litellm_port}/health/readiness"}
    checks.update({service: healthy(service) for service in cfg.agents.agent_frameworks})
    return checks
