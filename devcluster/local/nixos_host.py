"""NixOS-shaped local hosts (the seeds flavour): a Debian guest with /etc/NIXOS, /etc/nixos in the audit's
"before" state, a fake /nix/store naming Debian binaries, and the nixos-rebuild double that evaluates /etc/nixos
with the real Nix evaluator (devcluster/nixos). Deploys must not use apt there; this provisioning does, once.

The before state's files outside /etc/nixos (devcluster/nixos/before/<role>/root/, e.g. hydra-ai's /opt/tabbyapi of
seed 002) are copied in; what lies under a declared file system's mount point goes onto that file system's stand-in
disk (devcluster/nixos/rebuild/filesystems.py), which the first activation bind-mounts there.
"""

from __future__ import annotations

import re
import shutil
import sysconfig
from collections.abc import Callable
from pathlib import Path

from devcluster.local import image
from devcluster.local.network import run
from hydra_ops import PROJECT_ROOT

#: What the NixOS-shaped guests need from Debian: the evaluator, the binaries pkgs.* stand for, iptables for
#: networking.firewall. Installed into a cached derived image, never by a deploy.
PACKAGES = ["nix-bin", "nginx-light", "iptables", "curl", "procps", "util-linux", "python3-venv",
            "prometheus-node-exporter"]
IMAGE_VERSION = 3
BEFORE = PROJECT_ROOT / "devcluster" / "nixos" / "before"
GUEST_LIB = "/usr/local/lib/hydra-nixos"
#: Debian's multiarch library directory in the guest (the same architecture as this machine)
_DEBIAN_LIB = f"/usr/lib/{sysconfig.get_config_var('MULTIARCH')}"
#: seed 002: TabbyAPI's model_dir on hydra-ai, a plain directory on the /mnt/models disk (its config.yml)
OPERATOR_MODEL_DIR = "/mnt/models/exl2"


def ensure_image(log: Callable[[str], object] = print) -> Path:
    """The base image plus PACKAGES (cached beside it; built once with chroot apt-get, about a minute)."""
    return image.derived(f"nixos-shaped-v{image.IMAGE_VERSION}.{IMAGE_VERSION}", PACKAGES, _finish, log)


def _finish(root: Path) -> None:
    """Debian's nginx and node exporter must not run by themselves: on NixOS they exist only once services.nginx
    and services.prometheus.exporters.node declare them."""
    run("chroot", str(root), "systemctl", "disable", "nginx.service")
    run("chroot", str(root), "systemctl", "disable", "prometheus-node-exporter.service")
    (root / "etc/nginx/sites-enabled/default").unlink(missing_ok=True)


def store_packages(ollama_tree: str) -> dict[str, dict]:
    """nixpkgs attributes the seeds' configurations and hydra-ops' modules use -> the guest binaries behind them."""
    ollama = {"version": "0.8.0-double", "bin": {"ollama": f"{ollama_tree}/bin/ollama"}}
    python = {"version": "3.11.2", "bin": {"python3": "/usr/bin/python3", "python3.11": "/usr/bin/python3.11",
                                           "python": "/usr/bin/python3"}}
    return {
        "ollama": ollama, "ollama-cuda": ollama,
        "nginx": {"version": "1.22.1", "bin": {"nginx": "/usr/sbin/nginx"}},
        "python3": python, "python311": python,
        "curl": {"version": "7.88.1", "bin": {"curl": "/usr/bin/curl"}},
        "iproute2": {"version": "6.1.0", "bin": {"ip": "/usr/bin/ip", "ss": "/usr/bin/ss"}},
        "procps": {"version": "4.0.2", "bin": {n: f"/usr/bin/{n}" for n in ("ps", "pgrep", "kill")}},
        "util-linux": {"version": "2.38.1", "bin": {n: f"/usr/bin/{n}" for n in ("mountpoint", "findmnt", "flock")}},
        "bash": {"version": "5.2.15", "bin": {"bash": "/bin/bash", "sh": "/bin/bash"}},
        "coreutils": {"version": "9.1", "bin": {n: f"/usr/bin/{n}" for n in ("cat", "ls", "seq", "sleep", "tr")}},
        "git": {"version": "0", "bin": {}}, "vim": {"version": "0", "bin": {}}, "htop": {"version": "0", "bin": {}},
        "nvtopPackages": {"version": "0", "bin": {}},
        "prometheus-node-exporter": {"version": "1.5.0",
                                     "bin": {"node_exporter": "/usr/bin/prometheus-node-exporter"}},
        # what pip's wheels link (torch: libstdc++, zlib): real copies, since realised units cannot see Debian's
        # libstdc++ (devcluster/nixos/rebuild/units.py); lib.makeLibraryPath [ stdenv.cc.cc.lib zlib ] leads here
        "stdenv.cc.cc.lib": {"version": "12.2.0", "name": "gcc-12.2.0-lib",
                             "lib": {"libstdc++.so.6": f"{_DEBIAN_LIB}/libstdc++.so.6"}},
        "zlib": {"version": "1.2.13", "lib": {"libz.so.1": f"{_DEBIAN_LIB}/libz.so.1"}},
        # the driver's nvidia-smi: the fake one the local cluster installs (devcluster/local/fake_nvidia_smi.py)
        "nvidia_x11": {"version": "565.77", "bin": {"nvidia-smi": "/usr/bin/nvidia-smi"}},
    }


