"""Redis as the KV/response cache tier (G4, seed 001 Part 3 Option 2): every option declared once, and the
relation Redis owns (maxmemory below its container's cap, leaving room for fragmentation and AOF rewrites)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from hydra_ops.services.stack.options import StackOptions, checked, docker_bytes
from hydra_ops.settings import Options, Port
from hydra_ops.validation import ValidationError

_REDIS_SIZE = re.compile(r"([0-9]{1,15})(k|kb|m|mb|g|gb)?", re.I)
_SECRET_SAFE = re.compile(r"[A-Za-z0-9._~+/=-]{16,}")  # fits a quoted redis.conf string and a shell word


def redis_bytes(text: str) -> int:
    """A redis.conf size in bytes: '1g' is 10^9 and '1gb' is 2^30, as Redis reads them."""
    m = _REDIS_SIZE.fullmatch(text) if isinstance(text, str) else None
    if not m:
        raise ValueError(f"{text!r} is not a Redis size like '100gb' or '64mb'")
    unit = (m[2] or "").lower()
    base = 1024 if unit.endswith("b") else 1000
    return int(m[1]) * base ** (" kmg".index(unit[:1] or " "))


_size = checked(redis_bytes)
_size.what = "a Redis size like 100gb or 64mb"  # type: ignore[attr-defined]


class RedisOptions(Options):
    """The stack's Redis: maxmemory with LRU eviction and AOF, its password from the secrets through an include."""

    prefixes = ("redis_",)

    redis_port: Port = Field(6379, description="Port Redis is published on.")
    redis_maxmemory: Annotated[str, AfterValidator(_size)] = Field(
        "100gb", description="Memory before eviction (seed 001 Part 3); below the redis service's mem_limit and "
                             "the host's RAM minus host_memory_headroom.")
    redis_maxmemory_policy: Literal["allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-lfu",
                                    "volatile-random", "volatile-ttl", "noeviction"] = Field(
        "allkeys-lru", description="What is evicted at maxmemory; a cache, so any key may go.")
    redis_appendonly: bool = Field(True, description="AOF persistence, so a restart keeps the cache warm.")
    redis_appendfsync: Literal["always", "everysec", "no"] = Field(
        "everysec", description="AOF fsync policy (at most a second lost; always costs throughput).")
    redis_uid: Annotated[str, Field(pattern=r"^[0-9]{1,10}:[0-9]{1,10}$")] = Field(
        "999:999", description="The uid:gid Redis runs as in its image (the official redis user); owns the password "
                               "include.")


def relations(redis: RedisOptions, stack: StackOptions) -> list[str]:
    """maxmemory below the redis container's mem_limit (when the stack runs Redis)."""
    svc = stack.stack_services.get("redis")
    if svc is None or redis_bytes(redis.redis_maxmemory) < docker_bytes(svc.mem_limit):
        return []
    return [f"redis_maxmemory: {redis.redis_maxmemory} is not below stack_services.redis.mem_limit "
            f"{svc.mem_limit}, the redis container's cap (Redis needs room for fragmentation and AOF rewrites)"]


def check_secret_values(values: Mapping[str, str], host: str = "hydra-storage") -> None:
    """Secrets that go into redis.conf and shell words must be plain tokens (names only in the error)."""
    bad = sorted(name for name, value in values.items() if not _SECRET_SAFE.fullmatch(value))
    if bad:
        raise ValidationError(host, [f"secret {n}: use a token of 16+ characters from [A-Za-z0-9._~+/=-] "
                                     "(`hydra secrets rotate` makes one)" for n in bad])
