"""hydra-storage's compose project (the stack every storage service runs in): every option declared once, with
the parsers of cpusets and sizes and the checks between services (cores shared only within a pool, seed 001 Part 4).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from itertools import combinations
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from hydra_ops import TEMPLATES
from hydra_ops.settings import AbsPath, Options, PublishAddress, Sha256, Url

_CPUSET = re.compile(r"[0-9]{1,4}(-[0-9]{1,4})?(,[0-9]{1,4}(-[0-9]{1,4})?)*")
_DOCKER_SIZE = re.compile(r"([0-9]{1,15})([bkmg]?)", re.I)
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE = re.compile(rf"(?:[A-Za-z0-9.-]+(?::[0-9]{{1,5}})?/)?{_COMPONENT}(?:/{_COMPONENT})*"
                    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@sha256:(?P<digest>[0-9a-f]{64}))?")
_NAME = re.compile(r"[a-z][a-z0-9-]{0,62}")
_PORT_MAP = re.compile(r"(?:(?P<ip>[0-9.]+):)?(?P<host>[0-9]{1,5}):(?P<container>[0-9]{1,5})")
MAX_CPU = 8191  # the kernel's largest NR_CPUS


def parse_cpuset(text: str) -> set[int]:
    """'8-11,20' -> {8, 9, 10, 11, 20}; ValueError on anything docker would refuse."""
    if not isinstance(text, str) or not _CPUSET.fullmatch(text):
        raise ValueError(f"{text!r} is not a cpuset like '8-11' or '0,2-3'")
    cpus: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        if hi and int(hi) < int(lo):
            raise ValueError(f"{text!r}: range {part} runs backwards")
        if int(hi or lo) > MAX_CPU:
            raise ValueError(f"{text!r}: core {hi or lo} is beyond {MAX_CPU}")
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus


def docker_bytes(text: str) -> int:
    """A docker size ('512m', '32g'; binary units) in bytes."""
    m = _DOCKER_SIZE.fullmatch(text) if isinstance(text, str) else None
    if not m:
        raise ValueError(f"{text!r} is not a docker size like '512m' or '32g'")
    return int(m[1]) * 1024 ** "bkmg".index((m[2] or "b").lower())


def pinned(image: str) -> bool:
    """A well-formed image reference with a digest or an explicit tag other than 'latest'."""
    m = _IMAGE.fullmatch(image) if isinstance(image, str) and len(image) <= 512 else None
    return bool(m) and bool(m["digest"] or (m["tag"] and m["tag"] != "latest"))  # type: ignore[index]


def checked(parse: Callable[[str], object]) -> Callable[[str], str]:
    """A validator from a parser: the parser's complaint without the value (the error message shows it)."""
    def check(text: str) -> str:
        try:
            parse(text)
        except ValueError as exc:
            raise ValueError(str(exc).removeprefix(f"{text!r}").lstrip(": ")) from None
        return text
    return check


_cpuset = checked(parse_cpuset)
_size = checked(docker_bytes)


def _image(text: str) -> str:
    if not pinned(text):
        raise ValueError("is not pinned (give a release tag other than latest, or a digest)")
    return text


def _name(text: str) -> str:
    if not _NAME.fullmatch(text):
        raise ValueError("is not a lower-case name (letters, digits, -)")
    return text


def _port_map(text: str) -> str:
    m = _PORT_MAP.fullmatch(text)
    ok = bool(m) and all(1 <= int(m[p]) <= 65535 for p in ("host", "container"))  # type: ignore[index]
    try:
        ok = ok and (m["ip"] is None or bool(ipaddress.IPv4Address(m["ip"])))  # type: ignore[index]
    except ValueError:
        ok = False
    if not ok:
        raise ValueError("is not a port mapping like '5432:5432' or '127.0.0.1:5432:5432'")
    if m["ip"] and ipaddress.IPv4Address(m["ip"]).is_unspecified:  # type: ignore[index]
        raise ValueError("publishes on every interface; give one address or none (stack_publish_address)")
    return text


def _word(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._/+=-]{1,255}", text):
        raise ValueError("is not a command word (letters, digits, . _ / + = -)")
    return text


_cpuset.what = "a cpuset like 8-11,20"  # type: ignore[attr-defined]
_size.what = "a docker size like 512m or 32g"  # type: ignore[attr-defined]
_image.what = "a pinned image reference"  # type: ignore[attr-defined]
_name.what = "a lower-case name"  # type: ignore[attr-defined]

