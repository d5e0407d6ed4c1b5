"""The SOLLOL cluster (seed 003): Ollama on every node of group sollol through the Ollama service, the seed's
model tiers pulled onto the nodes that can hold them, and the real SOLLOL gateway on one of them.

options.py declares the settings (and which of the seed's knobs SOLLOL really reads), state.py the gateway's
files, debian.py installs the gateway, detect.py audits a live cluster.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pyinfra import host, inventory
from pyinfra.api import deploy

from hydra_ops import config
from hydra_ops.services.ollama.options import OllamaOptions
from hydra_ops.services.sollol.options import SollolOptions
from hydra_ops.settings import load, load_all
from hydra_ops.validation import ValidationError

GROUP = "sollol"


def inventory_nodes(hosts: Iterable[Any]) -> dict[str, tuple[str, int]]:
    """Name -> (address, Ollama port) of every host of group sollol (its first instance's public port)."""
    out = {}
    for h in hosts:
        if GROUP in h.groups:
            first = load(OllamaOptions, h.data.dict(), h.name).ollama_instances[0]
            out[h.name] = (str(h.data.get("ssh_hostname") or h.name), first.port)
    return out


def sollol(data: Mapping[str, Any], name: str, nodes: Mapping[str, tuple[str, int]]) -> SollolOptions:
    """Validate a sollol host's group data against the inventory; raise one error listing every problem."""
    so, _ = load_all(data, name, SollolOptions, OllamaOptions)
    problems = [f"sollol_nodes: {n} is not a host of group {GROUP} in the inventory"
                for n in so.sollol_nodes if n not in nodes]
    problems += [f"inventory host {n} (group {GROUP}) has no entry in sollol_nodes" for n in nodes
                 if n not in so.sollol_nodes]
    if problems:
        raise ValidationError(name, problems)
    return so


@deploy("SOLLOL cluster")
def deploy_sollol() -> None:
    """This node's Ollama (and the placed models); the gateway too on sollol_gateway_host."""
    from hydra_ops.services.lb import deploy_lb
    from hydra_ops.services.ollama import _options, deploy_instances, pull_models
    from hydra_ops.services.sollol import debian

    nodes = inventory_nodes(inventory)
    whole = config.host_config()
    so = whole.need(whole.sollol, "sollol_nodes")
    deploy_instances()
    deploy_lb()  # nginx serves the instance's public port (model management stays on loopback)
    pull_models(_options(), models=so.models_on(host.name))
    if host.name == so.sollol_gateway_host:
        debian.gateway(so, nodes)
