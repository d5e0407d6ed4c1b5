"""DGX OS-shaped local hosts (the systems flavour's spark hosts): Docker CE preinstalled as dpkg packages named as
NVIDIA's DGX OS ships them (docker-ce, docker-ce-cli, containerd.io, docker-compose-plugin) with Docker CE's
Conflicts/Provides/Replaces, so apt refuses or removes them for Debian's docker.io, as on the real host.

Simplifications, each unlike DGX OS (Ubuntu 24.04 with Docker's and NVIDIA's apt repositories): the userland is
Debian 12; the packages are Debian's own docker.io, containerd, runc and tini binaries (and trixie's Compose v2
plugin) repackaged with dpkg-deb, at Debian's paths (dockerd in /usr/sbin, not /usr/bin); no docker-buildx-plugin;
no NVIDIA container toolkit or `nvidia` runtime (there is no GPU here: spark_gpu_runtime is off locally).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

from devcluster.local import image
from devcluster.local.network import run
from devcluster.local.unraid_host import COMPOSE_PLUGIN, install_compose_v2

#: Debian's engine (repackaged below), and what DGX OS has besides: curl, iptables, procps
PACKAGES = ["docker.io", "curl", "iptables", "procps", "ca-certificates"]
IMAGE_VERSION = 1
#: package -> (Debian packages whose files it takes, control fields of the Docker CE package it stands for)
REPACKAGED: dict[str, tuple[list[str], dict[str, str]]] = {
    "containerd.io": (["containerd", "runc"], {
        "Depends": "libc6, libseccomp2", "Provides": "containerd, runc", "Conflicts": "containerd, runc",
        "Replaces": "containerd, runc"}),
    "docker-ce-cli": (["docker.io:cli"], {
        "Conflicts": "docker (<< 1.5~), docker-engine, docker-engine-cs, docker.io, lxc-docker, "
                     "lxc-docker-virtual-package", "Replaces": "docker-ce (<< 5:0)", "Breaks": "docker-ce (<< 5:0)"}),
    "docker-ce": (["docker.io", "tini"], {
        "Depends": "containerd.io, docker-ce-cli, iptables, libseccomp2 (>= 2.3.0)",  # Docker CE: >= 1.6.24
        "Conflicts": "docker (<< 1.5~), docker-engine, docker-engine-cs, docker.io, lxc-docker, "
                     "lxc-docker-virtual-package", "Replaces": "docker-engine"}),
    "docker-compose-plugin": (["compose"], {"Enhances": "docker-ce-cli"}),
}
CLI = "usr/bin/docker"
#: Docker CE's postinst makes the group docker.socket is owned by
POSTINST = "#!/bin/sh\nset -e\ngetent group docker >/dev/null || groupadd --system docker\n"


def ensure_image(log: Callable[[str], object] = print) -> Path:
    """The base image made DGX OS-shaped (cached beside it; built once with chroot apt-get and dpkg-deb)."""
    return image.derived(f"dgxos-shaped-v{image.IMAGE_VERSION}.{IMAGE_VERSION}", PACKAGES, _finish, log)


def _version(root: Path, package: str) -> str:
    return run("chroot", str(root), "dpkg-query", "-W", "-f=${Version}", package).stdout.strip()


def _files(root: Path, source: str) -> list[str]:
    """Files (and links) one repackaged part takes: a Debian package's, docker.io's CLI, or the Compose plugin."""
    if source == "compose":
        return [COMPOSE_PLUGIN]
    name, _, part = source.partition(":")
    listed = run("chroot", str(root), "dpkg-query", "-L", name).stdout.split("\n")
    paths = [p.lstrip("/") for p in listed if p.startswith("/") and not (root / p.lstrip("/")).is_dir()]
    if name == "docker.io":
        paths = [p for p in paths if (p == CLI) == (part == "cli")]
    return paths


def _finish(root: Path) -> None:
    install_compose_v2(root)  # trixie's plugin binary, checked to be v2
    compose = run("chroot", str(root), "docker", "compose", "version", "--short").stdout
    upstream = {"docker.io": _version(root, "docker.io"), "containerd": _version(root, "containerd"),
                "compose": compose}
    versions = {name: re.match(r"(?:[0-9]+:)?v?([0-9.]+)", v)[1] + "-1~hydra"  # type: ignore[index]
                for name, v in upstream.items()}
    work = root / "var/tmp/hydra-dgxos"
    debs = []
    for package, (sources, fields) in REPACKAGED.items():
        tree = work / package
        for path in (p for source in sources for p in _files(root, source)):
            (tree / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / path, tree / path, follow_symlinks=False)
        version = {"containerd.io": versions["containerd"], "docker-compose-plugin": versions["compose"]}.get(
            package, "5:" + versions["docker.io"])  # Docker CE's epoch
        control = {"Package": package, "Version": version, "Architecture": "amd64",
                   "Maintainer": "hydra-ops local cluster <root@localhost>", **fields,
                   "Description": f"{package} as DGX OS ships it (stand-in: Debian binaries repackaged)"}
        (tree / "DEBIAN").mkdir(parents=True)
        (tree / "DEBIAN/control").write_text("".join(f"{k}: {v}\n" for k, v in control.items()))
        if package == "docker-ce":
            (tree / "DEBIAN/postinst").write_text(POSTINST)
            (tree / "DEBIAN/postinst").chmod(0o755)
        run("dpkg-deb", "-Zgzip", "--root-owner-group", "--build", str(tree), str(work / f"{package}.deb"))
        debs.append(f"/var/tmp/hydra-dgxos/{package}.deb")
    run("chroot", str(root), "apt-mark", "manual", *_installed(root))  # their libraries stay when docker.io goes
    run("chroot", str(root), "dpkg", "--purge", "docker.io", "containerd", "runc", "tini")
    (root / COMPOSE_PLUGIN).unlink(missing_ok=True)
    run("chroot", str(root), "dpkg", "-i", *debs)
    run("chroot", str(root), "systemctl", "enable", "docker.service", "containerd.service")
    shutil.rmtree(work)
    check(root)


def _installed(root: Path) -> list[str]:
    out = run("chroot", str(root), "dpkg-query", "-W", "-f=${Package}\n").stdout
    return [p for p in out.split() if p]


def check(root: Path) -> None:
    """The shape holds: docker-ce owns the daemon, docker-ce-cli the CLI, Compose is v2, and apt would remove
    docker-ce to install docker.io (its Conflicts work)."""
    owners = run("chroot", str(root), "dpkg-query", "-S", "/usr/sbin/dockerd", "/" + CLI).stdout
    if "docker-ce: /usr/sbin/dockerd" not in owners or f"docker-ce-cli: /{CLI}" not in owners:
        raise RuntimeError(f"the repackaged Docker CE does not own the engine: {owners!r}")
    run("chroot", str(root), "docker", "compose", "version")
    sim = run("chroot", str(root), "apt-get", "-s", "install", "docker.io", check=False)
    if "Remv docker-ce " not in sim.stdout:
        raise RuntimeError(f"apt would not remove docker-ce for docker.io:\n{sim.stdout}{sim.stderr}")
