"""Seed 004's spark hosts: the vLLM compose stack on each, Traefik on traefik_host balancing the embeddings.

Run: `hydra deploy spark` (from a checkout also `pyinfra inventory.py deploys/spark.py`); needs a group `spark`.
"""

from pyinfra import host

from hydra_ops.services.spark import deploy_spark, members

if "spark" in host.groups:
    members()  # every spark host's data checked before any fact or operation
    deploy_spark()
