"""TabbyAPI's desired state, whatever the platform: the install directory, config.yml, api_tokens.yml, the
prestart script and the unit (NixOS gets the same directives as options)."""

from __future__ import annotations

import shlex

import yaml

from hydra_ops.render import render
from hydra_ops.services.tabbyapi.options import TabbyOptions

UNIT = "tabbyapi.service"
CANARY_UNIT = "tabbyapi-canary.service"
STATE_DIR = "/var/lib/tabbyapi"


def app_dir(o: TabbyOptions) -> str:
    """Versioned install: a new revision or archive never overwrites the one running."""
    return f"{o.tabby_install_root}/{o.tabby_revision}-{o.tabby_source_sha256[:12]}"


def prestart_path(lib_dir: str, unit: str = UNIT) -> str:
    """Where a unit's prestart script lives (hydra_lib_dir)."""
    return f"{lib_dir}/{unit.removesuffix('.service')}-prestart.sh"


def config_yml(o: TabbyOptions) -> str:
    """config.yml in the install directory, which TabbyAPI reads from its working directory."""
    return render("tabbyapi-config.yml.j2", host=o.tabby_host, port=o.tabby_port, model_dir=o.tabby_model_dir,
                  model_name=o.tabby_model_name, backend=o.tabby_backend, max_seq_len=o.tabby_max_seq_len,
                  tensor_parallel=o.tabby_tensor_parallel, gpu_split_auto=o.tabby_gpu_split_auto,
                  gpu_split=o.tabby_gpu_split, autosplit_reserve=o.tabby_autosplit_reserve,
                  cache_mode=o.tabby_cache_mode, draft_model_name=o.tabby_draft_model_name)


def prestart_script(o: TabbyOptions, unit: str = UNIT) -> str:
    """The prestart: the port is free, the GPUs have the VRAM, the model (and its mount) is there."""
    return render("tabbyapi-prestart.sh.j2", unit=unit, port=o.tabby_port, user=o.tabby_user,
                  gpus=",".join(str(g) for g in o.tabby_gpus), min_free_mib=o.tabby_min_free_vram_mib,
                  vram_wait_sec=o.tabby_vram_wait_sec, model_dir=shlex.quote(o.tabby_model_dir),
                  model_name=shlex.quote(o.tabby_model_name), require_mount=o.tabby_require_mount)


def unit_file(o: TabbyOptions, lib_dir: str, unit: str = UNIT) -> str:
    """The hardened unit with seed 002's restart limits."""
    return render("tabbyapi.service.j2", backend=o.tabby_backend, port=o.tabby_port, user=o.tabby_user,
                  app_dir=app_dir(o), prestart=prestart_path(lib_dir, unit), model_dir=o.tabby_model_dir,
                  require_mount=o.tabby_require_mount, burst=o.tabby_start_limit_burst,
                  interval=o.tabby_start_limit_interval_sec, restart_sec=o.tabby_restart_sec,
                  timeout_start=o.tabby_timeout_start_sec, gpus=",".join(str(g) for g in o.tabby_gpus),
                  alloc_conf=o.tabby_pytorch_alloc_conf, state_dir=STATE_DIR)


def api_tokens(values: dict[str, str]) -> str:
    """api_tokens.yml from the two secrets."""
    return yaml.safe_dump({"api_key": values["tabby_api_key"], "admin_key": values["tabby_admin_key"]})
