"""Unraid-shaped local hosts (the seeds flavour's hydra-storage): a Debian guest with Docker and Compose v2
preinstalled, /etc/unraid-version, no package manager (apt is a logging stub), /boot/config/go and /mnt/user.

Unraid's root filesystem lives in RAM: at every boot unraid-ram.service mounts a tmpfs on /opt and removes
/etc/hydra and /etc/sysctl.d/*hydra*, so whatever a deploy put there is gone after a reboot, as on Unraid; only
/mnt/user and /boot persist. unraid-go.service runs /boot/config/go after Docker, its sysctl calls recorded in
/run/hydra-unraid/sysctl by a shim (the guests share this machine's kernel). Static files live in unraid/.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

from devcluster.local import image
from devcluster.local.network import run
from devcluster.local.spec import HERE

#: Unraid ships Docker and curl; the rest is what the shape itself and the before state's checks use.
PACKAGES = ["docker.io", "curl", "procps", "iproute2", "ca-certificates", "iptables"]
IMAGE_VERSION = 1
UNRAID_VERSION = "6.12.13"
FILES = HERE / "unraid"
#: bookworm's docker-compose is v1 (1.29); trixie's is Compose v2 (2.26), a Go binary installed as a CLI plugin
TRIXIE = "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main"
COMPOSE_PLUGIN = "usr/libexec/docker/cli-plugins/docker-compose"
SHIM_DIR = "usr/local/lib/hydra-unraid/shim"
APT_LOG = "/var/log/hydra-unraid-apt.log"


def ensure_image(log: Callable[[str], object] = print) -> Path:
    """The base image made Unraid-shaped (cached beside it; built once with chroot apt-get, a minute or two)."""
    return image.derived(f"unraid-shaped-v{image.IMAGE_VERSION}.{IMAGE_VERSION}", PACKAGES, _finish, log)


def _finish(root: Path) -> None:
    install_compose_v2(root)
    shape(root)


def install_compose_v2(root: Path) -> None:
    """Fetch trixie's docker-compose .deb with a private sources list and lists dir (the image's own apt state
    stays bookworm's), install its CLI plugin binary, and check `docker compose version` reports v2."""
    work = "/var/tmp/hydra-trixie"
    (root / work.lstrip("/") / "lists/partial").mkdir(parents=True)
    (root / work.lstrip("/") / "sources.list").write_text(TRIXIE + "\n")
    opts = [f"-o=Dir::Etc::sourcelist={work}/sources.list", "-o=Dir::Etc::sourceparts=-",
            f"-o=Dir::State::lists={work}/lists", "-o=Dir::Cache::pkgcache=", "-o=Dir::Cache::srcpkgcache=",
            "-o=APT::Default-Release=trixie"]
    run("chroot", str(root), "apt-get", "-q", *opts, "update")
    run("chroot", str(root), "sh", "-c", f"cd {work} && apt-get -q {' '.join(opts)} download docker-compose")
    debs = sorted((root / work.lstrip("/")).glob("docker-compose_2.*.deb"))
    if not debs:
        raise RuntimeError("trixie's docker-compose .deb (Compose v2) was not downloaded")
    run("chroot", str(root), "dpkg-deb", "-x", f"{work}/{debs[-1].name}", f"{work}/x")
    plugin = root / COMPOSE_PLUGIN
    plugin.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(root / work.lstrip("/") / "x" / COMPOSE_PLUGIN, plugin)
    plugin.chmod(0o755)
    shutil.rmtree(root / work.lstrip("/"))
    version = run("chroot", str(root), "docker", "compose", "version").stdout
    if not re.search(r"version v?2\.", version):  # Debian's build says "Docker Compose version 2.26.1-4"
        raise RuntimeError(f"`docker compose version` does not report Compose v2: {version!r}")


def _install(source: str, target: Path, mode: int) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    shutil.copyfile(FILES / source, target)
    target.chmod(mode)


def shape(root: Path) -> None:
    """Unraid's marks: version file, go file, emhttp stub, /mnt/user, apt stubs, the boot units (enabled)."""
    (root / "etc/unraid-version").write_text(f'version="{UNRAID_VERSION}"\n')
    _install("go", root / "boot/config/go", 0o755)
    _install("emhttp", root / "usr/local/sbin/emhttp", 0o755)
    _install("sysctl", root / SHIM_DIR / "sysctl", 0o755)
    for name in ("apt-get", "apt", "apt-cache"):
        _install("apt-stub", root / "usr/bin" / name, 0o755)
    (root / APT_LOG.lstrip("/")).write_text("")
    for sub in ("appdata", "system"):
        (root / "mnt/user" / sub).mkdir(parents=True, exist_ok=True)
    for unit, target in (("unraid-ram.service", "sysinit.target"), ("unraid-go.service", "multi-user.target")):
        _install(unit, root / "etc/systemd/system" / unit, 0o644)
        wants = root / "etc/systemd/system" / f"{target}.wants"
        wants.mkdir(parents=True, exist_ok=True)
        (wants / unit).symlink_to(f"/etc/systemd/system/{unit}")
    for name in ("apt-daily.timer", "apt-daily-upgrade.timer", "apt-daily.service", "apt-daily-upgrade.service"):
        (root / "etc/systemd/system/timers.target.wants" / name).unlink(missing_ok=True)
        (root / "etc/systemd/system" / name).symlink_to("/dev/null")  # they would call the apt stubs
