"""TabbyAPI on Debian: python3-venv and tools from apt, the service user, the unit files written and reloaded,
a canary that is no longer wanted stopped, and the files a unit runs on kept before a change (put back when the
new version fails its health check)."""

from __future__ import annotations

from io import StringIO

from pyinfra import host
from pyinfra.api.operation import OperationMeta
from pyinfra.operations import files, systemd

from hydra_ops.facts.systemd_units import SystemdUnitState
from hydra_ops.operations import transaction
from hydra_ops.operations.packages import debian_packages
from hydra_ops.operations.service import gpu_service_user
from hydra_ops.services.tabbyapi.options import TabbyOptions
from hydra_ops.services.tabbyapi.state import (
    CANARY_UNIT,
    api_tokens,
    app_dir,
    config_yml,
    prestart_path,
    prestart_script,
    unit_file,
)


def base(user: str) -> None:
    """What the install needs first: python3-venv, curl, procps, iproute2 and the GPU service user."""
    debian_packages(name="G10: python3-venv, curl, procps, iproute2",
                    packages=["python3-venv", "curl", "ca-certificates", "procps", "iproute2"])
    gpu_service_user("G10", user, "tabby_user")


def unit(o: TabbyOptions, unit: str, lib_dir: str) -> list[OperationMeta]:
    """The unit file, and a daemon-reload when it changed."""
    label = unit.removesuffix(".service")
    op = files.put(name=f"G10: {unit}", src=StringIO(unit_file(o, lib_dir, unit)), dest=unit_path(unit), mode="644")
    systemd.daemon_reload(name=f"G10: {label}: reload systemd units", _if=op.did_change)
    return [op]


def stop_canary() -> None:
    """No canary wanted (none configured, or it was promoted): its unit stops and stays off."""
    if host.get_fact(SystemdUnitState, unit=CANARY_UNIT).get("LoadState") == "loaded":
        systemd.service(name=f"G10: {CANARY_UNIT} stopped (no canary, or it was promoted)", service=CANARY_UNIT,
                        running=False, enabled=False)


def unit_path(unit: str) -> str:
    """Where Debian keeps the unit file hydra-ops writes."""
    return f"/etc/systemd/system/{unit}"


def keep_previous(o: TabbyOptions, unit: str, keys: dict[str, str], lib_dir: str) -> None:
    """Before install.service and unit() write anything: keep the config, keys, prestart and unit file that will
    change, so a new version that fails /health is restored (run_and_restart_on_change takes the transaction)."""
    transaction.keep("G10", unit, [
        transaction.Desired(f"{app_dir(o)}/config.yml", config_yml(o)),
        transaction.Desired(f"{app_dir(o)}/api_tokens.yml", api_tokens(keys), secret=True),
        transaction.Desired(prestart_path(lib_dir, unit), prestart_script(o, unit)),
        transaction.Desired(unit_path(unit), unit_file(o, lib_dir, unit)),
    ])
