"""Building a generation: every artefact the evaluated config asks for, written into a generation directory
(units, nginx.conf, firewall rules, tmpfiles rules, users, sw/bin) before anything on the host changes.

Derivations made with the stand-in's `pkgs.runCommand` (listed by the evaluator under `_derivations`) are built
here by running their build command, as Nix runs a builder; one that fails fails the whole build. Simplified: the
builder runs as root without Nix's sandbox, under bash with `set -euo pipefail` (stdenv's setup does the same)."""

from __future__ import annotations

import json
import pwd
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from . import firewall, modules
from .filesystems import mount_units
from .nginx import nginx_binary
from .store import host
from .units import render_service

TMPFILES = "etc/tmpfiles.d/00-nixos.conf"
UNIT_DIR = "etc/systemd/system"
NGINX_CONF = "etc/nginx/nginx.conf"
STC = "bin/switch-to-configuration"
#: The generation's own activation entry point, as on NixOS (`<generation>/bin/switch-to-configuration switch`).
STC_TEXT = """#!/bin/sh
# switch-to-configuration of this generation (nixos-rebuild test double): activates the directory it lives in
gen=$(cd "$(dirname "$0")/.." && pwd -P) || exit 1
exec /usr/local/sbin/nixos-rebuild switch-to-configuration "$gen" "$@"
"""


class BuildError(Exception):
    """The configuration evaluates but cannot be built (a broken nginx.conf, ...)."""


def unit_name(name: str) -> str:
    return name if re.search(r"\.(service|target|socket|timer|mount|path)$", name) else f"{name}.service"


def check_nginx(run, root: Path, conf: str, cfg: dict[str, Any], declared_users: set[str]) -> None:
    """`nginx -t -c` on the rendered config, as a NixOS build with a config check would fail on it.

    A `user` that is declared (created at activation) but not there yet is checked as the running user, and the
    pid file goes to the check's temporary directory.
    """
    text = conf
    try:
        pwd.getpwnam(cfg["user"])
    except KeyError:
        if cfg["user"] in declared_users:
            text = re.sub(r"^user [^;]*;\n", "", conf, count=1, flags=re.M)
    binary = nginx_binary(cfg)
    if not Path(binary).exists() and host(root, binary).exists():
        binary = str(host(root, binary).resolve())
    with tempfile.TemporaryDirectory(prefix="nixos-nginx-check-") as tmp:
        path = Path(tmp) / "nginx.conf"
        # `nginx -t` creates the pid file; /run/nginx exists only while nginx.service runs
        path.write_text(re.sub(r"^pid [^;]*;$", f"pid {tmp}/nginx.pid;", text, count=1, flags=re.M))
        result = run([binary, "-t", "-c", str(path)])
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()
        raise BuildError(f"nginx.conf failed its check (nginx -t):\n{detail}")


BUILDER_PATH = "/usr/local/bin:/usr/bin:/bin"
LOG_LINES = 10


def unbuilt(root: Path, config: dict[str, Any]) -> list[dict[str, Any]]:
    """The config's runCommand derivations whose output is not in the store yet (what a build would run)."""
    return [d for d in config.get("_derivations") or [] if not host(root, d["out"]).exists()]


def build_derivation(root: Path, drv: dict[str, Any], run) -> None:
    """Run one derivation's build command with $out pointing at a scratch path; only a builder that exits 0 and
    creates $out gives the store path. Raises BuildError with Nix's wording and the last log lines."""
    final = host(root, drv["out"])
    scratch = final.with_name(f".{final.name}.building")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="nix-build-") as build_dir:
        env = [f"{k}={v}" for k, v in sorted((drv.get("env") or {}).items())]
        result = run(["env", "-i", "-C", build_dir, f"PATH={BUILDER_PATH}", f"HOME={build_dir}",
                      f"NIX_BUILD_TOP={build_dir}", f"out={scratch}", *env, "bash", "-c",
                      "set -euo pipefail\n" + drv["buildCommand"]])
    log = [line for line in f"{result.stdout}{result.stderr}".splitlines() if line.strip()]
    if result.returncode != 0:
        tail = "".join(f"\n       > {line}" for line in log[-LOG_LINES:])
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.unlink(missing_ok=True)
        raise BuildError(f"builder for '{drv['drvPath']}' failed with exit code {result.returncode};"
                         + (f"\n       last {min(len(log), LOG_LINES)} log lines:{tail}" if log else ""))
    if not (scratch.exists() or scratch.is_symlink()):
        raise BuildError(f"builder for '{drv['drvPath']}' failed to produce output path for output 'out' at "
                         f"'{drv['out']}'")
    scratch.rename(final)


def build(root: Path, gen: Path, config: dict[str, Any], sources: str, run, *, check: bool = True) -> list[str]:
    """Write generation `gen` for `config`; returns the artefacts' relative paths. Raises BuildError.

    With check=False (dry-build) nothing is built: no builder runs and nginx.conf is not checked; the text
    objects units and nginx.conf name are still written to the store, as instantiation writes .drv files."""
    want = modules.expand(root, config)
    if check:
        for drv in unbuilt(root, config):
            build_derivation(root, drv, run)
    if check and want["nginx_conf"] is not None:
        declared = set(want["users"])
        check_nginx(run, root, want["nginx_conf"], want["nginx"], declared)
    made: list[str] = []

    def write(rel: str, text: str) -> None:
        target = gen / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        made.append(rel)

    for name, entry in sorted(want["services"].items()):
        write(f"{UNIT_DIR}/{unit_name(name)}", render_service(root, name, entry))
    for name, text in mount_units(config).items():
        write(f"{UNIT_DIR}/{name}", text)
    if want["nginx_conf"] is not None:
        write(NGINX_CONF, want["nginx_conf"])
    fw = firewall.settings(config, want["tcp_ports"])
    if fw["enable"]:
        write("firewall.rules", firewall.rules(fw))
        if fw["extraCommands"].strip():
            write("firewall-extra.sh", fw["extraCommands"])
    rules = ((config.get("systemd") or {}).get("tmpfiles") or {}).get("rules") or []
    write(TMPFILES, "".join(f"{r}\n" for r in rules))
    write("users.json", json.dumps({"users": want["users"], "groups": want["groups"]}, indent=1, sort_keys=True))
    swbin = gen / "sw" / "bin"
    swbin.mkdir(parents=True, exist_ok=True)
    for package in want["packages"]:
        pkg_bin = host(root, str(package)) / "bin"
        if not pkg_bin.is_dir():
            continue
        for exe in sorted(pkg_bin.iterdir()):
            link = swbin / exe.name
            if not link.is_symlink():
                link.symlink_to(f"{package}/bin/{exe.name}")
                made.append(f"sw/bin/{exe.name}")
    stc = gen / STC
    stc.parent.mkdir(parents=True, exist_ok=True)
    stc.write_text(STC_TEXT)
    stc.chmod(0o755)
    made.append(STC)
    version = ((config.get("system") or {}).get("nixos") or {}).get("version") or \
        (config.get("system") or {}).get("stateVersion") or "24.11"
    write("nixos-version", f"{version}.hydra-double-{sources[:7]}\n")
    write("config.json", json.dumps(config, indent=1, sort_keys=True) + "\n")
    write("sources.sha256", sources + "\n")
    write("build-date", time.strftime("%Y-%m-%d %H:%M:%S") + "\n")
    return made


def generation_units(gen: Path) -> dict[str, str]:
    """{unit name: text} of a built generation."""
    unit_dir = gen / UNIT_DIR
    return {p.name: p.read_text() for p in sorted(unit_dir.iterdir())} if unit_dir.is_dir() else {}
