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


#: A unit's environment as systemd will start it: Environment= entries, then the files EnvironmentFile= names
#: (Debian units use a file, NixOS modules declare `environment`); one KEY=value per line.
ENVIRONMENT = (
    "systemctl show -p Environment --value -- {unit} | tr ' ' '\\n'; "
    "for f in $(systemctl show -p EnvironmentFiles --value -- {unit} | grep -o '^/[^ ]*'); do "
    "cat \"$f\" 2>/dev/null; echo; done"
)


class UnitEnvironment(FactBase[dict[str, str]]):
    """``{"CUDA_VISIBLE_DEVICES": "0", ...}`` from the unit's Environment= and EnvironmentFile= settings."""

    def command(self, unit: str) -> str:
        return ENVIRONMENT.format(unit=unit)

    def process(self, output: list[str]) -> dict[str, str]:
        return parse_environment(output)


def parse_environment(lines: list[str]) -> dict[str, str]:
    env = {}
    for line in lines:
        key, sep, value = line.strip().partition("=")
        if sep and key and not key.startswith("#"):
            env[key] = value
    return env
