"""The whole cluster: every bundle that exists, each on its own group (run: pyinfra inventory.py deploys/site.py)."""

from pyinfra import local

local.include("deploys/compute.py")
