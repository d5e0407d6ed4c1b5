"""Read a rendered systemd unit (and env file) back into data, and map it onto NixOS's ``systemd.services``.

The unit templates are the one declaration of a service's systemd settings; Debian installs the rendered file,
NixOS gets the same directives as module options (this mapping), so both platforms run the same service.
"""

from __future__ import annotations

import shlex
from typing import Any

Unit = dict[str, list[tuple[str, str]]]

#: [Unit] directives that NixOS exposes as list options of systemd.services.<name>.
_LIST_OPTIONS = {"After": "after", "Before": "before", "Wants": "wants", "Requires": "requires",
                 "BindsTo": "bindsTo", "PartOf": "partOf", "Conflicts": "conflicts", "Documentation": "documentation"}
_INT_OPTIONS = {"StartLimitBurst": "startLimitBurst", "StartLimitIntervalSec": "startLimitIntervalSec"}


def parse(text: str) -> Unit:
    """Sections -> ordered (key, value) pairs; comments and blank lines dropped, repeated keys kept."""
    unit: Unit = {}
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            unit.setdefault(section, [])
            continue
        key, sep, value = line.partition("=")
        if not sep or not section:
            raise ValueError(f"not a unit file line: {raw!r}")
        unit[section].append((key.strip(), value.strip()))
    return unit


def parse_env(text: str) -> dict[str, str]:
    """An EnvironmentFile's KEY=value lines (no quoting is used in ours; a value is the rest of the line)."""
    env = {}
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value
    return env


def _environment_line(value: str) -> dict[str, str]:
    """``Environment=`` values: space-separated assignments, each optionally double-quoted."""
    return dict(item.split("=", 1) for item in shlex.split(value))


def grouped(pairs: list[tuple[str, str]]) -> dict[str, str | list[str]]:
    """key -> value, or a list of values for a key that repeats (systemd accumulates those)."""
    out: dict[str, str | list[str]] = {}
    for key, value in pairs:
        if key in out:
            previous = out[key]
            out[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            out[key] = value
    return out


def to_nixos(unit: Unit, env: dict[str, str] | None = None) -> dict[str, Any]:
    """systemd.services.<name> for a parsed unit; ``env`` (an EnvironmentFile's content) joins ``environment``.

    EnvironmentFile itself is dropped: on NixOS the variables are declared in the module instead.
    """
    service: dict[str, Any] = {}
    unit_config: dict[str, Any] = {}
    for key, value in grouped(unit.get("Unit", [])).items():
        if key == "Description":
            service["description"] = value
        elif key in _LIST_OPTIONS:
            values = value if isinstance(value, list) else [value]
            service[_LIST_OPTIONS[key]] = [item for v in values for item in v.split()]
        elif key in _INT_OPTIONS:
            service[_INT_OPTIONS[key]] = int(str(value))
        else:
            unit_config[key] = value
    environment = dict(env or {})
    service_config: dict[str, Any] = {}
    for key, value in unit.get("Service", []):
        if key == "Environment":
            environment.update(_environment_line(value))
        elif key != "EnvironmentFile":
            service_config.setdefault(key, []).append(value)
    service["serviceConfig"] = {k: v[0] if len(v) == 1 else v for k, v in service_config.items()}
    if environment:
        service["environment"] = environment
    if unit_config:
        service["unitConfig"] = unit_config
    wanted = [t for k, v in unit.get("Install", []) if k == "WantedBy" for t in v.split()]
    if wanted:
        service["wantedBy"] = wanted
    return service
