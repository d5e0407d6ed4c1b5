"""Validate group data before any host is touched: every problem is listed at once, in the data's own words."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyinfra.api.exceptions import PyinfraError

DURATION = re.compile(r"^\d+(ms|s|m|h|d)?$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
MODEL = re.compile(r"^[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9._-]+)?$")
LB_METHODS = ("least_conn", "round_robin", "ip_hash")
SAFE_PATH = re.compile(r"^/[A-Za-z0-9._+@/-]*$")
NIX_ATTR = re.compile(r"^[A-Za-z_][A-Za-z0-9_'-]*(\.[A-Za-z_][A-Za-z0-9_'-]*)*$")


class ValidationError(PyinfraError):
    """Group data that cannot be deployed; the message lists every problem found."""

    def __init__(self, host: str, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid group data for {host} (nothing was changed):\n{lines}")


@dataclass(frozen=True)
class Settings:
    """A host's validated group data (attribute access to every key), plus derived Ollama instances for compute."""

    data: Mapping[str, Any]
    instances: tuple[Any, ...] = ()

    def __getattr__(self, name: str) -> Any:
        return self.data[name]


class _Checker:
    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data, self.problems = data, []

    def get(self, key: str) -> Any:
        if key not in self.data:
            self.problems.append(f"{key}: missing (set it in group_data)")
            return None
        return self.data[key]

    def typed(self, key: str, kind: type, what: str) -> Any:
        """The value if it is of the given type; otherwise record a problem and return None."""
        value = self.get(key)
        if value is not None and not isinstance(value, kind):
            self.problems.append(f"{key}: {value!r} is not {what}")
            return None
        return value

    def each(self, key: str, items: Any, bad: Any, what: str) -> None:
        """Record every item for which bad(item) is true."""
        self.problems += [f"{key}: {item!r} {what}" for item in items or () if bad(item)]

    def int_range(self, key: str, lo: int, hi: int) -> None:
        value = self.get(key)
        if value is not None and (not _is_int(value) or not lo <= value <= hi):
            self.problems.append(f"{key}: {value!r} is not an integer in {lo}..{hi}")

    def match(self, key: str, pattern: re.Pattern[str], what: str) -> None:
        value = self.get(key)
        if value is not None and (not isinstance(value, str) or not pattern.match(value)):
            self.problems.append(f"{key}: {value!r} is not {what}")

    def url(self, key: str) -> None:
        value = self.get(key)
        if value is not None and (not isinstance(value, str) or not re.match(r"^https?://\S+$", value)):
            self.problems.append(f"{key}: {value!r} is not an http(s) URL")

    def address(self, key: str) -> None:
        value = self.get(key)
        try:
            ipaddress.ip_address(value)
        except ValueError:
            self.problems.append(f"{key}: {value!r} is not an IP address")

    def path(self, key: str) -> None:
        value = self.get(key)
        if value is not None and (not isinstance(value, str) or not SAFE_PATH.match(value)
                                  or "/../" in f"{value}/"):
            self.problems.append(f"{key}: {value!r} is not an absolute path (letters, digits, . _ - + @ / only)")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_gpus(instances: Sequence[Any], gpus: list[dict[str, Any]], host: str = "hydra-compute") -> None:
    """Every instance's GPU index must be one nvidia-smi shows on the host."""
    present = {g["index"] for g in gpus}
    problems = [
        f"ollama_instances: GPU {i.gpu} (port {i.port}) does not exist on {host}; nvidia-smi shows "
        + (", ".join(f"{g['index']} ({g['name']})" for g in gpus) or "no GPUs")
        for i in instances if i.gpu not in present
    ]
    if problems:
        raise ValidationError(host, problems)


@dataclass(frozen=True)
class SecretsConfig:
    """A host's validated G3 settings."""

    secret_dir: str
    files: tuple[dict[str, str], ...]

    @property
    def needed(self) -> list[str]:
        return [f["secret"] for f in self.files]


