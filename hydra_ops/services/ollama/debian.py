"""G1 dual Ollama: one GPU-pinned Ollama instance per GPU (ollama@<port>.service) instead of one on GPU 0."""

from __future__ import annotations

import shlex
from io import StringIO

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.facts.files import FindFiles
from pyinfra.operations import apt, files, server, systemd

from facts.gpus import NvidiaGpus
from facts.ollama import OllamaModels
from facts.systemd_units import SystemdUnitState
from hydra_ops import nix
from hydra_ops.operations import nixos, release
from hydra_ops.operations.service import GPU_GROUPS, gpu_service_user, run_and_restart_on_change
from hydra_ops.platform import current
from hydra_ops.render import render
from hydra_ops.systemd_ini import parse, parse_env, to_nixos
from hydra_ops.validation import Settings, check_gpus, validate_compute

ENV_DIR = "/etc/ollama"
STATE_DIR = "/var/lib/ollama"


def install_dir(cfg: Settings) -> str:
    """Versioned install directory: a new tarball (new sum) never overwrites the running one."""
    return f"{cfg.ollama_install_root}/{cfg.ollama_version}-{cfg.ollama_release_sha256[:12]}"


def env_file(cfg: Settings, gpu: int, port: int) -> str:
    return render(
        "ollama-instance.env.j2", gpu=gpu, port=port, bind_address=cfg.ollama_bind_address,
        models_dir=cfg.ollama_models_dir, flash_attention=cfg.ollama_flash_attention,
        keep_alive=cfg.ollama_keep_alive, num_parallel=cfg.ollama_num_parallel,
        max_loaded_models=cfg.ollama_max_loaded_models, extra_env=cfg.ollama_extra_env, state_dir=STATE_DIR,
    )


def unit_file(cfg: Settings, ollama_bin: str = "/usr/local/bin/ollama") -> str:
    return render("ollama@.service.j2", env_dir=ENV_DIR, ollama_bin=ollama_bin,
                  user=cfg.ollama_user, state_dir=STATE_DIR, models_dir=cfg.ollama_models_dir)


def nixos_module(cfg: Settings) -> str:
    """The same instances as NixOS options: one systemd.services entry per instance (the Debian unit's directives
    and env file), the user, the state and model directories, and the audit's services.ollama switched off."""
    template = parse(unit_file(cfg, nix.package(cfg.ollama_nix_package) + "/bin/ollama"))
    services: dict = {cfg.ollama_legacy_unit.removesuffix(".service"): {"enable": nix.Raw("lib.mkForce false")}}
    for inst in cfg.instances:
        services[inst.unit.removesuffix(".service")] = to_nixos(template, parse_env(env_file(cfg, inst.gpu, inst.port)))
    user = cfg.ollama_user
    config = {
        "services": {"ollama": {"enable": nix.Raw("lib.mkForce false")}},
        "systemd": {"services": services, "tmpfiles": {"rules": [
            f"d {STATE_DIR} 0750 {user} {user} -", f"d {cfg.ollama_models_dir} 0750 {user} {user} -"]}},
        "users": {"users": {user: {"isSystemUser": True, "group": user, "extraGroups": list(GPU_GROUPS),
                                   "description": "Ollama instances (hydra-ops G1)"}},
                  "groups": {user: {}, **{g: {} for g in GPU_GROUPS}}},
        "environment": {"systemPackages": [nix.pkg_ref(cfg.ollama_nix_package)]},
        "networking": {"firewall": {"allowedTCPPorts": [i.port for i in cfg.instances] if cfg.ollama_open_firewall
                                    else []}},
    }
    return nix.module(config, "Managed by hydra-ops (G1): one Ollama instance per GPU. Rendered from group data;\n"
                              "edit group_data/compute.py and re-run the deploy instead of this file.")


