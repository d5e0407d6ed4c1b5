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
from hydra_ops.operations import release
from hydra_ops.operations.service import gpu_service_user, run_and_restart_on_change
from hydra_ops.render import render
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


def unit_file(cfg: Settings) -> str:
    return render("ollama@.service.j2", env_dir=ENV_DIR, ollama_bin="/usr/local/bin/ollama",
                  user=cfg.ollama_user, state_dir=STATE_DIR, models_dir=cfg.ollama_models_dir)


@deploy("G1 dual Ollama")
def dual_ollama() -> None:
    """Install Ollama from its release tarball and run one instance per configured GPU; retire the single one."""
    cfg = validate_compute(host.data.dict(), host.name)
    check_gpus(cfg, host.get_fact(NvidiaGpus), host.name)

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

    stored = set(host.get_fact(OllamaModels, models_dir=cfg.ollama_models_dir))  # custom facts are not cached
    missing = [m for m in cfg.ollama_models if _canonical(m) not in stored]
    if missing:
        first = cfg.instances[0].port
        q = shlex.quote
        pulls = "; ".join(f"ollama pull {q(m)} >/dev/null" for m in missing)
        server.shell(
            name=f"G1: pull {', '.join(missing)} into the shared store",
            commands=[f"export OLLAMA_HOST=127.0.0.1:{first}; {pulls}"],
        )


def _canonical(model: str) -> str:
    return model if ":" in model else f"{model}:latest"