Cpuset = Annotated[str, AfterValidator(_cpuset)]
DockerSize = Annotated[str, AfterValidator(_size)]
Image = Annotated[str, AfterValidator(_image)]
Name = Annotated[str, AfterValidator(_name)]
PortMap = Annotated[str, AfterValidator(_port_map)]
Word = Annotated[str, AfterValidator(_word)]
#: services the renderers know how to configure; any other service gets image, cores, memory and ports only
Role = Literal["redis", "litellm", "postgres", "ollama-cpu", "qdrant", "n8n", "prometheus", "alertmanager",
               "uptime-kuma", "node-exporter", "blackbox"]
Capability = Annotated[str, Field(pattern=r"^[A-Z][A-Z_]{1,31}$")]
DebPackage = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9+.-]{1,127}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Service(_Strict):
    """One compose service: its pinned image, the cores it runs on, its memory cap, published ports."""

    image: Image = Field(description="Pinned image (a release tag or a digest; never latest).")
    cpuset: Cpuset = Field(description="Cores the container may run on (docker --cpuset-cpus).")
    mem_limit: DockerSize = Field(description="Memory cap of the container.")
    cpu_pool: Name | None = Field(None, description="Services in the same pool may share cores (default: own).")
    ports: list[PortMap] = Field(default_factory=list, description="Published ports, 'address:host:container', or "
                                 "'host:container' on stack_publish_address.")
    cap_add: list[Capability] = Field(default_factory=list, description="Capabilities given back after dropping "
                                      "all (only what the image's entrypoint needs, e.g. Postgres' chown/setuid).")
    user: Annotated[str, Field(pattern=r"^[0-9]{1,10}:[0-9]{1,10}$")] | None = Field(
        None, description="uid:gid the container runs as (its secret files belong to it); None: the image's user.")
    read_only: bool = Field(False, description="Read-only root filesystem (a tmpfs on /tmp); data stays writable "
                                               "in its volume.")
    role: Role | None = Field(None, description="What the service is when its name does not say it (an adopted "
                                                "project's CPU Ollama named 'ollama': role ollama-cpu).")

    @field_validator("mem_limit")
    @classmethod
    def _enough(cls, text: str) -> str:
        if docker_bytes(text) < 6 * 1024 ** 2:
            raise ValueError("is below docker's smallest memory limit (6m)")
        return text


class Build(_Strict):
    """An image built on the host: a Dockerfile template under templates/images/ and the values it renders with."""

    template: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,128}$")]
    vars: dict[str, Any]

    @field_validator("template")
    @classmethod
    def _exists(cls, name: str) -> str:
        if not (TEMPLATES / "images" / name).is_file():
            raise ValueError(f"no templates/images/{name}")
        return name

    @field_validator("vars")
    @classmethod
    def _plain(cls, values: dict[str, Any]) -> dict[str, Any]:
        """Numbers, flags, and one-line printable strings (or lists of them): a newline would start a Dockerfile
        instruction of its own (the templates quote each value for the shell)."""
        def plain(v: Any) -> bool:  # a trailing backslash would continue the Dockerfile line into the next
            return isinstance(v, bool | int) or (isinstance(v, str) and len(v) <= 4096 and v.isprintable()
                                                 and not v.endswith("\\"))

        bad = [k for k, v in values.items() if not re.fullmatch(r"[a-z_][a-z0-9_]{0,63}", k)
               or not (plain(v) or (isinstance(v, list) and all(isinstance(i, str) and plain(i) for i in v)))]
        if bad:
            raise ValueError(f"{', '.join(map(repr, bad))}: not a template variable with a number, flag or "
                             "one-line text not ending in a backslash (or a list of texts)")
        if "base" in values and not pinned(values["base"]):  # FROM's one word
            raise ValueError(f"base {values['base']!r} is not a pinned image reference")
        return values

    @model_validator(mode="after")
    def _complete(self) -> Build:
        """Every variable the template uses is given (a missing one would fail the deploy half-way)."""
        from jinja2 import meta

        from hydra_ops.render import _env

        source = (TEMPLATES / "images" / self.template).read_text()
        missing = sorted(meta.find_undeclared_variables(_env.parse(source)) - set(self.vars))
        if missing:
            raise ValueError(f"vars lacks {', '.join(missing)}, which templates/images/{self.template} uses")
        return self


