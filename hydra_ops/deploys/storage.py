"""hydra-storage: G3 secret files, then the docker compose stack with G4 Redis, G5 LiteLLM, G7 CrewAI, G8 LangGraph.

Run: `hydra deploy storage` (from a checkout also `pyinfra inventory.py deploys/storage.py`).
"""

from pyinfra import host

from hydra_ops.config import host_config
from hydra_ops.platform import preflight
from hydra_ops.services.stack import deploy_stack

if "storage" in host.groups:
    host_config()  # every option of the host checked, once, before any fact or operation
    preflight("G3", "G4", "G5", "G7", "G8")
    deploy_stack()
