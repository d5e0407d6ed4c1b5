"""TabbyAPI (G10): every option with its type, default (seed 002, the audit), constraint and doc, and the canary."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

import pydantic
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationInfo, field_validator

from hydra_ops.settings import AbsPath, Address, Label, NixAttr, Options, PipArgs, Port, ServiceUser, Url, load, pattern
from hydra_ops.validation import ValidationError

_sha256 = pattern(r"^[0-9a-f]{64}$", "a sha256 (64 lowercase hex digits)")


def _pinned(value: str) -> str:
    if value == "":
        raise ValueError("is not set; download tabby_source_url once, check it, and pin its sha256 in "
                         "group_data/ai.py (nothing unverified is installed)")
    return _sha256(value)


_pinned.what = "a sha256 (64 lowercase hex digits); required"  # type: ignore[attr-defined]

#: Types shared by the stable settings and the canary's overrides, so each constraint is written once.
Pinned = Annotated[str, AfterValidator(_pinned)]
PipSpec = Annotated[str, AfterValidator(pattern(r"^[^\n\0]*\S[^\n\0]*$", "a pip requirement spec"))]
ModelDir = Annotated[str, AfterValidator(pattern(r"^[A-Za-z0-9._-]+$", "a model directory name"))]
DraftDir = Annotated[str, AfterValidator(pattern(r"^[A-Za-z0-9._-]*$", "a model directory name or empty"))]
Backend = Literal["exllamav2", "exllamav3"]
CacheMode = Literal["FP16", "Q8", "Q6", "Q4"]
Amounts = list[Annotated[int | float, Field(ge=0)]]
SeqLen = Annotated[int, Field(ge=256, le=1 << 21)]


class Canary(BaseModel):
    """Overrides of the stable settings (without the tabby_ prefix) for tabbyapi-canary.service."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    revision: Label | None = None
    source_url: Url | None = None
    source_sha256: Pinned | None = None
    pip_packages: list[PipSpec] | None = None
    pip_args: PipArgs | None = None
    port: Port | None = None
    backend: Backend | None = None
    model_dir: AbsPath | None = None
    model_name: ModelDir | None = None
    cache_mode: CacheMode | None = None
    gpu_split: Amounts | None = None
    gpu_split_auto: bool | None = None
    autosplit_reserve: Amounts | None = None
    max_seq_len: SeqLen | None = None
    draft_model_name: DraftDir | None = None

    def overrides(self) -> dict[str, Any]:
        """The settings it overrides, as tabby_* keys."""
        return {f"tabby_{k}": v for k, v in self.model_dump(exclude_unset=True).items()}