@deploy("G1 dual Ollama")
def dual_ollama() -> None:
    """Install Ollama from its release tarball and run one instance per configured GPU; retire the single one."""
    cfg = validate_compute(host.data.dict(), host.name)
    check_gpus(cfg, host.get_fact(NvidiaGpus), host.name)
    if current() == "nixos":
        _on_nixos(cfg)
        return

    # The audit's single instance must be gone before an instance binds its port
    # (and before its user is changed).
    legacy = host.get_fact(SystemdUnitState, unit=cfg.ollama_legacy_unit)
    if legacy.get("LoadState") not in (None, "not-found"):
        systemd.service(name=f"G1: stop and disable the single {cfg.ollama_legacy_unit}",
                        service=cfg.ollama_legacy_unit, running=False, enabled=False)

    apt.packages(name="G1: curl and CA certificates for the release download",
                 packages=["curl", "ca-certificates"], update=True, cache_time=3600)
    gpu_service_user("G1", cfg.ollama_user)
    files.directory(name="G1: install root", path=cfg.ollama_install_root, mode="755")
    installed = release.tarball(name=f"G1: Ollama {cfg.ollama_version} (sha256 checked)",
                                url=cfg.ollama_release_url, sha256=cfg.ollama_release_sha256, dest=install_dir(cfg))
    binary = files.link(name="G1: /usr/local/bin/ollama -> installed version", path="/usr/local/bin/ollama",
                        target=f"{install_dir(cfg)}/bin/ollama", force=True)
    files.directory(name="G1: state directory", path=STATE_DIR, user=cfg.ollama_user, group=cfg.ollama_user,
                    mode="750")
    files.directory(name="G1: shared model store", path=cfg.ollama_models_dir, user=cfg.ollama_user,
                    group=cfg.ollama_user, mode="750")
    files.directory(name="G1: instance settings directory", path=ENV_DIR, mode="755")

    unit = files.put(name="G1: ollama@.service template unit", src=StringIO(unit_file(cfg)),
                     dest="/etc/systemd/system/ollama@.service", mode="644")
    systemd.daemon_reload(name="G1: reload systemd units", _if=unit.did_change)

    wanted = {f"{ENV_DIR}/{i.port}.env" for i in cfg.instances}
    for stale in sorted(set(host.get_fact(FindFiles, path=ENV_DIR, quote_path=True, fname="*.env") or []) - wanted):
        port = stale.rsplit("/", 1)[1].removesuffix(".env")
        systemd.service(name=f"G1: retire instance on port {port} (no longer in group data)",
                        service=f"ollama@{port}.service", running=False, enabled=False)
        files.file(name=f"G1: remove {stale}", path=stale, present=False)

    for inst in cfg.instances:
        env = files.put(name=f"G1: settings for port {inst.port} (GPU {inst.gpu})",
                        src=StringIO(env_file(cfg, inst.gpu, inst.port)), dest=f"{ENV_DIR}/{inst.port}.env",
                        mode="644")
        run_and_restart_on_change("G1", inst.unit, [env, unit, installed, binary],
                                  f"http://127.0.0.1:{inst.port}/api/version", cfg.ollama_ready_timeout)

    _pull_models(cfg)


def _on_nixos(cfg: Settings) -> None:
    """NixOS: the module replaces the unit files, user and directories; nixos-rebuild applies it (checked)."""
    nixos.modules(name="G1: NixOS module ollama.nix (dry-build, switch, health check, rollback on failure)",
                  files_wanted={"ollama.nix": nixos_module(cfg)}, config_dir=cfg.nixos_config_dir,
                  health=[f"curl -fsS -o /dev/null http://127.0.0.1:{i.port}/api/version" for i in cfg.instances],
                  timeout=cfg.ollama_ready_timeout)
    _pull_models(cfg, path="/run/current-system/sw/bin")


def _pull_models(cfg: Settings, path: str = "") -> None:
    """Pull the configured models the shared store lacks, through the first instance."""
    stored = set(host.get_fact(OllamaModels, models_dir=cfg.ollama_models_dir))  # custom facts are not cached
    missing = [m for m in cfg.ollama_models if _canonical(m) not in stored]
    if missing:
        first = cfg.instances[0].port
        q = shlex.quote
        pulls = "; ".join(f"ollama pull {q(m)} >/dev/null" for m in missing)
        prefix = f"export PATH={q(path)}:\"$PATH\"; " if path else ""
        server.shell(
            name=f"G1: pull {', '.join(missing)} into the shared store",
            commands=[f"{prefix}export OLLAMA_HOST=127.0.0.1:{first}; {pulls}"],
        )


def _canonical(model: str) -> str:
    return model if ":" in model else f"{model}:latest"
