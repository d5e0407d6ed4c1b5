"""Seed 004's spark hosts: the vLLM compose stack on each, Traefik on traefik_host balancing the embeddings.

Run: `hydra deploy spark` (from a checkout also `pyinfra inventory.py deploys/spark.py`); needs a group `spark`.
"""

from pyinfra import host

from hydra_ops.config import host_config
from hydra_ops.services.spark import deploy_spark

if "spark" in host.groups:
    host_config()  # every option of the host (and every spark host's) checked, once, before any fact or operation
    deploy_spark()
