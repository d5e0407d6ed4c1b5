"""systemd unit files from `systemd.services.<name>` entries, rendered the way NixOS's systemd-lib renders them."""

from __future__ import annotations

import json
import os
import sysconfig
from pathlib import Path
from typing import Any

from .store import add_text

# NixOS appends coreutils, findutils, gnugrep, gnused and systemd to every service's PATH; on the Debian host
# those live in the usual directories.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BASH = "/bin/bash"
#: NixOS has no /usr/lib: a program finds libstdc++.so.6 only through its RPATH or LD_LIBRARY_PATH. Every realised
#: unit gets Debian's copy hidden (InaccessiblePaths=, the real file behind the soname's link), so a unit that does
#: not provide it (e.g. `lib.makeLibraryPath [ pkgs.stdenv.cc.cc.lib ]`) fails as on NixOS: "libstdc++.so.6: cannot
#: open shared object file". Simplified: zlib stays visible (Debian's python3 itself links libz.so.1), and a
#: process keeping root's CAP_DAC_OVERRIDE opens the hidden (empty) file and fails with "file too short" instead.
HIDDEN_LIBS = ["-" + os.path.realpath(f"/usr/lib/{sysconfig.get_config_var('MULTIARCH')}/libstdc++.so.6")]

SERVICE_DEFAULTS: dict[str, Any] = {
    "enable": True, "description": "", "documentation": [], "after": [], "before": [], "wants": [], "requires": [],
    "bindsTo": [], "partOf": [], "conflicts": [], "requisite": [], "upholds": [], "onFailure": [], "onSuccess": [],
    "wantedBy": [], "requiredBy": [], "environment": {}, "path": [], "serviceConfig": {}, "unitConfig": {},
    "startLimitBurst": None, "startLimitIntervalSec": None, "script": "", "preStart": "", "postStart": "",
    "reload": "", "preStop": "", "postStop": "", "restartIfChanged": True, "reloadIfChanged": False,
    "stopIfChanged": True, "restartTriggers": [], "reloadTriggers": [],
}

# option -> [Unit] key (space-separated lists), in NixOS's order
_UNIT_LISTS = [("requires", "Requires"), ("wants", "Wants"), ("upholds", "Upholds"), ("bindsTo", "BindsTo"),
               ("partOf", "PartOf"), ("conflicts", "Conflicts"), ("requisite", "Requisite"), ("before", "Before"),
               ("after", "After"), ("onSuccess", "OnSuccess"), ("onFailure", "OnFailure")]


def normalise(entry: dict[str, Any] | None) -> dict[str, Any]:
    """A `systemd.services.<name>` value with NixOS's defaults for every missing option."""
    merged = dict(SERVICE_DEFAULTS)
    merged.update({k: v for k, v in (entry or {}).items() if v is not None})
    return merged


def to_option(value: Any) -> str:
    """NixOS's `toOption`: true/false for bools, toString for the rest."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def attrs_to_section(attrs: dict[str, Any]) -> list[str]:
    """NixOS's `attrsToSection`: keys sorted, one line per list item, nulls dropped."""
    lines = []
    for key in sorted(attrs):
        value = attrs[key]
        for item in value if isinstance(value, list) else [value]:
            if item is not None:
                lines.append(f"{key}={to_option(item)}")
    return lines


def environment_line(key: str, value: Any) -> str:
    """`Environment="KEY=value"`, quoted as NixOS does (builtins.toJSON, which systemd's unquoting reverses)."""
    return "Environment=" + json.dumps(f"{key}={to_option(value)}", ensure_ascii=False)


def service_path(path: list[str]) -> str:
    """PATH for a service: each `path` entry's bin, then each one's sbin, then the default tools."""
    parts = [f"{p}/bin" for p in path] + [f"{p}/sbin" for p in path] + [DEFAULT_PATH]
    return ":".join(parts)


def job_script(root: Path, unit: str, kind: str, text: str) -> str:
    """A content-addressed script (NixOS's makeJobScript) in the store; returns its path."""
    body = f"#!{BASH}\nset -e\n{text}\n"
    name = f"{unit}-{kind}".replace("@", "-")
    return add_text(root, f"unit-script-{name}", body, executable=True, filename=name)


