"""pyinfra's own guard: stop at once, with pyinfra's message, when a deploy runs from the wrong environment.

pyinfra 3.10 executes this file (from the directory it runs in) before it reads the inventory or any deploy file;
setting these two names makes pyinfra check them on the spot. Run deploys from the project's venv
(`.venv/bin/pyinfra inventory.py deploys/compute.py` or with it activated), where hydra-ops is installed.
"""

from pyinfra import config

#: The pyinfra series the deploys are written and tested against (same pin as pyproject.toml).
config.REQUIRE_PYINFRA_VERSION = "==3.10.*"

#: hydra-ops itself, installed in this environment, and (checked recursively) every package it depends on.
config.REQUIRE_PACKAGES = ["hydra-ops"]
