"""hydra-compute: G1 (one Ollama per GPU) then G2 (nginx least_conn LB on :11400).

Run from the project root: `pyinfra inventory.py deploys/compute.py` (or .cluster/inventory.py locally).
"""

from pyinfra import host

from hydra_ops.gaps.g01_dual_ollama import dual_ollama
from hydra_ops.gaps.g02_nginx_lb import nginx_lb
from hydra_ops.platform import preflight
from hydra_ops.validation import validate_compute

if "compute" in host.groups:
    validate_compute(host.data.dict(), host.name)  # all data checks before any fact or operation
    preflight("G1", "G2")  # a platform without a renderer stops every host before any change
    dual_ollama()
    nginx_lb()
