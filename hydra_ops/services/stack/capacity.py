"""The stack against the host's facts (read before any change): every cpuset on an online CPU, every mem_limit
plus the headroom within RAM, Redis' maxmemory plus the headroom within RAM (seed 001 Parts 3-4)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hydra_ops.services.redis.options import RedisOptions, redis_bytes
from hydra_ops.services.stack.options import StackOptions, docker_bytes, fmt, gib, parse_cpuset
from hydra_ops.validation import ValidationError


def check_host(stack: StackOptions, redis: RedisOptions | None, resources: Mapping[str, Any],
               host: str = "hydra-storage") -> None:
    """Raise one error naming every key the host cannot honour (resources: facts.resources.HostResources)."""
    online, ram = set(resources["cpus"]), int(resources["mem_bytes"])
    problems = []
    for name, svc in stack.stack_services.items():
        missing = parse_cpuset(svc.cpuset) - online
        if missing:
            problems.append(f"stack_services.{name}.cpuset: {svc.cpuset!r} names cores {fmt(missing)} the host "
                            f"does not have (online: {fmt(online)})")
    headroom = docker_bytes(stack.host_memory_headroom)
    total = sum(docker_bytes(s.mem_limit) for s in stack.stack_services.values())
    if total + headroom > ram:
        problems.append(f"stack_services: mem_limits add up to {gib(total)} + host_memory_headroom {gib(headroom)}"
                        f", more than the host's {gib(ram)} of RAM")
    if redis is not None and "redis" in stack.stack_services and redis_bytes(redis.redis_maxmemory) + headroom > ram:
        problems.append(f"redis_maxmemory: {redis.redis_maxmemory} + host_memory_headroom leaves the host no room "
                        f"(it has {gib(ram)} of RAM)")
    if problems:
        raise ValidationError(host, problems)
