"""The whole cluster: every bundle that exists, each on its own group (run: pyinfra inventory.py deploys/site.py)."""

from pyinfra import local

for _part in ("deploys/compute.py", "deploys/ai.py", "deploys/storage.py"):
    local.include(_part)