class TabbyOptions(Options):
    """hydra-ai's TabbyAPI (ExLlamaV2, tensor parallel over the RTX 5090 + 4090) and its optional canary."""

    prefixes = ("tabby_",)

    tabby_revision: Label = Field("exl2-checkpoint", description="Label of the pinned source (upstream main dropped "
                                  "ExLlamaV2 on 2026-07-14; EXL2 needs the exl2-checkpoint branch).")
    tabby_source_url: Url = Field("https://github.com/theroyallab/tabbyAPI/archive/refs/heads/exl2-checkpoint.tar.gz",
                                  description="Source archive of that revision.")
    tabby_source_sha256: Pinned = Field("", description="The archive's sha256; unset stops the deploy (nothing "
                                        "unverified is installed).")
    tabby_pip_packages: list[PipSpec] = Field(
        default_factory=lambda: [".[cu12]"],
        description="Requirement specs for the venv; \".[x]\" is the source with its extra x (cu12: torch 2.8.0+cu128 "
                    "and exllamav2 0.3.2, which the RTX 5090 needs, seed 002); unknown extras are refused.")
    tabby_pip_args: PipArgs = Field(default_factory=list, description="Extra pip arguments (index URLs, "
                                         "--no-index/--find-links for an internal mirror).")
    tabby_nix_packages: list[NixAttr] = Field(
        default_factory=lambda: ["python311", "curl", "iproute2", "procps", "util-linux", "bash"],
        description="NixOS: packages the install and the prestart need, on the system and the unit's PATH.")
    tabby_open_firewall: bool = Field(True, description="NixOS: open tabby_port (and the canary's) in the firewall.")
    tabby_install_root: AbsPath = Field("/opt/tabbyapi", description="Installs go to <root>/<revision>-<sha[:12]> "
                                                                     "(venv inside).")
    tabby_user: ServiceUser = Field("tabby", description="Dedicated service user (the seed used the login \"typhon\").")
    tabby_host: Address = Field("0.0.0.0", description="Address TabbyAPI listens on.")
    tabby_port: Port = Field(5000, description="Port of the serving install (seed 002).")
    tabby_gpus: list[Annotated[int, Field(ge=0)]] = Field(
        default_factory=lambda: [0, 1], description="CUDA_VISIBLE_DEVICES in nvidia-smi order (5090, 4090).")
    tabby_pytorch_alloc_conf: Annotated[str, AfterValidator(pattern(r"^[A-Za-z0-9_:,.]+$", "an allocator setting"))] = \
        Field("expandable_segments:True", description="PYTORCH_CUDA_ALLOC_CONF (seed 002).")
    tabby_restart_sec: int = Field(30, ge=0, le=3600, description="RestartSec of Restart=on-failure (seed 002).")
    tabby_start_limit_burst: int = Field(5, ge=1, le=100, description="StartLimitBurst: a VRAM failure does not "
                                                                      "loop forever (seed 002).")
    tabby_start_limit_interval_sec: int = Field(300, ge=1, le=86400, description="StartLimitIntervalSec (seed 002).")
    tabby_timeout_start_sec: int = Field(300, ge=1, le=7200, description="TimeoutStartSec: model loading time.")
    tabby_min_free_vram_mib: int = Field(20000, ge=0, le=1 << 20, description="Prestart: free MiB each GPU needs "
                                         "(a 70B 4.0bpw model takes ~45 GB over both).")
    tabby_vram_wait_sec: int = Field(60, ge=0, le=3600, description="Prestart: seconds to wait for that VRAM.")
    tabby_require_mount: bool = Field(True, description="Prestart: tabby_model_dir must lie on a mounted "
                                      "filesystem other than / (seed: mnt-models.mount at /mnt/models).")
    tabby_model_dir: AbsPath = Field("/mnt/models/exl2", description="Directory of the EXL2 models.")
    tabby_model_name: ModelDir = Field("Llama-3.3-70B-Instruct-exl2-4.0bpw",
                                       description="Model loaded at start-up (G11: Llama 3.3 70B).")
    tabby_backend: Backend = Field("exllamav2", description="Backend (G10: ExLlamaV3 stays a canary).")
    tabby_tensor_parallel: bool = Field(True, description="Tensor parallelism over the heterogeneous pair.")
    tabby_gpu_split_auto: bool = Field(True, description="Automatic split, or tabby_gpu_split when false.")
    tabby_gpu_split: Amounts = Field(default_factory=list, description="Manual split in GB per GPU (seed: [32, 24]).")
    tabby_autosplit_reserve: Amounts = Field(default_factory=lambda: [96], description="MB autosplit keeps free "
                                                                                       "per GPU.")
    tabby_max_seq_len: SeqLen = Field(32768, description="Context length (seed 002).")
    tabby_cache_mode: CacheMode = Field("FP16", description="KV cache precision (seed 002).")
    tabby_draft_model_name: DraftDir = Field("", description="Draft model for speculative decoding, or empty "
                                             "(seed 002: no VRAM left for one at 70B).")
    tabby_backup_dir: AbsPath = Field("/var/backups/hydra-ops/tabbyapi", description="Where the outgoing config.yml "
                                      "and unit are copied before a promote or rollback.")
    tabby_canary: Canary = Field(default_factory=Canary, description="The canary (e.g. ExLlamaV3, seed 002's "
                                 "migration guide): overrides of the settings above, on its own port.")
    tabby_serving: Literal["stable", "canary"] = Field("stable", description="What serves on tabby_port; set by "
                                                       "`hydra tabby promote|rollback`.")

    @field_validator("tabby_canary")
    @classmethod
    def _own_port(cls, canary: Canary, info: ValidationInfo) -> Canary:
        port = info.data.get("tabby_port")
        if canary.overrides() and canary.port in (None, port):
            raise ValueError("needs its own port (seed 002 uses 5001)")
        return canary

    @field_validator("tabby_serving")
    @classmethod
    def _canary_exists(cls, serving: str, info: ValidationInfo) -> str:
        canary = info.data.get("tabby_canary")
        if serving == "canary" and canary is not None and not canary.overrides():
            raise ValueError("needs a canary (tabby_canary is empty)")
        return serving


#: Keys another service declares under tabby_ (ModelsOptions: the models G11 fetches); not unknown to TabbyAPI.
NOT_OURS = frozenset({"tabby_models"})


def options(data: Mapping[str, Any], host: str) -> TabbyOptions:
    """The stable install's validated settings."""
    return load(TabbyOptions, {k: v for k, v in data.items() if k not in NOT_OURS}, host)


def roles(data: Mapping[str, Any], host: str) -> tuple[TabbyOptions, TabbyOptions | None]:
    """(what serves on tabby_port, the canary beside it or None); the canary is validated as stable + overrides."""
    stable = options(data, host)
    overrides = stable.tabby_canary.overrides()
    if not overrides:
        return stable, None
    base = {k: v for k, v in data.items() if k not in NOT_OURS}
    canary = load(TabbyOptions, {**base, **overrides, "tabby_canary": {}, "tabby_serving": "stable"},
                  f"{host} (canary)")
    if stable.tabby_serving == "canary":
        return canary.model_copy(update={"tabby_port": stable.tabby_port}), None
    return stable, canary


def setting(data: Mapping[str, Any], key: str, host: str) -> Any:
    """One option checked alone (its declared type, constraint and default): what a detector reads, so an
    unpinned source, which only a deploy must refuse, does not hide the state of a running service."""
    field = TabbyOptions.model_fields[key]
    value = data.get(key, field.get_default(call_default_factory=True))
    try:
        return TypeAdapter(Annotated[field.annotation, *field.metadata]).validate_python(value, strict=True)
    except pydantic.ValidationError as exc:
        raise ValidationError(host, [f"{key}: {value!r}: {exc.errors()[0]['msg']}"]) from None
