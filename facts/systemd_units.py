"""systemd unit state from `systemctl show`: what `is-enabled`/`is-active` alone get wrong (static, prefixes)."""

from __future__ import annotations

from pyinfra.api import FactBase

PROPS = ("LoadState", "ActiveState", "SubState", "UnitFileState", "MainPID", "NRestarts", "FragmentPath",
         "StartLimitBurst", "ExecStartPre")


class SystemdUnitState(FactBase[dict[str, str]]):
    """``{"LoadState": "loaded", "ActiveState": "active", "UnitFileState": "enabled", "MainPID": "123", ...}``;
    LoadState is "not-found" for a unit that does not exist."""

    def requires_command(self, unit: str) -> str:
        return "systemctl"

    def command(self, unit: str) -> str:
        return f"systemctl show --no-pager -p {','.join(PROPS)} -- {unit}"

    def process(self, output: list[str]) -> dict[str, str]:
        return parse_show(output)


def parse_show(lines: list[str]) -> dict[str, str]:
    state = {}
    for line in lines:
        key, sep, value = line.partition("=")
        if sep:
            state[key.strip()] = value.strip()
    return state
