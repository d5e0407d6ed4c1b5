"""Exporters on every host (node exporter; nvidia-smi exporter where GPUs are expected) for the Prometheus of the
storage stack (seed 001 Part 10): Debian packages, a NixOS module, or on Unraid a check that the stack runs its
node exporter. An unknown platform stops every host before any change.

Run: `hydra deploy monitoring` (from a checkout also `pyinfra inventory.py deploys/monitoring.py`).
"""

from pyinfra import host

from hydra_ops.config import host_config
from hydra_ops.platform import UnsupportedPlatform, current
from hydra_ops.services.monitoring import PLATFORMS, deploy_exporters

if current() not in PLATFORMS:
    raise UnsupportedPlatform(f"{host.name}: platform {current()!r}: the exporters support {', '.join(PLATFORMS)} "
                              "only so far. Nothing was changed on any host.")
host_config()  # every option of the host checked, once, before any fact or operation
deploy_exporters()
