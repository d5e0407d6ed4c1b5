"""Seed 004's spark hosts: the vLLM compose stack on each, Traefik on traefik_host balancing the embeddings.

Run from the project root: `pyinfra inventory.py deploys/spark.py` (the inventory needs a group `spark`).
"""

from pyinfra import host

from hydra_ops.services.spark import deploy_spark, members

if "spark" in host.groups:
    members()  # every spark host's data checked before any fact or operation
    deploy_spark()
