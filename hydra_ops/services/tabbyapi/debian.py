"""TabbyAPI on Debian: python3-venv and tools from apt, the service user, the unit files written and reloaded,
and a canary that is no longer wanted stopped."""

from __future__ import annotations

from io import StringIO

from pyinfra import host
from pyinfra.api.operation import OperationMeta
from pyinfra.operations import files, systemd

from hydra_ops.facts.systemd_units import SystemdUnitState
from hydra_ops.operations.packages import debian_packages
from hydra_ops.operations.service import gpu_service_user
from hydra_ops.services.tabbyapi.options import TabbyOptions
from hydra_ops.services.tabbyapi.state import CANARY_UNIT, unit_file


def base(user: str) -> None:
    """What the install needs first: python3-venv, curl, procps, iproute2 and the GPU service user."""
    debian_packages(name="G10: python3-venv, curl, procps, iproute2",
                    packages=["python3-venv", "curl", "ca-certificates", "procps", "iproute2"])
    gpu_service_user("G10", user, "tabby_user")


def unit(o: TabbyOptions, unit: str, lib_dir: str) -> list[OperationMeta]:
    """The unit file, and a daemon-reload when it changed."""
    label = unit.removesuffix(".service")
    op = files.put(name=f"G10: {unit}", src=StringIO(unit_file(o, lib_dir, unit)), dest=f"/etc/systemd/system/{unit}",
                   mode="644")
    systemd.daemon_reload(name=f"G10: {label}: reload systemd units", _if=op.did_change)
    return [op]


def stop_canary() -> None:
    """No canary wanted (none configured, or it was promoted): its unit stops and stays off."""
    if host.get_fact(SystemdUnitState, unit=CANARY_UNIT).get("LoadState") == "loaded":
        systemd.service(name=f"G10: {CANARY_UNIT} stopped (no canary, or it was promoted)", service=CANARY_UNIT,
                        running=False, enabled=False)
