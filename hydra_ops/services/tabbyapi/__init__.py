"""G10 TabbyAPI: ExLlamaV2 TabbyAPI as a hardened systemd service with a prestart script and restart limits,
plus an optional canary (e.g. ExLlamaV3) side by side that `hydra tabby promote|rollback` switch onto :5000."""

from __future__ import annotations

import hashlib
import shlex
from io import StringIO

import yaml
from pyinfra import host
from pyinfra.api import deploy
from pyinfra.facts.files import File, FindFiles
from pyinfra.facts.server import Command
from pyinfra.operations import apt, files, server, systemd

from facts.gpus import NvidiaGpus
from facts.systemd_units import SystemdUnitState
from hydra_ops import nix
from hydra_ops.gaps.g03_secrets import host_secrets
from hydra_ops.operations import nixos, release
from hydra_ops.operations.secret import secret_file
from hydra_ops.operations.service import GPU_GROUPS, gpu_service_user, run_and_restart_on_change
from hydra_ops.platform import PlatformOptions, current
from hydra_ops.render import render
from hydra_ops.settings import load
from hydra_ops.systemd_ini import parse, to_nixos
from hydra_ops.validation import Settings, ValidationError, validate_ai, validate_tabby_roles

UNIT = "tabbyapi.service"
CANARY_UNIT = "tabbyapi-canary.service"
STATE_DIR = "/var/lib/tabbyapi"


def app_dir(cfg: Settings) -> str:
    """Versioned install: a new revision or archive never overwrites the one running."""
    return f"{cfg.tabby_install_root}/{cfg.tabby_revision}-{cfg.tabby_source_sha256[:12]}"


def prestart_path(cfg: Settings, unit: str = UNIT) -> str:
    return f"{cfg.hydra_lib_dir}/{unit.removesuffix('.service')}-prestart.sh"


def config_yml(cfg: Settings) -> str:
    return render("tabbyapi-config.yml.j2", host=cfg.tabby_host, port=cfg.tabby_port, model_dir=cfg.tabby_model_dir,
                  model_name=cfg.tabby_model_name, backend=cfg.tabby_backend, max_seq_len=cfg.tabby_max_seq_len,
                  tensor_parallel=cfg.tabby_tensor_parallel, gpu_split_auto=cfg.tabby_gpu_split_auto,
                  gpu_split=cfg.tabby_gpu_split, autosplit_reserve=cfg.tabby_autosplit_reserve,
                  cache_mode=cfg.tabby_cache_mode, draft_model_name=cfg.tabby_draft_model_name)


def prestart_script(cfg: Settings, unit: str = UNIT) -> str:
    return render("tabbyapi-prestart.sh.j2", unit=unit, port=cfg.tabby_port, user=cfg.tabby_user,
                  gpus=",".join(str(g) for g in cfg.tabby_gpus), min_free_mib=cfg.tabby_min_free_vram_mib,
                  vram_wait_sec=cfg.tabby_vram_wait_sec, model_dir=shlex.quote(cfg.tabby_model_dir),
                  model_name=shlex.quote(cfg.tabby_model_name), require_mount=cfg.tabby_require_mount)


def unit_file(cfg: Settings, unit: str = UNIT) -> str:
    return render("tabbyapi.service.j2", backend=cfg.tabby_backend, port=cfg.tabby_port, user=cfg.tabby_user,
                  app_dir=app_dir(cfg), prestart=prestart_path(cfg, unit), model_dir=cfg.tabby_model_dir,
                  require_mount=cfg.tabby_require_mount, burst=cfg.tabby_start_limit_burst,
                  interval=cfg.tabby_start_limit_interval_sec, restart_sec=cfg.tabby_restart_sec,
                  timeout_start=cfg.tabby_timeout_start_sec, gpus=",".join(str(g) for g in cfg.tabby_gpus),
                  alloc_conf=cfg.tabby_pytorch_alloc_conf, state_dir=STATE_DIR)


def api_tokens(values: dict[str, str]) -> str:
    return yaml.safe_dump({"api_key": values["tabby_api_key"], "admin_key": values["tabby_admin_key"]})


def roles(data: dict) -> tuple[Settings, Settings | None]:
    """(what serves on tabby_port, the canary on its own port or None), from tabby_serving."""
    stable, canary = validate_tabby_roles(data, host.name)
    if data["tabby_serving"] == "canary" and canary is not None:
        return validate_ai({**canary.data, "tabby_port": data["tabby_port"]}, host.name), None
    return stable, canary


