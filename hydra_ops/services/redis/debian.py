"""Redis inside the stack (any platform): redis.conf and the 0600 password include in place; and on Debian
vm.overcommit_memory=1 persisted (and applied live where allowed) so AOF rewrites can fork."""

from __future__ import annotations

from io import StringIO

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.api.operation import OperationMeta
from pyinfra.facts.server import Command
from pyinfra.operations import files, server

from hydra_ops.operations import backup
from hydra_ops.operations.secret import secret_file
from hydra_ops.services.redis.options import RedisOptions
from hydra_ops.services.redis.state import SYSCTL, SYSCTL_FILE, auth_include, redis_conf


def overcommit(apply_live: bool) -> None:
    """vm.overcommit_memory=1 persisted in /etc/sysctl.d, and applied to the running kernel when allowed."""
    sysctl = files.put(name="G4: vm.overcommit_memory=1 persisted (AOF rewrite forks)", dest=SYSCTL_FILE,
                       src=StringIO(SYSCTL), mode="644")
    if apply_live:
        live = (host.get_fact(Command, command="cat /proc/sys/vm/overcommit_memory") or "").strip()
        server.shell(name="G4: vm.overcommit_memory=1 applied", _if=lambda: sysctl.did_change() or live != "1",
                     commands=["sysctl -q -w vm.overcommit_memory=1"])


@deploy("G4 Redis")
def redis_tier(o: RedisOptions, stack_dir: str, secret_dir: str, password: str) -> list[OperationMeta]:
    """redis.conf and the password include in place; returns the ops whose change needs a Redis restart."""
    files.directory(name="G4: redis config directory", path=f"{stack_dir}/redis", mode="755")
    conf = backup.put("G4: redis.conf (maxmemory, policy, AOF)", stack_dir, "redis/redis.conf", redis_conf(o), "644")
    uid, gid = o.redis_uid.split(":")
    auth = secret_file(name="G4: redis password include (0600, redis user)", dest=f"{secret_dir}/redis-auth.conf",
                       content=auth_include(password), user=uid, group=gid)
    return [op for op in (conf, auth) if op is not None]
