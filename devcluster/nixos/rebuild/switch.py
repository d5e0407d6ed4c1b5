"""Activating a generation the way switch-to-configuration does: stop what goes away or must stop, write the
files, accounts, tmpfiles and firewall, daemon-reload, then reload/restart/start and wait for the units."""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import firewall, generations, users
from .realise import NGINX_CONF, TMPFILES, UNIT_DIR, generation_units
from .units import install_targets, parse_unit, unit_value

MANIFEST = "etc/hydra-nixos/managed.json"
VENDOR_DIRS = ["lib/systemd/system", "usr/lib/systemd/system"]
STATE_PROPS = "Id,ActiveState,SubState,Type,Result,NRestarts,InactiveExitTimestampMonotonic"


@dataclass
class Plan:
    stop: list[str] = field(default_factory=list)
    start: list[str] = field(default_factory=list)
    restart: list[str] = field(default_factory=list)
    reload: list[str] = field(default_factory=list)


def should_run(text: str) -> bool:
    """Units wanted or required by a target are started when they are not running."""
    targets = install_targets(text)
    return any(t.endswith(".target") for t in targets["wants"] + targets["requires"])


def is_running(state: dict[str, str]) -> bool:
    """Active, activating or reloading; a oneshot that finished successfully since boot counts as running."""
    if state.get("ActiveState") in ("active", "activating", "reloading"):
        return True
    return (state.get("Type") == "oneshot" and state.get("ActiveState") == "inactive"
            and state.get("Result") == "success" and state.get("InactiveExitTimestampMonotonic", "0") != "0")


def _without_reload_triggers(text: str) -> dict:
    return {s: [kv for kv in items if kv[0] != "X-Reload-Triggers"] for s, items in parse_unit(text).items()}


def plan(old: dict[str, str], new: dict[str, str], states: dict[str, dict[str, str]]) -> Plan:
    """What to stop before and start/restart/reload after writing the new units (names are unit file names)."""
    p = Plan()
    for unit in sorted(set(old) | set(new)):
        if unit.endswith("@.service"):
            continue  # templates run only as instances
        running = is_running(states.get(unit, {}))
        if unit not in new:
            if running:
                p.stop.append(unit)
            continue
        text = new[unit]
        if unit not in old:
            if running:
                p.restart.append(unit)  # running from a definition the double did not write
            elif should_run(text):
                p.start.append(unit)
            continue
        if old[unit] == text:
            if not running and should_run(text):
                p.start.append(unit)
            continue
        if not running:
            if should_run(text):
                p.start.append(unit)
        elif _without_reload_triggers(old[unit]) == _without_reload_triggers(text):
            p.reload.append(unit)
        elif unit_value(text, "Service", "X-ReloadIfChanged") == "true":
            p.reload.append(unit)
        elif unit_value(text, "Service", "X-RestartIfChanged") == "false":
            continue
        elif unit_value(text, "Service", "X-StopIfChanged") == "false":
            p.restart.append(unit)
        else:
            p.stop.append(unit)
            p.start.append(unit)
    return p


def parse_show(output: str) -> dict[str, dict[str, str]]:
    """`systemctl show -p ... a b c` output as {Id: {prop: value}}."""
    states: dict[str, dict[str, str]] = {}
    for block in output.strip().split("\n\n"):
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if props.get("Id"):
            states[props["Id"]] = props
    return states


def unit_states(run, units: list[str]) -> dict[str, dict[str, str]]:
    if not units:
        return {}
    return parse_show(run(["systemctl", "show", "-p", STATE_PROPS, "--", *units]).stdout)


def read_manifest(root: Path) -> dict[str, list[str]]:
    try:
        data = json.loads((root / MANIFEST).read_text())
    except (OSError, ValueError):
        data = {}
    return {k: list(data.get(k, [])) for k in ("units", "links", "files", "masked")}


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()


def _vendor_unit(root: Path, unit: str) -> bool:
    return any((root / d / unit).exists() for d in VENDOR_DIRS)