def unit_config(service: dict[str, Any]) -> dict[str, Any]:
    """The [Unit] section's attributes (NixOS's `unitConfig` after its own options are merged in)."""
    attrs: dict[str, Any] = {}
    for option, key in _UNIT_LISTS:
        if service[option]:
            attrs[key] = " ".join(service[option])
    if service["description"]:
        attrs["Description"] = service["description"]
    if service["documentation"]:
        attrs["Documentation"] = " ".join(service["documentation"])
    if service["startLimitBurst"] is not None:
        attrs["StartLimitBurst"] = service["startLimitBurst"]
    if service["startLimitIntervalSec"] is not None:
        attrs["StartLimitIntervalSec"] = service["startLimitIntervalSec"]
    if service["restartTriggers"]:
        attrs["X-Restart-Triggers"] = " ".join(map(to_option, service["restartTriggers"]))
    if service["reloadTriggers"]:
        attrs["X-Reload-Triggers"] = " ".join(map(to_option, service["reloadTriggers"]))
    attrs.update(service["unitConfig"] or {})
    return attrs


def _prepend(config: dict[str, Any], key: str, item: str) -> None:
    old = config.get(key)
    config[key] = [item] + (old if isinstance(old, list) else [] if old is None else [old])


def render_service(root: Path, name: str, entry: dict[str, Any]) -> str:
    """The text of `<name>.service` for a `systemd.services.<name>` entry (scripts are written to the store)."""
    service = normalise(entry)
    env = dict(service["environment"] or {})
    env.setdefault("PATH", service_path(service["path"] or []))
    config = dict(service["serviceConfig"] or {})
    if service["script"]:
        config.setdefault("ExecStart", job_script(root, name, "start", service["script"]))
    for option, key, kind in [("preStart", "ExecStartPre", "pre-start"), ("postStart", "ExecStartPost", "post-start"),
                              ("reload", "ExecReload", "reload"), ("preStop", "ExecStop", "pre-stop"),
                              ("postStop", "ExecStopPost", "post-stop")]:
        if service[option]:
            _prepend(config, key, job_script(root, name, kind, service[option]))
    hidden = config.get("InaccessiblePaths")
    config["InaccessiblePaths"] = [*(hidden if isinstance(hidden, list) else [] if hidden is None else [hidden]),
                                   *HIDDEN_LIBS]
    lines = ["[Unit]", *attrs_to_section(unit_config(service)), "", "[Service]"]
    lines += [environment_line(k, v) for k, v in sorted(env.items()) if v is not None]
    if service["reloadIfChanged"]:
        lines.append("X-ReloadIfChanged=true")
    elif not service["restartIfChanged"]:
        lines.append("X-RestartIfChanged=false")
    if not service["stopIfChanged"]:
        lines.append("X-StopIfChanged=false")
    lines += attrs_to_section(config)
    install = [f"WantedBy={' '.join(service['wantedBy'])}"] if service["wantedBy"] else []
    install += [f"RequiredBy={' '.join(service['requiredBy'])}"] if service["requiredBy"] else []
    if install:
        lines += ["", "[Install]", *install]
    return "\n".join(lines) + "\n"


def parse_unit(text: str) -> dict[str, list[tuple[str, str]]]:
    """A unit file as {section: [(key, value), ...]} (enough to compare two versions of a generated unit)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = sections.setdefault("", [])
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
        elif "=" in line:
            key, _, value = line.partition("=")
            current.append((key.strip(), value.strip()))
    return sections


def unit_value(text: str, section: str, key: str, default: str | None = None) -> str | None:
    """The last value of `key` in `section` of a unit file's text."""
    values = [v for k, v in parse_unit(text).get(section, []) if k == key]
    return values[-1] if values else default


def install_targets(text: str) -> dict[str, list[str]]:
    """{"wants": [targets...], "requires": [...]} from the unit's [Install] section."""
    found: dict[str, list[str]] = {"wants": [], "requires": []}
    for key, value in parse_unit(text).get("Install", []):
        if key == "WantedBy":
            found["wants"] += value.split()
        elif key == "RequiredBy":
            found["requires"] += value.split()
    return found
