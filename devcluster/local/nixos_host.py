"""NixOS-shaped local hosts (the seeds flavour): a Debian guest with /etc/NIXOS, /etc/nixos in the audit's
"before" state, a fake /nix/store naming Debian binaries, and the nixos-rebuild double that evaluates /etc/nixos
with the real Nix evaluator (devcluster/nixos). Deploys must not use apt there; this provisioning does, once.
"""

from __future__ import annotations

import shutil
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
        "util-linux": {"version": "2.38.1", "bin": {"mountpoint": "/usr/bin/mountpoint", "flock": "/usr/bin/flock"}},
        "bash": {"version": "5.2.15", "bin": {"bash": "/bin/bash", "sh": "/bin/bash"}},
        "coreutils": {"version": "9.1", "bin": {n: f"/usr/bin/{n}" for n in ("cat", "ls", "seq", "sleep", "tr")}},
        "git": {"version": "0", "bin": {}}, "vim": {"version": "0", "bin": {}}, "htop": {"version": "0", "bin": {}},
        "nvtopPackages": {"version": "0", "bin": {}},
        "prometheus-node-exporter": {"version": "1.5.0",
                                     "bin": {"node_exporter": "/usr/bin/prometheus-node-exporter"}},
        # the driver's nvidia-smi: the fake one the local cluster installs (devcluster/local/fake_nvidia_smi.py)
        "nvidia_x11": {"version": "565.77", "bin": {"nvidia-smi": "/usr/bin/nvidia-smi"}},
    }


def provision(root: Path, role: str, ollama_tarball: Path) -> None:
    """Make an unpacked guest root NixOS-shaped: store, nixos-rebuild double, /etc/nixos in the before state."""
    from devcluster.nixos.evaluate import LIB
    from devcluster.nixos.rebuild import install
    from devcluster.nixos.rebuild.store import make_store

    tree = "/opt/hydra-nixos-src/ollama"
    (root / tree.lstrip("/")).mkdir(parents=True, exist_ok=True)
    run("tar", "-C", str(root / tree.lstrip("/")), "-xzf", str(ollama_tarball))
    make_store(root, store_packages(tree))
    lib_dir = root / GUEST_LIB.lstrip("/") / "lib"
    shutil.copytree(LIB, lib_dir, dirs_exist_ok=True)
    install(root, str(Path(GUEST_LIB) / "lib"))
    nixos = root / "etc/nixos"
    nixos.mkdir(parents=True, exist_ok=True)
    for source in (BEFORE / role).glob("*.nix"):
        shutil.copyfile(source, nixos / source.name)
