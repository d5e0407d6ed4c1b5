"""`fileSystems` as mount units, the way NixOS's fstab and systemd-fstab-generator make them (`mnt-models.mount`
for `fileSystems."/mnt/models"`, required by local-fs.target unless `nofail`).

Stand-in simplification: the guest has no block devices, so a declared device is a directory under STANDIN_DISKS
(`/dev/disk/by-uuid/X` -> `/var/lib/hydra-nixos/disks/disk/by-uuid/X`) bind-mounted on the mount point; the
declared fsType and options are not applied. A device without its stand-in directory fails the mount, as a missing
disk does on NixOS (there systemd first waits 90 s for the device). `/` and `/boot` are left out: nspawn provides the
guest's root and the guest has no boot partition.
"""

from __future__ import annotations

from typing import Any

STANDIN_DISKS = "/var/lib/hydra-nixos/disks"
NOT_REALISED = ("/", "/boot")


def escape_path(path: str) -> str:
    """`systemd-escape --path`: the unit name part for a mount point (`/mnt/models` -> `mnt-models`)."""
    out = []
    for i, ch in enumerate(path.strip("/")):
        if ch == "/":
            out.append("-")
        elif ch.isascii() and (ch.isalnum() or ch in ":_" or (ch == "." and i > 0)):
            out.append(ch)
        else:
            out.append("".join(f"\\x{b:02x}" for b in ch.encode()))
    return "".join(out) or "-"


def standin_source(fs: dict[str, Any]) -> str:
    """The directory standing for the declared device (or label)."""
    device = fs.get("device") or (f"/dev/disk/by-label/{fs['label']}" if fs.get("label") else "")
    if not device.startswith("/dev/"):
        return device  # a path (bind mounts, NFS-style sources are not stood in for)
    return f"{STANDIN_DISKS}/{device.removeprefix('/dev/')}"


def mount_units(config: dict[str, Any]) -> dict[str, str]:
    """{unit file name: text} for every declared file system except NOT_REALISED."""
    units = {}
    for name, fs in sorted((config.get("fileSystems") or {}).items()):
        where = (fs or {}).get("mountPoint") or name
        if where in NOT_REALISED:
            continue
        options = fs.get("options") or ["defaults"]
        install = "WantedBy" if "nofail" in options else "RequiredBy"
        units[f"{escape_path(where)}.mount"] = "\n".join([
            "[Unit]", f"Description=File system {where} (fileSystems; stand-in disk, bind-mounted)",
            "Before=local-fs.target", "", "[Mount]", f"What={standin_source(fs)}", f"Where={where}", "Type=none",
            "Options=bind", "", "[Install]", f"{install}=local-fs.target", ""])
    return units
