"""The local hosts' base image: a debootstrap'd Debian 12 with systemd and sshd, cached as a tarball."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from devcluster.local.network import run
from devcluster.local.procs import remove_tree, scratch_dir

SUITE = "bookworm"
PACKAGES = "systemd,systemd-sysv,dbus,openssh-server,python3,iproute2,ca-certificates"
#: Bump when PACKAGES or the build changes so stale caches are rebuilt.
IMAGE_VERSION = 1


def cache_dir() -> Path:
    return Path(os.environ.get("HYDRA_CACHE_DIR", "/var/cache/hydra-ops"))


def ensure_base(log: Callable[[str], object] = print) -> Path:
    """Return the cached base tarball, building it with debootstrap the first time (about a minute)."""
    tarball = cache_dir() / f"{SUITE}-base-v{IMAGE_VERSION}.tar"
    if tarball.exists():
        return tarball
    tarball.parent.mkdir(parents=True, exist_ok=True)
    log(f"building base image {tarball.name} with debootstrap (cached afterwards)")
    with scratch_dir(tarball.parent) as tmp:
        root = tmp / "root"
        run("debootstrap", "--variant=minbase", f"--include={PACKAGES}", SUITE, str(root))
        # The apt cache is dead weight in every copy; host keys are made per host at provision time.
        remove_tree(root / "var/cache/apt/archives")
        (root / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)
        partial = tarball.with_suffix(".partial")
        run("tar", "--numeric-owner", "--xattrs", "-C", str(root), "-cf", str(partial), ".")
        partial.replace(tarball)
    return tarball


def derived(name: str, packages: list[str], finish: Callable[[Path], None],
            log: Callable[[str], object] = print) -> Path:
    """The base image plus Debian packages, then finish(root), cached as <suite>-<name>.tar (built once with
    chroot apt-get; no service starts inside the chroot; the apt caches are dropped)."""
    tarball = cache_dir() / f"{SUITE}-{name}.tar"
    if tarball.exists():
        return tarball
    base = ensure_base(log)
    log(f"building {tarball.name}: base image + {' '.join(packages)} (cached afterwards)")
    with scratch_dir(tarball.parent) as tmp:
        root = tmp / "root"
        unpack(base, root)
        shutil.copyfile("/etc/resolv.conf", root / "etc/resolv.conf")
        policy = root / "usr/sbin/policy-rc.d"
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        try:
            run("chroot", str(root), "apt-get", "update", "-q")
            run("chroot", str(root), "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-q",
                "--no-install-recommends", *packages)
        finally:
            policy.unlink()
        finish(root)
        for path in ("var/cache/apt/archives", "var/lib/apt/lists"):
            remove_tree(root / path)
            (root / path / "partial").mkdir(parents=True, exist_ok=True)
        partial = tarball.with_suffix(".partial")
        run("tar", "--numeric-owner", "--xattrs", "-C", str(root), "-cf", str(partial), ".")
        partial.replace(tarball)
    return tarball


def sha256(tarball: Path) -> str:
    """The tarball's sha256, cached beside it (the tarball never changes once built)."""
    cached = tarball.with_name(tarball.name + ".sha256")
    if not cached.exists():
        digest = hashlib.sha256()
        with tarball.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        cached.write_text(digest.hexdigest() + "\n")
    return cached.read_text().strip()


def unpack(tarball: Path, root: Path) -> None:
    """Unpack the base image into a host's root directory."""
    root.mkdir(parents=True)
    run("tar", "--numeric-owner", "--xattrs", "-C", str(root), "-xf", str(tarball))