def validate_secrets(data: Mapping[str, Any], host: str) -> SecretsConfig:
    """Check G3 group data: known secret names, well-formed secret_files, an absolute secret_dir."""
    c = _Checker(data)
    for key in ("secrets_file", "sops_config", "age_key_file"):
        c.match(key, re.compile(r"^\S+$"), "a path")
    c.path("secret_dir")
    names = c.typed("secret_names", list, "a list of secret names") or []
    c.each("secret_names", names, lambda n: not isinstance(n, str) or not re.match(r"^[a-z][a-z0-9_]*$", n),
           "is not a lower_snake_case name")
    files = c.typed("secret_files", list, "a list of {secret, owner, group}") or []
    ok = [f for f in files if isinstance(f, dict) and set(f) == {"secret", "owner", "group"}]
    c.each("secret_files", [f for f in files if f not in ok], lambda f: True, "must be exactly {secret, owner, group}")
    c.each("secret_files", [f["secret"] for f in ok], lambda n: n not in names, "is not listed in secret_names")
    seen = [f["secret"] for f in ok]
    c.each("secret_files", sorted({n for n in seen if seen.count(n) > 1}), lambda n: True, "is listed twice")
    if c.problems:
        raise ValidationError(host, c.problems)
    return SecretsConfig(secret_dir=data["secret_dir"], files=tuple(ok))


def validate_ai(data: Mapping[str, Any], host: str = "hydra-ai") -> Settings:
    """Check G10 group data (TabbyAPI install, service, config.yml); raise naming every bad key."""
    c = _Checker(data)
    c.match("tabby_revision", re.compile(r"^[0-9A-Za-z._-]+$"), "a revision label")
    c.url("tabby_source_url")
    sha = c.get("tabby_source_sha256")
    if sha == "":
        c.problems.append("tabby_source_sha256: not set; download tabby_source_url once, check it, and pin its "
                          "sha256 in group_data/ai.py (nothing unverified is installed)")
    else:
        c.match("tabby_source_sha256", SHA256, "a sha256 (64 lowercase hex digits)")
    packages = c.typed("tabby_pip_packages", list, "a list of pip requirement specs")
    c.each("tabby_pip_packages", packages, lambda p: not isinstance(p, str) or not p.strip() or "\n" in p,
           "is not a requirement spec")
    args = c.typed("tabby_pip_args", list, "a list of pip arguments")
    c.each("tabby_pip_args", args, lambda a: not isinstance(a, str), "is not a string")
    nix_pkgs = c.typed("tabby_nix_packages", list, "a list of nixpkgs attributes")
    c.each("tabby_nix_packages", nix_pkgs, lambda p: not isinstance(p, str) or not NIX_ATTR.match(p),
           "is not a nixpkgs attribute path")
    if not isinstance(c.get("tabby_open_firewall"), bool):
        c.problems.append(f"tabby_open_firewall: {data.get('tabby_open_firewall')!r} is not true/false")
    c.path("tabby_install_root")
    c.path("tabby_model_dir")
    c.match("tabby_user", re.compile(r"^[a-z_][a-z0-9_-]{0,31}$"), "a user name")
    c.address("tabby_host")
    c.int_range("tabby_port", 1, 65535)
    gpus = c.typed("tabby_gpus", list, "a list of GPU indices")
    c.each("tabby_gpus", gpus, lambda g: not _is_int(g) or g < 0, "is not a GPU index")
    for key, lo, hi in (("tabby_restart_sec", 0, 3600), ("tabby_start_limit_burst", 1, 100),
                        ("tabby_start_limit_interval_sec", 1, 86400), ("tabby_timeout_start_sec", 1, 7200),
                        ("tabby_min_free_vram_mib", 0, 1 << 20), ("tabby_vram_wait_sec", 0, 3600),
                        ("tabby_max_seq_len", 256, 1 << 21)):
        c.int_range(key, lo, hi)
    for key in ("tabby_require_mount", "tabby_tensor_parallel", "tabby_gpu_split_auto"):
        if not isinstance(c.get(key), bool):
            c.problems.append(f"{key}: {data.get(key)!r} is not true/false")
    c.match("tabby_model_name", re.compile(r"^[A-Za-z0-9._-]+$"), "a model directory name")
    c.match("tabby_draft_model_name", re.compile(r"^[A-Za-z0-9._-]*$"), "a model directory name or empty")
    backend = c.get("tabby_backend")
    if backend not in ("exllamav2", "exllamav3"):
        c.problems.append(f"tabby_backend: {backend!r} is not exllamav2 or exllamav3")
    c.match("tabby_cache_mode", re.compile(r"^(FP16|Q8|Q6|Q4)$"), "one of FP16, Q8, Q6, Q4")
    c.match("tabby_pytorch_alloc_conf", re.compile(r"^[\w:,.]+$"), "a PYTORCH_CUDA_ALLOC_CONF value")
    for key in ("tabby_gpu_split", "tabby_autosplit_reserve"):
        c.each(key, c.typed(key, list, "a list of numbers"), lambda n: not isinstance(n, (int, float)) or n < 0,
               "is not a non-negative number")
    c.url("model_base_url")
    c.path("model_download_dir")
    _models(c)
    if c.problems:
        raise ValidationError(host, c.problems)
    return Settings(data=data, instances=())