class BaseImage(_Strict):
    """A root filesystem tarball imported as a base image (`docker import`), checked against its sha256."""

    tag: Image
    url: Url
    sha256: Sha256


def _python_build(package: str) -> dict[str, Any]:
    return {"template": "python-venv.Dockerfile.j2", "vars": {"base": "python:3.11-slim-bookworm",
                                                              "apt_packages": [], "packages": [package],
                                                              "pip_args": []}}


#: what Postgres' entrypoint needs to own its data directory and step down to the postgres user
POSTGRES_CAPS = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"]

#: seed 001 Part 4's core allocation table; LiteLLM and the CPU fallback in the burst pool (44-55). Ports: only what
#: other hosts use is published on stack_publish_address; Postgres and Qdrant serve the stack (and the host) only.
SEED_SERVICES = {
    "postgres": {"image": "postgres:16.4-bookworm", "cpuset": "8-11", "mem_limit": "32g",
                 "ports": ["127.0.0.1:5432:5432"], "cap_add": POSTGRES_CAPS},
    "redis": {"image": "redis:7.2.5-bookworm", "cpuset": "12-15", "mem_limit": "110g", "cpu_pool": "cache",
              "read_only": True},
    "qdrant": {"image": "qdrant/qdrant:v1.12.4", "cpuset": "12-15", "mem_limit": "16g", "cpu_pool": "cache",
               "ports": ["127.0.0.1:6333:6333"]},
    "n8n": {"image": "n8nio/n8n:1.72.1", "cpuset": "20-27", "mem_limit": "8g", "user": "1000:1000"},
    "crewai": {"image": "hydra/crewai:1.15.30", "cpuset": "28-35", "mem_limit": "16g"},  # writes ~/.local
    "langgraph": {"image": "hydra/langgraph:1.2.22", "cpuset": "36-43", "mem_limit": "16g"},
    "litellm": {"image": "ghcr.io/berriai/litellm:main-v1.106.2", "cpuset": "44-47", "mem_limit": "8g"},
    "ollama-cpu": {"image": "ollama/ollama:0.8.0", "cpuset": "48-55", "mem_limit": "16g", "ports": ["11500:11434"]},
    "prometheus": {"image": "prom/prometheus:v2.53.3", "cpuset": "16-19", "mem_limit": "3g",
                   "cpu_pool": "observability", "read_only": True},
    "alertmanager": {"image": "prom/alertmanager:v0.27.0", "cpuset": "16-19", "mem_limit": "256m",
                     "cpu_pool": "observability", "read_only": True},
    "uptime-kuma": {"image": "louislam/uptime-kuma:1.23.16", "cpuset": "16-19", "mem_limit": "512m",
                    "cpu_pool": "observability"},
    "blackbox": {"image": "prom/blackbox-exporter:v0.25.0", "cpuset": "16-19", "mem_limit": "64m",
                 "cpu_pool": "observability", "read_only": True},
    # Unraid installs nothing on the host: its node exporter is a container seeing the host (network, pids, /)
    "node-exporter": {"image": "prom/node-exporter:v1.8.2", "cpuset": "16-19", "mem_limit": "128m",
                      "cpu_pool": "observability", "read_only": True},
}


