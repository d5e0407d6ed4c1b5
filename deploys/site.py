"""The whole cluster: every bundle that exists, each on its own group (run: pyinfra inventory.py deploys/site.py).

The seeds' two other systems (group sollol: seed 003; group spark: seed 004) run where the inventory has them.
"""

from pyinfra import local

for _part in ("deploys/compute.py", "deploys/ai.py", "deploys/storage.py", "deploys/sollol.py", "deploys/spark.py"):
    local.include(_part)
