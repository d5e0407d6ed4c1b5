"""hydra-storage's compose stack as data: parse and check cpusets, sizes, images, Redis and LiteLLM settings
before any host is touched (seed 001 Parts 3-5). Host-dependent checks (CPUs, RAM) take the host's facts."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from itertools import combinations
from typing import Any

from hydra_ops import TEMPLATES
from hydra_ops.validation import MODEL, Settings, ValidationError, _Checker

SERVICE = re.compile(r"^[a-z][a-z0-9-]*$")
CPUSET = re.compile(r"^\d+(-\d+)?(,\d+(-\d+)?)*$")
DOCKER_SIZE = re.compile(r"^(\d+)([bkmg]?)$", re.I)
REDIS_SIZE = re.compile(r"^(\d+)(k|kb|m|mb|g|gb)?$", re.I)
REDIS_POLICIES = ("allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-lfu", "volatile-random",
                  "volatile-ttl", "noeviction")
SECRET_SAFE = re.compile(r"^[A-Za-z0-9._~+/=-]{16,}$")  # fits a quoted redis.conf string and a shell word
SERVICE_KEYS = {"image", "cpuset", "mem_limit", "cpu_pool", "ports"}
PORT_MAP = re.compile(r"^(\d{1,3}(\.\d{1,3}){3}:)?\d{1,5}:\d{1,5}$")


def parse_cpuset(text: str) -> set[int]:
    """'8-11,20' -> {8, 9, 10, 11, 20}; ValueError on anything docker would refuse."""
    if not isinstance(text, str) or not CPUSET.match(text):
        raise ValueError(f"{text!r} is not a cpuset like '8-11' or '0,2-3'")
    cpus: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        if hi and int(hi) < int(lo):
            raise ValueError(f"{text!r}: range {part} runs backwards")
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus


def docker_bytes(text: str) -> int:
    """A docker size ('512m', '32g'; binary units) in bytes."""
    m = DOCKER_SIZE.match(str(text))
    if not m:
        raise ValueError(f"{text!r} is not a docker size like '512m' or '32g'")
    return int(m[1]) * 1024 ** "bkmg".index((m[2] or "b").lower())


def redis_bytes(text: str) -> int:
    """A redis.conf size in bytes: '1g' is 10^9 and '1gb' is 2^30, as Redis reads them."""
    m = REDIS_SIZE.match(str(text))
    if not m:
        raise ValueError(f"{text!r} is not a Redis size like '100gb' or '64mb'")
    unit = (m[2] or "").lower()
    base = 1024 if unit.endswith("b") else 1000
    return int(m[1]) * base ** (" kmg".index(unit[:1] or " "))


def pinned(image: str) -> bool:
    """An image reference with a digest or an explicit tag other than 'latest'."""
    if "@sha256:" in image:
        return True
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and tag not in ("", "latest")


def validate_storage(data: Mapping[str, Any], host: str = "hydra-storage") -> Settings:
    """Check the stack, G4 Redis and G5 LiteLLM group data; raise naming every bad key, or return it typed."""
    c = _Checker(data)
    for key in ("stack_dir",):
        c.path(key)
    c.match("compose_project", SERVICE, "a lower-case project name")
    cmd = c.typed("compose_command", list, "a command as a list, like ['docker-compose']")
    c.each("compose_command", cmd, lambda w: not isinstance(w, str) or not w, "is not a word")
    c.typed("docker_packages", list, "a list of Debian packages")
    c.typed("apply_sysctls_live", bool, "true or false")
    services = c.typed("stack_services", dict, "a mapping of service name -> settings") or {}
    reserved_text = data.get("host_reserved_cpuset")
    reserved = _cpuset(c, "host_reserved_cpuset", reserved_text) if reserved_text != "" else set()
    _parsed(docker_bytes, data.get("host_memory_headroom"), c, "host_memory_headroom")
    cpus: dict[str, set[int]] = {}
    for name, svc in services.items():
        key = f"stack_services.{name}"
        if not SERVICE.match(str(name)) or not isinstance(svc, dict):
            c.problems.append(f"{key}: needs a lower-case name and a mapping of {sorted(SERVICE_KEYS)}")
            continue
        c.each(key, sorted(set(svc) - SERVICE_KEYS), lambda k: True, "is not a service setting")
        c.each(key, sorted({"image", "cpuset", "mem_limit"} - set(svc)), lambda k: True, "is missing")
        if "image" in svc and not (isinstance(svc["image"], str) and pinned(svc["image"])):
            c.problems.append(f"{key}.image: {svc['image']!r} is not pinned (give a release tag or a digest)")
        c.each(f"{key}.ports", svc.get("ports", []), lambda p: not PORT_MAP.match(str(p)),
               "is not a port mapping like '5432:5432'")
        _parsed(docker_bytes, svc.get("mem_limit", "0"), c, f"{key}.mem_limit")
        cpus[name] = _cpuset(c, f"{key}.cpuset", svc.get("cpuset", "0"))
        if reserved and cpus[name] & reserved:
            c.problems.append(f"{key}.cpuset: {svc['cpuset']!r} overlaps host_reserved_cpuset "
                              f"{data['host_reserved_cpuset']!r} (cores {_fmt(cpus[name] & reserved)})")
    pools = {n: services[n].get("cpu_pool", n) for n in cpus}
    for a, b in combinations(sorted(cpus), 2):
        if pools[a] != pools[b] and cpus[a] & cpus[b]:
            c.problems.append(f"stack_services: {a} ({services[a]['cpuset']}) and {b} ({services[b]['cpuset']}) "
                              f"overlap on cores {_fmt(cpus[a] & cpus[b])}; give both the same cpu_pool to share")
    _builds(c, data)
    if "redis" in services:
        _redis(c, data)
    if "litellm" in services:
        _litellm(c, data, services)
    if "ollama-cpu" in services:
        models = c.typed("ollama_cpu_models", list, "a list of model names") or []
        c.each("ollama_cpu_models", models, lambda m: not isinstance(m, str) or not MODEL.match(m),
               "is not a model name")
    if c.problems:
        raise ValidationError(host, c.problems)
    return Settings(data=data, instances=())


def _builds(c: _Checker, data: Mapping[str, Any]) -> None:
    builds = c.typed("stack_builds", dict, "a mapping of image tag -> {template, vars}") or {}
    for tag, spec in builds.items():
        if not isinstance(spec, dict) or set(spec) != {"template", "vars"} or not isinstance(spec["vars"], dict):
            c.problems.append(f"stack_builds.{tag}: must be exactly {{template, vars}}")
        elif not (TEMPLATES / "images" / str(spec["template"])).is_file():
            c.problems.append(f"stack_builds.{tag}.template: no templates/images/{spec['template']}")
        if not pinned(str(tag)):
            c.problems.append(f"stack_builds: {tag!r} is not a pinned tag")
    bases = c.typed("stack_base_images", list, "a list of {tag, url, sha256}") or []
    c.each("stack_base_images", bases, lambda b: not isinstance(b, dict) or set(b) != {"tag", "url", "sha256"},
           "must be exactly {tag, url, sha256}")


def _redis(c: _Checker, data: Mapping[str, Any]) -> None:
    c.int_range("redis_port", 1, 65535)
    maxmemory = _parsed(redis_bytes, data.get("redis_maxmemory"), c, "redis_maxmemory")
    c.each("redis_maxmemory_policy", [data.get("redis_maxmemory_policy")], lambda p: p not in REDIS_POLICIES,
           f"is not one of {', '.join(REDIS_POLICIES)}")
    c.typed("redis_appendonly", bool, "true or false")
    c.each("redis_appendfsync", [data.get("redis_appendfsync")], lambda p: p not in ("always", "everysec", "no"),
           "is not always, everysec or no")
    c.match("redis_uid", re.compile(r"^\d+:\d+$"), "uid:gid numbers")
    svc = data["stack_services"]["redis"]
    limit = _parsed(docker_bytes, svc.get("mem_limit"))
    if maxmemory and limit and maxmemory >= limit:
        c.problems.append(f"redis_maxmemory: {data['redis_maxmemory']} is not below the redis container's "
                          f"mem_limit {svc['mem_limit']} (Redis needs room for fragmentation and AOF rewrites)")


def _litellm(c: _Checker, data: Mapping[str, Any], services: Mapping[str, Any]) -> None:
    c.int_range("litellm_port", 1, 65535)
    c.int_range("litellm_num_retries", 0, 10)
    c.int_range("litellm_request_timeout", 1, 86400)
    c.int_range("litellm_cache_ttl", 1, 30 * 86400)
    c.match("litellm_routing_strategy", re.compile(r"^[a-z-]+$"), "a router strategy name")
    c.typed("litellm_drop_params", bool, "true or false")
    cache = c.typed("litellm_cache", bool, "true or false")
    needed = {"litellm_master_key"} | ({"redis_password"} if cache else set())
    c.each("secret_files", sorted(needed - _secret_files(data)), lambda n: True,
           "lacks an entry LiteLLM reads (add {secret, owner, group} for it)")
    if cache and "redis" not in services:
        c.problems.append("litellm_cache: true needs the redis service in stack_services")
    backends = c.typed("litellm_backends", dict, "a mapping of backend -> {host, port, path}") or {}
    for name, b in backends.items():
        if not isinstance(b, dict) or set(b) - {"api_key_secret"} != {"host", "port", "path"} \
                or not _port(b.get("port")):
            c.problems.append(f"litellm_backends.{name}: must be {{host, port (1..65535), path[, api_key_secret]}}")
        elif b.get("api_key_secret") and b["api_key_secret"] not in _secret_files(data):
            c.problems.append(f"litellm_backends.{name}.api_key_secret: {b['api_key_secret']!r} is not in "
                              "secret_files, so it would never reach the host")
    models = c.typed("litellm_models", dict, "a mapping of model name -> {backend, model, ...}") or {}
    for name, m in models.items():
        if not isinstance(m, dict) or not {"backend", "model"} <= set(m):
            c.problems.append(f"litellm_models.{name}: needs backend and model")
        elif m["backend"] not in backends:
            c.problems.append(f"litellm_models.{name}.backend: {m['backend']!r} is not in litellm_backends")
    fallbacks = c.typed("litellm_fallbacks", dict, "a mapping of model -> [fallback models]") or {}
    for name, chain in fallbacks.items():
        unknown = [m for m in [name, *(chain if isinstance(chain, list) else [chain])] if m not in models]
        if unknown or not isinstance(chain, list):
            c.problems.append(f"litellm_fallbacks.{name}: {chain!r} names models not in litellm_models: {unknown}")


def _secret_files(data: Mapping[str, Any]) -> set[str]:
    return {f.get("secret") for f in data.get("secret_files") or [] if isinstance(f, dict)}


def check_host(cfg: Settings, resources: Mapping[str, Any], host: str = "hydra-storage") -> None:
    """Compare the stack with the host's facts: every cpuset on an online CPU, limits + headroom within RAM."""
    online, ram = set(resources["cpus"]), int(resources["mem_bytes"])
    problems = []
    for name, svc in cfg.stack_services.items():
        missing = parse_cpuset(svc["cpuset"]) - online
        if missing:
            problems.append(f"stack_services.{name}.cpuset: {svc['cpuset']!r} names cores {_fmt(missing)} the host "
                            f"does not have (online: {_fmt(online)})")
    headroom = docker_bytes(cfg.host_memory_headroom)
    total = sum(docker_bytes(s["mem_limit"]) for s in cfg.stack_services.values())
    if total + headroom > ram:
        problems.append(f"stack_services: mem_limits add up to {_gib(total)} + host_memory_headroom {_gib(headroom)}"
                        f", more than the host's {_gib(ram)} of RAM")
    if "redis" in cfg.stack_services and redis_bytes(cfg.redis_maxmemory) + headroom > ram:
        problems.append(f"redis_maxmemory: {cfg.redis_maxmemory} + host_memory_headroom leaves the host no room "
                        f"(it has {_gib(ram)} of RAM)")
    if problems:
        raise ValidationError(host, problems)


def check_secret_values(values: Mapping[str, str], host: str = "hydra-storage") -> None:
    """Secrets that go into redis.conf and shell words must be plain tokens (names only in the error)."""
    bad = sorted(name for name, value in values.items() if not SECRET_SAFE.match(value))
    if bad:
        raise ValidationError(host, [f"secret {n}: use a token of 16+ characters from [A-Za-z0-9._~+/=-] "
                                     "(`hydra secrets rotate` makes one)" for n in bad])


def _cpuset(c: _Checker, key: str, value: Any) -> set[int]:
    return _parsed(parse_cpuset, value, c, key) or set()


def _parsed(parse: Callable[[Any], Any], value: Any, c: _Checker | None = None, key: str = "") -> Any:
    """parse(value), or None with the parser's complaint recorded under key (when a checker is given)."""
    try:
        return parse(value)
    except (ValueError, TypeError) as exc:
        if c is not None:
            c.problems.append(f"{key}: {exc}")
        return None


def _port(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535


def _fmt(cpus: set[int]) -> str:
    return ",".join(str(n) for n in sorted(cpus))


def _gib(n: int) -> str:
    return f"{n / 1024 ** 3:.1f} GiB"
