"""hydra-compute: G1 (one Ollama per GPU) then G2 (nginx least_conn LB on :11400), on Debian or NixOS.

Run: `hydra deploy compute` (from a checkout also `pyinfra inventory.py deploys/compute.py`).
"""

from pyinfra import host

from hydra_ops.config import host_config
from hydra_ops.platform import preflight
from hydra_ops.services.lb import deploy_lb
from hydra_ops.services.ollama import deploy_instances

if "compute" in host.groups:
    host_config()  # every option of the host checked, once, before any fact or operation
    preflight("G1", "G2")  # a platform without a renderer stops every host before any change
    deploy_instances()
    deploy_lb()