@deploy("G10 TabbyAPI")
def tabbyapi() -> None:
    """Install and run what tabby_serving selects on tabby_port, and the canary beside it when there is one."""
    serving, canary = roles(host.data.dict())
    present = {g["index"] for g in host.get_fact(NvidiaGpus)}
    missing = [g for g in serving.tabby_gpus if g not in present]
    if missing:
        raise ValidationError(host.name, [f"tabby_gpus: GPU {', '.join(map(str, missing))} not shown by nvidia-smi"])
    keys = host_secrets(["tabby_api_key", "tabby_admin_key"])
    on_nixos = current() == "nixos"
    config_dir = load(PlatformOptions, host.data.dict(), host.name).nixos_config_dir

    if on_nixos:
        nixos.modules(name="G10: NixOS module tabbyapi-base.nix (user, python3 and tools)",
                      files_wanted={"tabbyapi-base.nix": nixos_base_module(serving)},
                      config_dir=config_dir, health=[], timeout=30)
    else:
        apt.packages(name="G10: python3-venv, curl, procps, iproute2",
                     packages=["python3-venv", "curl", "ca-certificates", "procps", "iproute2"], update=True,
                     cache_time=3600)
        gpu_service_user("G10", serving.tabby_user)
    files.directory(name="G10: install root", path=serving.tabby_install_root, mode="755")
    files.directory(name="G10: hydra-ops script directory", path=serving.hydra_lib_dir, mode="755")

    _backup_when_switching(serving)
    roles_wanted = [(serving, UNIT)] + ([(canary, CANARY_UNIT)] if canary is not None else [])
    parts = {unit: _service(cfg, unit, keys, on_nixos) for cfg, unit in roles_wanted}
    if on_nixos:
        nixos.modules(name="G10: NixOS module tabbyapi.nix (dry-build, switch, health check, rollback on failure)",
                      files_wanted={"tabbyapi.nix": nixos_module([(cfg, unit) for cfg, unit in roles_wanted])},
                      config_dir=config_dir, timeout=serving.tabby_timeout_start_sec,
                      health=[f"curl -fsS -o /dev/null http://127.0.0.1:{cfg.tabby_port}/health"
                              for cfg, _ in roles_wanted])
    for cfg, unit in roles_wanted:
        run_and_restart_on_change("G10", unit, parts[unit], f"http://127.0.0.1:{cfg.tabby_port}/health",
                                  cfg.tabby_timeout_start_sec, manage_enable=not on_nixos)
    if canary is None and not on_nixos and (
            host.get_fact(SystemdUnitState, unit=CANARY_UNIT).get("LoadState") == "loaded"):
        systemd.service(name=f"G10: {CANARY_UNIT} stopped (no canary, or it was promoted)", service=CANARY_UNIT,
                        running=False, enabled=False)
    _forget_keys_of_superseded_installs(serving, canary)


def nixos_base_module(cfg: Settings) -> str:
    """What the imperative install needs first on NixOS: the service user and python3 for the venv."""
    user = cfg.tabby_user
    return nix.module({
        "users": {"users": {user: {"isSystemUser": True, "group": user, "extraGroups": list(GPU_GROUPS),
                                   "description": "TabbyAPI (hydra-ops G10)"}},
                  "groups": {user: {}, **{g: {} for g in GPU_GROUPS}}},
        "environment": {"systemPackages": [nix.pkg_ref(p) for p in cfg.tabby_nix_packages]},
    }, "Managed by hydra-ops (G10): the TabbyAPI service user and the tools its install and prestart use.")


def nixos_module(units: list[tuple[Settings, str]]) -> str:
    """TabbyAPI's units as NixOS options: the Debian unit's directives, plus the prestart's tools on PATH and
    the NVIDIA driver's libraries (pip's CUDA wheels look for libcuda there on NixOS)."""
    services, ports = {}, []
    for cfg, unit in units:
        service = to_nixos(parse(unit_file(cfg, unit)))
        service["path"] = [nix.pkg_ref(p) for p in cfg.tabby_nix_packages] + ["/run/current-system/sw"]
        service["environment"] = {**service.get("environment", {}), "LD_LIBRARY_PATH": "/run/opengl-driver/lib"}
        services[unit.removesuffix(".service")] = service
        ports += [cfg.tabby_port] if cfg.tabby_open_firewall else []
    return nix.module({"systemd": {"services": services}, "networking": {"firewall": {"allowedTCPPorts": ports}}},
                      "Managed by hydra-ops (G10): TabbyAPI (seed 002) and its canary. Rendered from group data;\n"
                      "edit group_data/ai.py and re-run the deploy instead of this file.")


