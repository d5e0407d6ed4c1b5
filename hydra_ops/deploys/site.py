"""The whole cluster: every bundle that exists, each on its own group (run: pyinfra inventory.py deploys/site.py).

The seeds' two other systems (group sollol: seed 003; group spark: seed 004) run where the inventory has them.
"""

from pyinfra import local

# "./" is pyinfra's "beside this file": the site runs the same from a checkout and from an installed package
for _part in ("./compute.py", "./ai.py", "./storage.py", "./sollol.py", "./spark.py"):
    local.include(_part)