def write_files(root: Path, gen: Path, new: dict[str, str], manifest: dict[str, list[str]]) -> tuple[dict, list[str]]:
    """Install the generation's units, links and /etc files; remove what the double installed before and the new
    generation no longer has. Never touches a unit it did not install (displaced ones are kept in a backup)."""
    notes: list[str] = []
    unit_dir = root / UNIT_DIR
    unit_dir.mkdir(parents=True, exist_ok=True)
    links = {f"{t}.{kind}/{u}" for u, text in new.items() for kind, ts in install_targets(text).items() for t in ts}
    for link in set(manifest["links"]) - links:
        _remove(unit_dir / link)
    masked = set(manifest["masked"])
    for unit in set(manifest["units"]) - set(new):
        _remove(unit_dir / unit)
        if _vendor_unit(root, unit):  # a Debian unit of that name must not come back to life
            (unit_dir / unit).symlink_to("/dev/null")
            masked.add(unit)
    for unit, text in new.items():
        target = unit_dir / unit
        if target.is_symlink() and os.readlink(target) == "/dev/null":
            target.unlink()
            masked.discard(unit)
        elif (target.exists() or target.is_symlink()) and unit not in manifest["units"]:
            backup = root / "etc/hydra-nixos/displaced" / unit
            backup.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(target), str(backup))
            notes.append(f"warning: replaced {target.relative_to(root)} (not installed by nixos-rebuild; kept in "
                         f"/{backup.relative_to(root)})")
        tmp = target.with_name(f".{unit}.tmp")
        tmp.write_text(text)
        tmp.replace(target)
    for link in sorted(links):
        path = unit_dir / link
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink() or path.exists():
            path.unlink()
        path.symlink_to(f"/{UNIT_DIR}/{link.rsplit('/', 1)[1]}")
    files = []
    for rel in (NGINX_CONF, TMPFILES):
        src, dst = gen / rel, root / rel
        if src.is_file():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst.with_name(f".{dst.name}.tmp"))
            dst.with_name(f".{dst.name}.tmp").replace(dst)
            files.append(rel)
        elif rel in manifest["files"]:
            _remove(dst)
    manifest = {"units": sorted(new), "links": sorted(links), "files": files, "masked": sorted(masked)}
    (root / MANIFEST).parent.mkdir(parents=True, exist_ok=True)
    (root / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest, notes


def apply_firewall(run, gen: Path) -> list[str]:
    rules = gen / "firewall.rules"
    extra = gen / "firewall-extra.sh"
    return firewall.apply(run, rules.read_text() if rules.is_file() else None,
                          extra.read_text() if extra.is_file() else "")


def wait_for(run, units: list[str], *, timeout: float, settle: float, clock=time.monotonic,
             sleep=time.sleep) -> list[str]:
    """Wait until each unit is stably running (a oneshot: finished); returns the units that failed."""
    pending = dict.fromkeys(units)
    stable: dict[str, tuple[float, str]] = {}
    deadline = clock() + timeout
    failed: list[str] = []
    while pending:
        for unit, st in unit_states(run, list(pending)).items():
            if st.get("Type") == "oneshot":
                if st.get("ActiveState") == "active" or (st.get("ActiveState") == "inactive"
                                                         and st.get("Result") == "success"):
                    pending.pop(unit, None)
                elif st.get("ActiveState") == "failed":
                    failed.append(unit)
                    pending.pop(unit, None)
                continue
            if st.get("ActiveState") == "active" and st.get("SubState") not in ("auto-restart", "reload"):
                since, restarts = stable.setdefault(unit, (clock(), st.get("NRestarts", "0")))
                if restarts != st.get("NRestarts", "0"):
                    stable[unit] = (clock(), st.get("NRestarts", "0"))
                elif clock() - since >= settle:
                    pending.pop(unit, None)
            else:
                stable.pop(unit, None)
                if st.get("ActiveState") == "failed":
                    failed.append(unit)
                    pending.pop(unit, None)
        if not pending:
            break
        if clock() >= deadline:
            failed += list(pending)
            break
        sleep(0.5)
    return sorted(failed)


def failed_units(run) -> list[str]:
    """Every unit in the failed state, whoever started it: switch-to-configuration reports them all and exits 4."""
    out = run(["systemctl", "list-units", "--state=failed", "--plain", "--no-legend", "--no-pager"]).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def activate(root: Path, number: int, run, *, boot: bool = False, timeout: float = 30.0, settle: float = 2.0,
             log=print, clock=time.monotonic, sleep=time.sleep) -> int:
    """Make generation `number` running (/run/current-system; the profile is the caller's). Returns
    switch-to-configuration's status: 0, 2 (activation errors) or 4 (a unit failed, any unit on the host)."""
    gen = generations.path(root, number)
    manifest = read_manifest(root)
    old = {u: (root / UNIT_DIR / u).read_text() for u in manifest["units"] if (root / UNIT_DIR / u).is_file()}
    new = generation_units(gen)
    states = unit_states(run, sorted(u for u in set(old) | set(new) if not u.endswith("@.service")))
    p = plan(old, new, states)
    block = ["--no-block"] if boot else []
    errors: list[str] = []
    if p.stop:
        log(f"stopping the following units: {', '.join(p.stop)}")
        run(["systemctl", "stop", *block, "--", *p.stop])
    _, notes = write_files(root, gen, new, manifest)
    for note in notes:
        log(note)
    declared: dict[str, Any] = json.loads((gen / "users.json").read_text()) if (gen / "users.json").is_file() else {}
    for cmd in users.plan(root, declared.get("users", {}), declared.get("groups", {})):
        result = run(cmd)
        if result.returncode != 0:
            errors.append(f"{cmd[0]} {cmd[-1]} failed: {result.stderr.strip()}")
    generations.link_current_system(root, number)
    run(["systemctl", "daemon-reload"])
    if (gen / TMPFILES).is_file() and (gen / TMPFILES).read_text().strip():
        result = run(["systemd-tmpfiles", "--create", f"/{TMPFILES}"])
        if result.returncode != 0:
            errors.append(f"systemd-tmpfiles failed: {(result.stderr or result.stdout).strip()}")
    errors += apply_firewall(run, gen)
    restart_failed = [u for u in p.start + p.restart if states.get(u, {}).get("ActiveState") == "failed"]
    if restart_failed:
        run(["systemctl", "reset-failed", "--", *restart_failed])
    for verb, units in (("reload", p.reload), ("restart", p.restart), ("start", p.start)):
        if units:
            log(f"{verb}ing the following units: {', '.join(units)}")
            run(["systemctl", verb, *block, "--", *units])
    for error in errors:
        log(f"error: {error}")
    if boot:
        return 2 if errors else 0
    failed = wait_for(run, p.start + p.restart + p.reload, timeout=timeout, settle=settle, clock=clock, sleep=sleep)
    failed = sorted(set(failed) | set(failed_units(run)))
    if failed:
        log(f"warning: the following units failed: {', '.join(failed)}")
        for unit in failed:
            journal = run(["journalctl", "--no-pager", "-n", "10", "-o", "short-iso", "-u", unit]).stdout
            log(f"\n{unit}:\n{journal.rstrip()}")
        return 4
    if errors:
        log("warning: error(s) occurred while switching to the new configuration")
        return 2
    return 0
