"""G4 KV/cache tier: Redis with maxmemory (100gb by default), allkeys-lru and AOF, its password from the secrets
through a 0600 include (never on a command line), and vm.overcommit_memory=1 so AOF rewrites can fork."""

from __future__ import annotations

from io import StringIO

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.api.operation import OperationMeta
from pyinfra.facts.server import Command
from pyinfra.operations import files, server

from hydra_ops.operations.secret import secret_file
from hydra_ops.render import render
from hydra_ops.validation import Settings

SYSCTL_FILE = "/etc/sysctl.d/60-hydra-redis.conf"
AUTH_INCLUDE = "/run/secrets/redis-auth.conf"  # where the compose file mounts <secret_dir>/redis-auth.conf


def redis_conf(cfg: Settings) -> str:
    return render("redis.conf.j2", maxmemory=cfg.redis_maxmemory, policy=cfg.redis_maxmemory_policy,
                  appendonly=cfg.redis_appendonly, appendfsync=cfg.redis_appendfsync, auth_include=AUTH_INCLUDE)


@deploy("G4 Redis")
def redis_tier(cfg: Settings, password: str) -> list[OperationMeta]:
    """redis.conf and the password include in place; returns the ops whose change needs a Redis restart."""
    sysctl = files.put(name="G4: vm.overcommit_memory=1 persisted (AOF rewrite forks)", dest=SYSCTL_FILE,
                       src=StringIO("# Managed by hydra-ops (G4): Redis forks for AOF rewrites\n"
                                    "vm.overcommit_memory = 1\n"), mode="644")
    if cfg.apply_sysctls_live:
        live = (host.get_fact(Command, command="cat /proc/sys/vm/overcommit_memory") or "").strip()
        server.shell(name="G4: vm.overcommit_memory=1 applied", _if=lambda: sysctl.did_change() or live != "1",
                     commands=["sysctl -q -w vm.overcommit_memory=1"])
    files.directory(name="G4: redis config directory", path=f"{cfg.stack_dir}/redis", mode="755")
    conf = files.put(name="G4: redis.conf (maxmemory, policy, AOF)", dest=f"{cfg.stack_dir}/redis/redis.conf",
                     src=StringIO(redis_conf(cfg)), mode="644")
    uid, gid = cfg.redis_uid.split(":")
    auth = secret_file(name="G4: redis password include (0600, redis user)", dest=f"{cfg.secret_dir}/redis-auth.conf",
                       content=render("redis-auth.conf.j2", password=password), user=uid, group=gid)
    return [op for op in (conf, auth) if op is not None]

