"""Ollama instances (G1): every option with its type, default (from the seeds), constraint and doc."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from hydra_ops.settings import (
    AbsPath,
    Address,
    Label,
    NixAttr,
    Options,
    Port,
    ServiceUser,
    Sha256,
    Url,
    extra_environment,
)

_MODEL = re.compile(r"^[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9._-]+)?$")


def _model(name: str) -> str:
    if len(name) > 200 or not _MODEL.fullmatch(name):
        raise ValueError("is not a model name like qwen2.5:7b")
    return name


#: What each instance's environment file sets (templates/ollama-instance.env.j2), plus the other ways to choose a
#: GPU: an extra variable must not move an instance off its loopback address, its GPU or its store.
OllamaExtraEnv = extra_environment(
    "CUDA_DEVICE_ORDER", "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "GPU_DEVICE_ORDINAL", "HIP_VISIBLE_DEVICES",
    "ROCR_VISIBLE_DEVICES", "OLLAMA_HOST", "OLLAMA_MODELS", "OLLAMA_NOPRUNE", "OLLAMA_FLASH_ATTENTION",
    "OLLAMA_KEEP_ALIVE", "OLLAMA_NUM_PARALLEL", "OLLAMA_MAX_LOADED_MODELS", "HOME")


class Instance(BaseModel):
    """One instance: the GPU it is pinned to (nvidia-smi index) and the port it serves."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    gpu: int = Field(ge=0, description="nvidia-smi index (CUDA_DEVICE_ORDER=PCI_BUS_ID numbers GPUs the same way)")
    port: Port = Field(description="TCP port of this instance")

    @property
    def unit(self) -> str:
        return f"ollama@{self.port}.service"


class OllamaOptions(Options):
    """hydra-compute's Ollama instances: one GPU-pinned instance per GPU behind the LB."""

    prefixes = ("ollama_",)

    ollama_version: Label = Field("0.8.0", description="Version label; part of the install directory.")
    ollama_release_url: Url = Field(
        "https://github.com/ollama/ollama/releases/download/v0.8.0/ollama-linux-amd64.tgz",
        description="Debian: release tarball (bin/ollama + lib/ollama inside, as upstream ships it).")
    ollama_release_sha256: Sha256 = Field(
        "a0b6d2a8f172fd2c046287efdc1b249cd4ec7498dedd86eeefa2118b88fed985",
        description="Debian: sha256 of that tarball, checked before anything is unpacked (upstream's sum for v0.8.0).")
    ollama_install_root: AbsPath = Field("/opt/ollama",
                                         description="Debian: versions unpack to <root>/<version>-<sha>.")
    ollama_nix_package: NixAttr = Field(
        "ollama-cuda",
        description="NixOS: nixpkgs attribute the instances run (the audit's services.ollama used CUDA).")
    ollama_user: ServiceUser = Field("ollama", description="Dedicated system user and group of the instances.")
    ollama_models_dir: AbsPath = Field("/var/lib/ollama/models",
                                       description="Model store shared by all instances (OLLAMA_MODELS).")
    ollama_instances: list[Instance] = Field(
        default_factory=lambda: [Instance(gpu=0, port=11434), Instance(gpu=1, port=11435)], min_length=1,
        description="One instance per GPU: [{gpu, port}]; N entries give N units ollama@<port> (seed 000: "
                    "GPU 0 on 11434, GPU 1 on 11435).")
    ollama_bind_address: Address = Field("0.0.0.0", description="Address the instance ports are served on (by nginx, "
                                                                 "inference and read paths only); the checklist and "
                                                                 "LiteLLM reach :11434/:11435 from other hosts.")
    ollama_internal_port_offset: int = Field(
        10000, ge=1, le=50000, description="Each instance itself listens on 127.0.0.1:<port + offset>, so its admin "
                                           "API (pull, delete, create, push) is never on the network.")
    ollama_open_firewall: bool = Field(True, description="NixOS: open the instance ports in networking.firewall "
                                                          "(seed 000 §6.1).")
    ollama_flash_attention: bool = Field(True, description="OLLAMA_FLASH_ATTENTION (seed 000 §2.2: enabled).")
    ollama_keep_alive: Annotated[str, Field(pattern=r"^-?[0-9]+(ms|s|m|h)?$")] = Field(
        "30m", description="OLLAMA_KEEP_ALIVE: how long a model stays loaded after its last request.")
    ollama_num_parallel: int = Field(4, ge=1, le=256, description="OLLAMA_NUM_PARALLEL: requests served at once "
                                                                  "per model and instance.")
    ollama_max_loaded_models: int = Field(2, ge=1, le=64, description="OLLAMA_MAX_LOADED_MODELS per instance "
                                                                      "(a 16 GB card holds one 7B comfortably).")
    ollama_models: list[Annotated[str, AfterValidator(_model)]] = Field(
        default_factory=lambda: ["qwen2.5:7b", "llama3.2:latest", "qwen2.5-coder:7b", "nomic-embed-text:latest"],
        description="Models pulled once into the shared store (seed 001 Part 5: the fast tier).")
    ollama_extra_env: OllamaExtraEnv = Field(default_factory=dict,
                                             description="Extra environment for every instance, e.g. OLLAMA_DEBUG.")
    ollama_ready_timeout: int = Field(120, ge=1, le=3600, description="Seconds a (re)started instance may take to "
                                                                      "answer before the deploy fails.")
    ollama_drain_timeout: int = Field(300, ge=0, le=3600, description="Debian: seconds a changed instance may take "
                                      "to finish its requests once out of the LB, before it is restarted anyway.")
    ollama_legacy_unit: Annotated[str, Field(pattern=r"^[A-Za-z0-9_@.-]{1,240}\.service$")] = Field(
        "ollama.service", description="The audit's single instance; retired so :11434 is never bound twice.")

    @field_validator("ollama_instances")
    @classmethod
    def _distinct(cls, instances: list[Instance]) -> list[Instance]:
        ports, gpus = [i.port for i in instances], [i.gpu for i in instances]
        twice = [f"port {p} is used twice" for p in sorted(set(ports)) if ports.count(p) > 1]
        twice += [f"GPU {g} is given to two instances" for g in sorted(set(gpus)) if gpus.count(g) > 1]
        if twice:
            raise ValueError("; ".join(twice))
        return instances

    @property
    def instances(self) -> list[Instance]:
        return self.ollama_instances

    def internal_port(self, inst: Instance) -> int:
        """Where the instance itself listens (loopback only)."""
        return inst.port + self.ollama_internal_port_offset

    @property
    def fronts(self) -> list[tuple[int, int]]:
        """(public port nginx serves, internal port of the instance) for every instance."""
        return [(i.port, self.internal_port(i)) for i in self.ollama_instances]

    @model_validator(mode="after")
    def _internal_ports(self) -> OllamaOptions:
        public = {i.port for i in self.ollama_instances}
        bad = [i.port for i in self.ollama_instances
               if self.internal_port(i) > 65535 or self.internal_port(i) in public]
        if bad:
            raise ValueError(f"ollama_internal_port_offset: {self.ollama_internal_port_offset} puts the instance of "
                             f"port {bad[0]} on an impossible or public port")
        return self