def provision(root: Path, role: str, artifacts: Path) -> None:
    """Make an unpacked guest root NixOS-shaped: store, nixos-rebuild double, /etc/nixos in the before state."""
    from devcluster.nixos.evaluate import LIB
    from devcluster.nixos.rebuild import install
    from devcluster.nixos.rebuild.store import make_store

    tree = "/opt/hydra-nixos-src/ollama"
    (root / tree.lstrip("/")).mkdir(parents=True, exist_ok=True)
    run("tar", "-C", str(root / tree.lstrip("/")), "-xzf", str(artifacts / "ollama/ollama-linux-amd64.tgz"))
    make_store(root, store_packages(tree))
    lib_dir = root / GUEST_LIB.lstrip("/") / "lib"
    shutil.copytree(LIB, lib_dir, dirs_exist_ok=True)
    install(root, str(Path(GUEST_LIB) / "lib"))
    nixos = root / "etc/nixos"
    nixos.mkdir(parents=True, exist_ok=True)
    for source in (BEFORE / role).glob("*.nix"):
        shutil.copyfile(source, nixos / source.name)
    disks = standin_disks(root, BEFORE / role)
    files = BEFORE / role / "root"
    for source in sorted(files.rglob("*")) if files.is_dir() else []:
        rel = "/" + str(source.relative_to(files))
        target = root / on_disk(rel, disks).lstrip("/")
        if source.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    if role == "ai":
        operator_tabbyapi(root, artifacts / "wheels", on_disk(OPERATOR_MODEL_DIR, disks))


#: fileSystems."<mount point>" = { device = "<device>"; ... } in a before state's hardware-configuration.nix
_FILESYSTEM = re.compile(r'fileSystems\."(?P<where>/[^"]*)"\s*=\s*\{\s*device\s*=\s*"(?P<device>[^"]+)"')


def standin_disks(root: Path, before: Path) -> dict[str, str]:
    """{mount point: stand-in disk directory} for the before state's declared file systems, created empty."""
    from devcluster.nixos.rebuild.filesystems import NOT_REALISED, standin_source

    disks = {}
    for nix_file in sorted(before.glob("*.nix")):
        for m in _FILESYSTEM.finditer(nix_file.read_text()):
            if m["where"] not in NOT_REALISED:
                disks[m["where"]] = standin_source({"device": m["device"]})
                (root / disks[m["where"]].lstrip("/")).mkdir(parents=True, exist_ok=True)
    return disks


def on_disk(path: str, disks: dict[str, str]) -> str:
    """Where a before-state path lives in the guest root: on its file system's stand-in disk when it has one."""
    for where, disk in sorted(disks.items(), key=lambda kv: -len(kv[0])):
        if path == where or path.startswith(where + "/"):
            return disk + path[len(where):]
    return path


def operator_tabbyapi(root: Path, wheels: Path, model_dir: str) -> None:
    """Seed 002's /opt/tabbyapi as the operator left it: the login user typhon owns it, a venv with TabbyAPI's
    dependency (PyYAML from the local mirror) and main.py (the TabbyAPI double in place of upstream's); the
    model directory a plain directory on the models disk."""
    opt = root / "opt/tabbyapi"
    shutil.copyfile(PROJECT_ROOT / "devcluster/doubles/tabbyapi_double/main.py", opt / "main.py")
    wheel = sorted(wheels.glob("[Pp]y[Yy][Aa][Mm][Ll]-*cp311*manylinux*x86_64*.whl"))
    if not wheel:
        raise RuntimeError(f"no PyYAML wheel for the guest's Python in {wheels}")
    shutil.copyfile(wheel[-1], root / "tmp" / wheel[-1].name)
    run("chroot", str(root), "python3", "-m", "venv", "/opt/tabbyapi/venv")
    run("chroot", str(root), "/opt/tabbyapi/venv/bin/pip", "install", "--quiet", "--no-index",
        "--disable-pip-version-check", f"/tmp/{wheel[-1].name}")
    (root / "tmp" / wheel[-1].name).unlink()
    # NixOS would create typhon at the first activation (isNormalUser: group users, /home/typhon); it is created here
    # so the operator's files can be his, and the activation then finds the account and matches it to the config.
    run("chroot", str(root), "useradd", "--create-home", "--gid", "users", "--comment", "typhon", "typhon")
    (root / model_dir.lstrip("/")).mkdir(parents=True, exist_ok=True)
    run("chroot", str(root), "chown", "-R", "typhon:users", "/opt/tabbyapi", model_dir)
