"""G4 on a live host, read-only: the stack's Redis runs pinned and its config sets the configured maxmemory,
policy and AOF and takes its password from the include (the audit found no memory limit and caching unused)."""

from __future__ import annotations

from pyinfra.api import Host

from hydra_ops.detectors import CLOSED, OPEN, Finding
from hydra_ops.services.stack.detect import read, service


def detect(host: Host) -> Finding:
    """Open, closed or unknown (group data that does not validate), with the evidence for it."""
    found = service(host, "redis")
    if isinstance(found, Finding):
        return found
    cfg, ok, line = found
    conf = read(host, f"{cfg.stack.stack_dir}/redis/redis.conf").splitlines()
    r = cfg.redis
    want = {f"maxmemory {r.redis_maxmemory}", f"maxmemory-policy {r.redis_maxmemory_policy}",
            f"appendonly {'yes' if r.redis_appendonly else 'no'}"}
    missing = sorted(want - set(conf))
    closed = ok and not missing and any(entry.startswith("include ") for entry in conf)
    return Finding(CLOSED if closed else OPEN, [line, f"redis.conf: {'as configured' if not missing else missing}"])
