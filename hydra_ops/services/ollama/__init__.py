"""Ollama instances (G1): one GPU-pinned instance per GPU instead of the audit's single one on GPU 0.

options.py declares the settings, state.py the desired units and environment, debian.py and nixos.py render
them per platform, detect.py tells whether the gap is open on a live host.
"""

from __future__ import annotations

import shlex

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import server

from hydra_ops import config
from hydra_ops.facts.gpus import NvidiaGpus
from hydra_ops.facts.ollama import OllamaModels
from hydra_ops.platform import current
from hydra_ops.services.ollama import debian, nixos
from hydra_ops.services.ollama.options import OllamaOptions
from hydra_ops.services.ollama.state import missing_models
from hydra_ops.validation import check_gpus

PLATFORMS = ("debian", "nixos")


def _options() -> OllamaOptions:
    cfg = config.host_config()
    return cfg.need(cfg.compute, "ollama_instances").ollama


@deploy("G1 dual Ollama")
def deploy_instances() -> None:
    """Run one instance per configured GPU (their GPUs must exist), then pull the configured models once."""
    cfg = config.host_config()
    compute = cfg.need(cfg.compute, "ollama_instances")
    o = compute.ollama
    check_gpus(o.instances, host.get_fact(NvidiaGpus), host.name)
    if current() == "nixos":
        nixos.apply(o, cfg.platform.nixos_config_dir)
        pull_models(o, path="/run/current-system/sw/bin")
    else:
        debian.apply(o, compute.lb.lb_drain_dir)  # where the LB keeps each instance's upstream line
        pull_models(o)


def pull_models(o: OllamaOptions, path: str = "", models: list[str] | None = None) -> None:
    """Pull the configured models (or `models`: a placement's) the shared store lacks, through the first instance."""
    missing = missing_models(o, set(host.get_fact(OllamaModels, models_dir=o.ollama_models_dir)), models)
    if missing:
        q = shlex.quote
        pulls = "; ".join(f"ollama pull {q(m)} >/dev/null" for m in missing)
        prefix = f"export PATH={q(path)}:\"$PATH\"; " if path else ""
        server.shell(name=f"G1: pull {', '.join(missing)} into the shared store",
                     commands=[f"{prefix}export OLLAMA_HOST=127.0.0.1:{o.internal_port(o.instances[0])}; {pulls}"])