def _models(c: _Checker) -> None:
    models = c.typed("tabby_models", list, "a list of {repo, revision, dest, files}") or []
    for n, m in enumerate(models):
        where = f"tabby_models[{n}]"
        if not isinstance(m, dict) or set(m) != {"repo", "revision", "dest", "files"}:
            c.problems.append(f"{where}: must be exactly {{repo, revision, dest, files}}")
            continue
        if not re.match(r"^[\w.-]+/[\w.-]+$", str(m["repo"])):
            c.problems.append(f"{where}.repo: {m['repo']!r} is not owner/name")
        if not re.match(r"^[\w.-]+$", str(m["revision"])) or not re.match(r"^[\w.-]+$", str(m["dest"])):
            c.problems.append(f"{where}: revision and dest must be plain names")
        files = m["files"]
        if not isinstance(files, dict) or not files:
            c.problems.append(f"{where}.files: no files pinned; list each file with its sha256 (nothing is "
                              "downloaded unchecked)")
            continue
        c.each(f"{where}.files", sorted(files), lambda f: not re.match(r"^[\w.-]+(/[\w.-]+)*$", f) or ".." in f,
               "is not a safe relative file name")
        c.each(f"{where}.files", sorted(files), lambda f, files=files: not SHA256.match(str(files[f])),
               "has no valid sha256")


CANARY_KEYS = {"revision", "source_url", "source_sha256", "pip_packages", "pip_args", "port", "backend",
               "model_dir", "model_name", "cache_mode", "gpu_split", "gpu_split_auto", "autosplit_reserve",
               "max_seq_len", "draft_model_name"}


def canary_data(data: Mapping[str, Any]) -> dict[str, Any] | None:
    """The canary's full settings: the stable ones with tabby_canary's overrides applied (None without a canary)."""
    overrides = data.get("tabby_canary") or {}
    if not overrides:
        return None
    return {**data, **{f"tabby_{key}": value for key, value in overrides.items()}}


def validate_tabby_roles(
    data: Mapping[str, Any], host: str = "hydra-ai",
) -> tuple[Settings, Settings | None]:
    """Validate the stable install and, when configured, the canary (as stable + overrides)."""
    problems = []
    overrides = data.get("tabby_canary")
    if not isinstance(overrides, dict):
        problems.append(f"tabby_canary: {overrides!r} is not a mapping")
        overrides = {}
    unknown = sorted(set(overrides) - CANARY_KEYS)
    if unknown:
        problems.append(f"tabby_canary: unknown settings {', '.join(unknown)} "
                        f"(allowed: {', '.join(sorted(CANARY_KEYS))})")
    if overrides and overrides.get("port", data.get("tabby_port")) == data.get("tabby_port"):
        problems.append("tabby_canary: needs its own port (seed 002 uses 5001)")
    serving = data.get("tabby_serving")
    if serving not in ("stable", "canary"):
        problems.append(f"tabby_serving: {serving!r} is not stable or canary")
    elif serving == "canary" and not overrides:
        problems.append("tabby_serving: 'canary' but tabby_canary is empty")
    if problems:
        raise ValidationError(host, problems)
    stable = validate_ai(data, host)
    merged = canary_data(data)
    return stable, (validate_ai(merged, f"{host} (canary)") if merged else None)
