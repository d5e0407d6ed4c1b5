"""The stack against the host's facts (read before any change): every cpuset on an online CPU, every mem_limit
plus the headroom within RAM, Redis' maxmemory plus the headroom within RAM (seed 001 Parts 3-4), and every
host port the stack publishes free or already its own."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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


def check_ports(doc: Mapping[str, Any], managed: Iterable[str], project: str, holders: Mapping[int, Any],
                host: str = "hydra-storage") -> None:
    """Raise one error naming, for each host port a managed service publishes, any other holder (a process or
    a container that is not that service of this project) (holders: facts.ports.PortHolders)."""
    from hydra_ops.facts.ports import holder

    problems = []
    for name in managed:
        spec = doc["services"][name]
        for mapping in spec.get("ports") or []:
            port = int(str(mapping).rsplit(":", 1)[0].rsplit(":", 1)[-1])
            entry = holders.get(port)
            if entry is None:
                continue
            if not (entry.get("container") and entry.get("project") == project and entry.get("service") == name):
                problems.append(f"stack_services.{name}: host port {port} is already held by {holder(entry)}; "
                                "stop it or publish another port")
    if problems:
        raise ValidationError(host, problems)