class StackOptions(Options):
    """hydra-storage's docker compose project: engine, images and every service pinned to its cores."""

    prefixes = ("stack_", "compose_", "host_reserved", "host_memory", "docker_")

    docker_packages: list[DebPackage] = Field(
        default_factory=lambda: ["docker.io", "docker-compose", "curl"],
        description="Debian: engine, compose and curl for readiness checks (bookworm ships compose v1 1.29; "
                    "v1 and v2 read the same file).")
    compose_command: list[Word] = Field(default_factory=lambda: ["docker-compose"], min_length=1,
                                        description="The compose command; ['docker', 'compose'] for the v2 plugin.")
    stack_dir: AbsPath = Field("/opt/hydra-stack", description="Directory of the compose project (the seeds' "
                                                                "/mnt/user/appdata/hydra-stack).")
    stack_publish_address: PublishAddress | None = Field(
        None, description="Address ports without one are published on (the host's LAN address); None: the host's "
                          "inventory address (ssh_hostname), which must then be an IP. Never every interface.")
    compose_project: Name = Field("hydra-stack", description="Compose project name; container names derive from it.")
    stack_ready_timeout: int = Field(300, ge=10, le=3600, description="Seconds a changed service may take to pass its "
                                     "readiness check; then the run's replaced files are put back (docs/rollback.md).")
    host_reserved_cpuset: Cpuset | None = Field(
        "0-7", description="Cores kept for the OS and docker, no service there; None for none (seed 001 Part 4).")
    host_memory_headroom: DockerSize = Field(
        "24g", description="Host memory on top of every mem_limit (seed 001 Part 3: ~20 GB system overhead).")
    stack_services: dict[Name, Service] = Field(
        default_factory=lambda: {n: Service(**s) for n, s in SEED_SERVICES.items()},
        description="The stack (seed 001 Part 4); same cpu_pool may share cores, other overlaps are refused. "
                    "A service missing here is not deployed (removed if it ran).")
    stack_builds: dict[Image, Build] = Field(
        default_factory=lambda: {"hydra/crewai:1.15.30": Build(**_python_build("crewai==1.15.30")),
                                 "hydra/langgraph:1.2.22": Build(**_python_build("langgraph==1.2.22"))},
        description="Images built on the host (rebuilt when their Dockerfile changes); default: the agent "
                    "runtimes (CrewAI and LangGraph publish no server image).")
    stack_base_images: list[BaseImage] = Field(
        default_factory=list, description="Base images imported from tarballs for air-gapped builds.")
    apply_sysctls_live: bool = Field(True, description="Apply sysctls to the running kernel as well as persist "
                                                       "them (False where the kernel is shared, as locally).")

    def named(self, role: str) -> str | None:
        """The service playing a role (its own name unless another service declares the role), or None."""
        for name, svc in self.stack_services.items():
            if svc.role == role:
                return name
        svc = self.stack_services.get(role)
        return role if svc is not None and svc.role in (None, role) else None

    def role_of(self, name: str) -> str:
        """What a service is: its declared role, else its name."""
        return self.stack_services[name].role or name

    @field_validator("host_reserved_cpuset", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("stack_services")
    @classmethod
    def _cores(cls, services: dict[str, Service], info: ValidationInfo) -> dict[str, Service]:
        """No service on the reserved cores; cores shared only within a cpu_pool."""
        reserved_text = info.data.get("host_reserved_cpuset")
        reserved = parse_cpuset(reserved_text) if reserved_text else set()
        cpus = {n: parse_cpuset(s.cpuset) for n, s in services.items()}
        problems = [f"{n}.cpuset {services[n].cpuset!r} overlaps host_reserved_cpuset {reserved_text!r} "
                    f"(cores {fmt(cpus[n] & reserved)})" for n in cpus if cpus[n] & reserved]
        for a, b in combinations(sorted(cpus), 2):
            if pool(services, a) != pool(services, b) and cpus[a] & cpus[b]:
                problems.append(f"{a} ({services[a].cpuset}) and {b} ({services[b].cpuset}) overlap on cores "
                                f"{fmt(cpus[a] & cpus[b])}; give both the same cpu_pool to share")
        if problems:
            raise ValueError("; ".join(problems))
        return services

    @field_validator("stack_services")
    @classmethod
    def _one_each(cls, services: dict[str, Service]) -> dict[str, Service]:
        """A role is played by one service; a host port is published by one service."""
        roles = [s.role or n for n, s in services.items()]
        ports = [p.rsplit(":", 1)[0].rsplit(":", 1)[-1] for s in services.values() for p in s.ports]
        problems = [f"role {r!r} is played by more than one service" for r in sorted(set(roles))
                    if roles.count(r) > 1]
        problems += [f"host port {p} is published twice" for p in sorted(set(ports)) if ports.count(p) > 1]
        if problems:
            raise ValueError("; ".join(problems))
        return services


def pool(services: dict[str, Service], name: str) -> str:
    return services[name].cpu_pool or name


def fmt(cpus: set[int]) -> str:
    return ",".join(str(n) for n in sorted(cpus))


def gib(n: int) -> str:
    return f"{n / 1024 ** 3:.1f} GiB"


#: secrets a role reads from a 0600 file owned by the user it runs as (Postgres' comes through secret_files):
#: role -> (secret, file name in secret_dir); n8n reads its key only from its settings file (or the environment)
ROLE_SECRETS = {"qdrant": ("qdrant_api_key", "qdrant_api_key"), "n8n": ("n8n_encryption_key", "n8n-settings.json")}
