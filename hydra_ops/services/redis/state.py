"""Redis' desired state on any platform: redis.conf (maxmemory, policy, AOF) that takes its password from an
include the compose file mounts, never from the file itself or a command line."""

from __future__ import annotations

from hydra_ops.render import render
from hydra_ops.services.redis.options import RedisOptions

SYSCTL_FILE = "/etc/sysctl.d/60-hydra-redis.conf"
SYSCTL = "# Managed by hydra-ops (G4): Redis forks for AOF rewrites\nvm.overcommit_memory = 1\n"
AUTH_INCLUDE = "/run/secrets/redis-auth.conf"  # where the compose file mounts <secret_dir>/redis-auth.conf


def redis_conf(o: RedisOptions) -> str:
    """redis.conf as the stack's Redis runs it."""
    return render("redis.conf.j2", maxmemory=o.redis_maxmemory, policy=o.redis_maxmemory_policy,
                  appendonly=o.redis_appendonly, appendfsync=o.redis_appendfsync, auth_include=AUTH_INCLUDE)


def auth_include(password: str) -> str:
    """The 0600 include that carries the password."""
    return render("redis-auth.conf.j2", password=password)
