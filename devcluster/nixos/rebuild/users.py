"""users.groups / users.users: groupadd, useradd and usermod so the host's accounts match (never userdel)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

NOLOGIN = "/usr/sbin/nologin"
BASH = "/bin/bash"


def _read(root: Path, name: str) -> dict[str, list[str]]:
    path = root / "etc" / name
    entries = {}
    if path.exists():
        for line in path.read_text().splitlines():
            fields = line.split(":")
            if len(fields) >= 4:
                entries[fields[0]] = fields
    return entries


def _shell(name: str, user: dict[str, Any]) -> str:
    shell = user.get("shell")
    if isinstance(shell, str) and shell:
        if shell.startswith("/nix/store/") and "/bin/" not in shell:
            return f"{shell}/bin/{Path(shell).name.split('-', 1)[-1].rsplit('-', 1)[0]}"
        return shell
    return BASH if user.get("isNormalUser") else NOLOGIN


def normalise_user(name: str, user: dict[str, Any]) -> dict[str, Any]:
    """A users.users entry with NixOS's defaults (isNormalUser implies /home/<name> and createHome)."""
    u = dict(user or {})
    normal = bool(u.get("isNormalUser"))
    home = u.get("home") or "/var/empty"
    if normal and home == "/var/empty":
        home = f"/home/{name}"
    return {"system": bool(u.get("isSystemUser")), "normal": normal, "group": u.get("group") or "",
            "extraGroups": list(u.get("extraGroups") or []), "home": home,
            "createHome": bool(u.get("createHome")) or normal, "shell": _shell(name, u), "uid": u.get("uid"),
            "description": u.get("description") or "",
            "hashedPassword": u.get("hashedPassword") or u.get("initialHashedPassword")}


def plan(root: Path, users: dict[str, Any], groups: dict[str, Any]) -> list[list[str]]:
    """The commands that make the host's passwd/group match the declared users and groups."""
    passwd, group_db = _read(root, "passwd"), _read(root, "group")
    commands: list[list[str]] = []
    known = set(group_db)

    def ensure_group(name: str, gid: Any = None) -> None:
        if name in known:
            return
        commands.append(["groupadd", *(["-g", str(gid)] if gid is not None else ["-r"]), name])
        known.add(name)

    for name, spec in sorted(groups.items()):
        ensure_group(name, (spec or {}).get("gid"))
    for name, raw in sorted(users.items()):
        u = normalise_user(name, raw)
        group = u["group"] or ("users" if u["normal"] else name)
        ensure_group(group)
        for extra in u["extraGroups"]:
            ensure_group(extra)
        if name not in passwd:
            cmd = ["useradd"]
            cmd += ["-r"] if u["system"] else []
            cmd += ["-u", str(u["uid"])] if u["uid"] is not None else []
            cmd += ["-g", group]
            cmd += ["-G", ",".join(u["extraGroups"])] if u["extraGroups"] else []
            cmd += ["-d", u["home"], "-m" if u["createHome"] else "-M", "-s", u["shell"]]
            cmd += ["-c", u["description"]] if u["description"] else []
            cmd += ["-p", u["hashedPassword"]] if u["hashedPassword"] else []
            commands.append([*cmd, name])
            continue
        entry = passwd[name]
        changes: list[str] = []
        current_group = next((g for g, f in group_db.items() if f[2] == entry[3]), None)
        if current_group != group:
            changes += ["-g", group]
        members = {g for g, f in group_db.items() if name in f[3].split(",")}
        missing = [g for g in u["extraGroups"] if g not in members]
        if missing:
            changes += ["-a", "-G", ",".join(missing)]
        if entry[5] != u["home"]:
            changes += ["-d", u["home"]]
        if len(entry) > 6 and entry[6] != u["shell"]:
            changes += ["-s", u["shell"]]
        if u["description"] and entry[4] != u["description"]:
            changes += ["-c", u["description"]]
        if changes:
            commands.append(["usermod", *changes, name])
        if u["createHome"] and not (root / u["home"].lstrip("/")).exists():
            commands.append(["install", "-d", "-m", "0700", "-o", name, "-g", group, u["home"]])
    return commands
