"""The nginx load balancer (G2): least_conn over the Ollama instances on :11400.

options.py declares the settings, state.py the site config, debian.py and nixos.py render it per platform,
detect.py reads the live config nginx runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyinfra.api import deploy

from hydra_ops import config
from hydra_ops.platform import current
from hydra_ops.services.lb import debian, nixos
from hydra_ops.services.lb.options import LbOptions
from hydra_ops.services.lb.state import drain_files, site
from hydra_ops.services.ollama.options import OllamaOptions
from hydra_ops.settings import load_all
from hydra_ops.validation import ValidationError

PLATFORMS = ("debian", "nixos")


def lb_options(data: Mapping[str, Any], name: str) -> tuple[LbOptions, OllamaOptions]:
    """The LB's options and the instances it serves (the LB port must be none of their ports)."""
    lb, ollama = load_all(data, name, LbOptions, OllamaOptions)
    if lb.lb_port in {p for front in ollama.fronts for p in front}:
        raise ValidationError(name, [f"lb_port: {lb.lb_port} is also an Ollama instance's port"])
    return lb, ollama


@deploy("G2 nginx LB")
def deploy_lb() -> None:
    """Put the LB config in place the platform's checked way."""
    cfg = config.host_config()
    compute = cfg.need(cfg.compute, "lb_port")
    lb, ollama = compute.lb, compute.ollama
    if current() == "nixos":  # the config is checked at build time: no includes from outside the store
        site_conf = site(lb, ollama.fronts, ollama.ollama_bind_address)
        nixos.apply(lb, site_conf, cfg.platform.nixos_config_dir)
    else:
        site_conf = site(lb, ollama.fronts, ollama.ollama_bind_address, lb.lb_drain_dir)
        debian.apply(lb, site_conf, drain_files(lb, ollama.fronts, lb.lb_drain_dir))