def _forget_keys_of_superseded_installs(serving: Settings, canary: Settings | None) -> None:
    """Installs no unit uses keep their code (a quick way back) but not their api_tokens.yml: a rotated key must
    not live on in an old copy. A deploy that selects such an install again writes the current keys."""
    active = {f"{app_dir(cfg)}/api_tokens.yml" for cfg in (serving, canary) if cfg is not None}
    found = host.get_fact(FindFiles, path=serving.tabby_install_root, maxdepth=2, fname="api_tokens.yml") or []
    for stale in sorted(set(found) - active):
        files.file(name=f"G10: remove the keys of superseded install {stale.rsplit('/', 2)[1]}", path=stale,
                   present=False)


def _backup_when_switching(cfg: Settings) -> None:
    """Before tabby_port changes install (promote/rollback), keep the outgoing config.yml and unit."""
    current = (host.get_fact(Command, command=f"systemctl show -p WorkingDirectory --value {UNIT} 2>/dev/null"
                                              " || true") or "").strip()
    if current and current != app_dir(cfg):
        q = shlex.quote
        server.shell(name=f"G10: back up the outgoing {UNIT} config before switching installs", commands=[
            f"set -eu; dest={q(cfg.tabby_backup_dir)}/$(date -u +%Y%m%dT%H%M%SZ)-$(basename {q(current)}); "
            f"install -d -m 700 \"$dest\"; cp -p {q(current + '/config.yml')} /etc/systemd/system/{UNIT} \"$dest\"/; "
            "echo \"backed up to $dest\""])


def _service(cfg: Settings, unit: str, keys: dict[str, str], on_nixos: bool) -> list:
    """One TabbyAPI install + config (+ the unit file on Debian); returns the operations whose change must
    restart the unit (on NixOS the unit itself is declared in tabbyapi.nix)."""
    app, label = app_dir(cfg), unit.removesuffix(".service")
    installed = release.tarball(name=f"G10: {label}: TabbyAPI {cfg.tabby_revision} (sha256 checked)",
                                url=cfg.tabby_source_url, sha256=cfg.tabby_source_sha256, dest=app,
                                strip_components=1)
    spec = "\n".join([*cfg.tabby_pip_args, *cfg.tabby_pip_packages])
    marker = f"{app}/venv/.hydra-requirements-{hashlib.sha256(spec.encode()).hexdigest()[:12]}"
    venv = None
    if not host.get_fact(File, path=marker):
        from hydra_ops.tabby_extras import extras_check  # refuse an extra the source lacks, before any venv

        q = shlex.quote
        venv = server.shell(name=f"G10: {label}: venv with the pinned requirements", commands=[
            f"set -e; cd {q(app)}; {extras_check(app, cfg.tabby_pip_packages)}rm -rf venv; python3 -m venv venv; "
            f"venv/bin/pip install --quiet --disable-pip-version-check "
            f"{' '.join(q(a) for a in cfg.tabby_pip_args)} {' '.join(q(p) for p in cfg.tabby_pip_packages)}; "
            f"touch {q(marker)}"])
    config = files.put(name=f"G10: {label}: config.yml", src=StringIO(config_yml(cfg)), dest=f"{app}/config.yml",
                       mode="644")
    tokens = secret_file(name=f"G10: {label}: api_tokens.yml (0600, from the encrypted secrets)",
                         content=api_tokens(keys), dest=f"{app}/api_tokens.yml", user=cfg.tabby_user,
                         group=cfg.tabby_user)
    prestart = files.put(name=f"G10: {label}: prestart script", src=StringIO(prestart_script(cfg, unit)),
                         dest=prestart_path(cfg, unit), mode="755")
    unit_op = None
    if not on_nixos:
        unit_op = files.put(name=f"G10: {unit}", src=StringIO(unit_file(cfg, unit)),
                            dest=f"/etc/systemd/system/{unit}", mode="644")
        systemd.daemon_reload(name=f"G10: {label}: reload systemd units", _if=unit_op.did_change)
    return [op for op in (installed, venv, config, tokens, prestart, unit_op) if op is not None]
