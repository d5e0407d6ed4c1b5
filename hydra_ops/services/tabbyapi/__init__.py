"""G10 TabbyAPI: ExLlamaV2 TabbyAPI as a hardened systemd service with a prestart script and restart limits,
plus an optional canary (e.g. ExLlamaV3) side by side that `hydra tabby promote|rollback` switch onto :5000.

options.py declares the settings, state.py the files and unit, install.py the platform-neutral install,
debian.py and nixos.py the platform parts, detect.py tells whether the gap is open on a live host.
"""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import deploy

from hydra_ops import config
from hydra_ops.facts.gpus import NvidiaGpus
from hydra_ops.operations.service import run_and_restart_on_change
from hydra_ops.platform import current
from hydra_ops.services.secrets import host_secrets
from hydra_ops.services.tabbyapi import debian, install, nixos
from hydra_ops.services.tabbyapi.state import CANARY_UNIT, UNIT
from hydra_ops.validation import ValidationError

PLATFORMS = ("debian", "nixos")


@deploy("G10 TabbyAPI")
def tabbyapi() -> None:
    """Install and run what tabby_serving selects on tabby_port, and the canary beside it when there is one."""
    cfg = config.host_config()
    ai, platform = cfg.need(cfg.ai, "tabby_serving"), cfg.platform
    serving, canary = ai.serving, ai.canary
    present = {g["index"] for g in host.get_fact(NvidiaGpus)}
    missing = [g for g in serving.tabby_gpus if g not in present]
    if missing:
        raise ValidationError(host.name, [f"tabby_gpus: GPU {', '.join(map(str, missing))} not shown by nvidia-smi"])
    keys = host_secrets(["tabby_api_key", "tabby_admin_key"])
    on_nixos, lib_dir = current() == "nixos", platform.hydra_lib_dir

    if on_nixos:
        nixos.base(serving, platform.nixos_config_dir)
    else:
        debian.base(serving.tabby_user)
    install.directories(serving.tabby_install_root, lib_dir)
    install.backup_when_switching(serving)
    units = [(serving, UNIT)] + ([(canary, CANARY_UNIT)] if canary is not None else [])
    parts = {}
    for o, unit in units:
        parts[unit] = install.service(o, unit, keys, lib_dir)
        if not on_nixos:
            parts[unit] += debian.unit(o, unit, lib_dir)
    if on_nixos:
        nixos.apply(units, lib_dir, platform.nixos_config_dir)
    for o, unit in units:
        run_and_restart_on_change("G10", unit, parts[unit], f"http://127.0.0.1:{o.tabby_port}/health",
                                  o.tabby_timeout_start_sec, manage_enable=not on_nixos)
    if canary is None and not on_nixos:
        debian.stop_canary()
    install.forget_keys_of_superseded_installs(serving, canary)
