"""The SOLLOL cluster (seed 003): each node's Ollama and its placed models, then the SOLLOL gateway on
sollol_gateway_host. Every host's group data is checked (placement against capacity, routing mode) first.

Run: `hydra deploy sollol` (from a checkout also `pyinfra inventory.py deploys/sollol.py`).
"""

from pyinfra import host, inventory

from hydra_ops.platform import preflight
from hydra_ops.services.sollol import deploy_sollol, inventory_nodes, sollol

if "sollol" in host.groups:
    sollol(host.data.dict(), host.name, inventory_nodes(inventory))  # all data checks before any fact or operation
    preflight("S1")  # a platform without a renderer stops every host before any change
    deploy_sollol()
