"""The stack on Unraid: nothing is installed (Docker and the Compose v2 plugin ship with it, or the operator adds
the plugin), the project is adopted in place on persistent storage, and boot-time settings go to /boot/config/go.

Unraid runs from RAM: /etc, /opt, /root and /var are rebuilt at every boot, /boot is the FAT flash drive (no
POSIX owner or mode), and persistent data lives under /mnt (user shares, pools, disks). So the project and the
secret files must be under /mnt on a filesystem that keeps modes; this is checked before any change.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pyinfra import host
from pyinfra.operations import files, server

from hydra_ops.facts.docker import DockerEngine
from hydra_ops.facts.platform import FsTypes, SysctlValue
from hydra_ops.validation import ValidationError

if TYPE_CHECKING:

    from hydra_ops.services.storage import Storage

GO_FILE = "/boot/config/go"
#: filesystems that lose data at reboot or cannot keep a 0600 owner-only mode
VOLATILE_OR_FAT = {"tmpfs", "ramfs", "rootfs", "msdos", "vfat", "fat", "exfat"}
PERSISTENT_ROOT = "/mnt/"


def check_host(cfg: Storage, name: str) -> None:
    """Raise one error listing everything Unraid lacks for this deploy (engine, plugin, persistent paths)."""
    s = cfg.stack
    paths = {"stack_dir": s.stack_dir, "secret_dir": cfg.secret_dir}
    problems = engine_problems(host.get_fact(DockerEngine, compose_command=list(s.compose_command)),
                               s.compose_command)
    problems += path_problems(paths, host.get_fact(FsTypes, paths=sorted(set(paths.values()))))
    if problems:
        raise ValidationError(name, problems)


def engine_problems(engine: Mapping[str, Any], compose_command: list[str]) -> list[str]:
    """What is missing of Docker, its daemon and Compose v2 (engine: facts.docker.DockerEngine)."""
    problems = []
    if not engine["docker"]:
        problems.append("docker: no docker command (enable Docker under Settings > Docker)")
    elif not engine["daemon"]:
        problems.append("docker: the daemon does not answer `docker info` (start Docker under Settings > Docker)")
    words, version = " ".join(compose_command), engine["compose"]
    major = re.match(r"v?([0-9]+)\.", version or "")
    if not major:
        problems.append(f"compose_command: `{words} version` failed: the Docker Compose v2 plugin is missing "
                        "(install it, e.g. with the Compose Manager plugin, so `docker compose` works)")
    elif int(major[1]) < 2:
        problems.append(f"compose_command: `{words}` is Compose {version}; v2 or later is needed "
                        "(compose_command: [docker, compose])")
    return problems


def path_problems(paths: Mapping[str, str], fs: Mapping[str, str]) -> list[str]:
    """Paths that would not survive a reboot or keep modes (fs: path -> filesystem type, facts.platform.FsTypes)."""
    problems = []
    for key, path in paths.items():
        if not path.startswith(PERSISTENT_ROOT):
            problems.append(f"{key}: {path} is not under {PERSISTENT_ROOT} (on Unraid everything else but the FAT "
                            "/boot lives in RAM and is gone after a reboot)")
        elif fs.get(path, "").lower() in VOLATILE_OR_FAT:
            problems.append(f"{key}: {path} is on {fs[path]}, which loses files at reboot or cannot keep POSIX "
                            "modes; use a pool or array share")
    return problems


def persist_sysctl(gap: str, key: str, value: str, apply_live: bool) -> None:
    """key=value set at every boot from /boot/config/go (one line, replaced in place), and now when allowed."""
    line = f"sysctl -w {key}={value}  # hydra-ops {gap}"
    go = files.line(name=f"{gap}: {key}={value} at boot ({GO_FILE})", path=GO_FILE,
                    line=rf"^sysctl -w {re.escape(key)}=.*", replace=line)
    if apply_live:
        live = host.get_fact(SysctlValue, key=key)
        server.shell(name=f"{gap}: {key}={value} applied", _if=lambda: go.did_change() or live != value,
                     commands=[f"sysctl -q -w {shlex.quote(f'{key}={value}')}"])


