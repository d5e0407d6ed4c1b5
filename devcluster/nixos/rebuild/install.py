"""Installing the double into a host root (done by the cluster code while it shapes a host like NixOS)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
LIB = "usr/local/lib/hydra-nixos"
PACKAGE = "hydra_nixos_rebuild"
WRAPPER = "usr/local/sbin/nixos-rebuild"
UNIT = "nixos-activation.service"

WRAPPER_TEXT = f"""#!/bin/sh
# nixos-rebuild test double (hydra-ops devcluster/nixos/rebuild), installed by install.py
exec /usr/bin/python3 -c 'import sys; sys.path.insert(0, "/{LIB}"); sys.argv[0] = "nixos-rebuild"
from {PACKAGE}.nixos_rebuild import main; sys.exit(main())' "$@"
"""


def install(root: Path, lib_dir_on_host: str, pkgs: str = "/etc/hydra-nixos/pkgs.json") -> list[str]:
    """Copy the double into `root` and make the host NixOS-shaped; returns the host paths written.

    Writes /usr/local/lib/hydra-nixos/hydra_nixos_rebuild/ (this package), /usr/local/sbin/nixos-rebuild,
    /etc/hydra-nixos/double.json ({"lib": lib_dir_on_host, "pkgs": pkgs}), /etc/systemd/system/nixos-activation.service
    with its multi-user.target.wants link, /etc/NIXOS, and the empty profile directory.
    """
    written = []
    dest = root / LIB / PACKAGE
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(HERE, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    written.append(f"/{LIB}/{PACKAGE}/")
    wrapper = root / WRAPPER
    wrapper.parent.mkdir(parents=True, exist_ok=True)
    wrapper.write_text(WRAPPER_TEXT)
    wrapper.chmod(0o755)
    written.append(f"/{WRAPPER}")
    conf = root / "etc/hydra-nixos/double.json"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(json.dumps({"lib": lib_dir_on_host, "pkgs": pkgs}, indent=1) + "\n")
    written.append("/etc/hydra-nixos/double.json")
    unit_dir = root / "etc/systemd/system"
    (unit_dir / "multi-user.target.wants").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(HERE / "units" / UNIT, unit_dir / UNIT)
    link = unit_dir / "multi-user.target.wants" / UNIT
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(f"/etc/systemd/system/{UNIT}")
    written += [f"/etc/systemd/system/{UNIT}", f"/etc/systemd/system/multi-user.target.wants/{UNIT}"]
    (root / "etc/NIXOS").touch()
    written.append("/etc/NIXOS")
    (root / "nix/var/nix/profiles").mkdir(parents=True, exist_ok=True)
    (root / "nix/store").mkdir(parents=True, exist_ok=True)
    return written
