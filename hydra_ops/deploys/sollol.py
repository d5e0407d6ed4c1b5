"""The SOLLOL cluster (seed 003): each node's Ollama and its placed models, then the SOLLOL gateway on
sollol_gateway_host. Every host's group data is checked (placement against capacity, routing mode) first.

Run: `hydra deploy sollol` (from a checkout also `pyinfra inventory.py deploys/sollol.py`).
"""

from pyinfra import host

from hydra_ops.config import host_config
from hydra_ops.platform import preflight
from hydra_ops.services.sollol import deploy_sollol

if "sollol" in host.groups:
    host_config()  # every option of the host checked, once, before any fact or operation
    preflight("S1")  # a platform without a renderer stops every host before any change
    deploy_sollol()
