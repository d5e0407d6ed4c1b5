"""Provision a local host's root filesystem before its first boot: identity, SSH access, fake GPUs, 'before' state."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devcluster.local import nixos_host, unraid_before
from devcluster.local.network import run
from devcluster.local.spec import HERE, HostSpec
from devcluster.local.stack_images import cgroup_unit

if TYPE_CHECKING:
    from devcluster.local.cluster import Cluster


def provision(host: HostSpec, root: Path, hosts: list[HostSpec], key: Path, state_dir: Path) -> None:
    """Write identity, SSH access, fake GPUs and the host's 'before' state into its root filesystem."""
    (root / "etc/hostname").write_text(host.name + "\n")
    (root / "etc/machine-id").write_text(uuid.uuid5(uuid.NAMESPACE_DNS, host.name).hex + "\n")
    etc_hosts = "127.0.0.1 localhost\n" + "".join(f"{h.address} {h.name}\n" for h in hosts)
    (root / "etc/hosts").write_text(etc_hosts)
    shutil.copyfile("/etc/resolv.conf", root / "etc/resolv.conf")
    ssh = root / "root/.ssh"
    ssh.mkdir(mode=0o700, parents=True, exist_ok=True)
    (ssh / "authorized_keys").write_text(key.with_suffix(".pub").read_text())
    (ssh / "authorized_keys").chmod(0o600)
    for old in (root / "etc/ssh").glob("ssh_host_*"):
        old.unlink()
    hostkey = root / "etc/ssh/ssh_host_ed25519_key"
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"root@{host.name}", "-f", str(hostkey))
    (root / "etc/ssh/sshd_config.d/hydra-ops.conf").write_text(
        "HostKey /etc/ssh/ssh_host_ed25519_key\nPasswordAuthentication no\nPermitRootLogin prohibit-password\n"
        "UseDNS no\nMaxStartups 50:30:100\nMaxSessions 50\n"
    )
    fake_gpus(host, root)
    if host.docker:
        unit = root / "etc/systemd/system/hydra-cgroup-rw.service"
        unit.write_text(cgroup_unit())
        wants = root / "etc/systemd/system/multi-user.target.wants"
        wants.mkdir(parents=True, exist_ok=True)
        (wants / unit.name).symlink_to(f"/etc/systemd/system/{unit.name}")
    if host.before == "legacy_ollama":
        legacy_ollama(root, state_dir)
    if host.group == "storage":
        activity_api(root)
    if host.platform == "nixos":
        nixos_host.provision(root, host.group, state_dir / "artifacts")


def disk_binds(state_dir: Path, host: HostSpec) -> list[str]:
    """systemd-nspawn --bind options giving each of the host's `disks` a file system of its own: a directory of
    the cluster's, kept across reboots like a disk (`reset` and `down` empty it)."""
    binds = []
    for where in host.disks:
        if not where.startswith("/") or ":" in where or "," in where or ".." in where.split("/"):
            raise ValueError(f"{host.name}: disk mount point {where!r} must be an absolute path without ':' or ','")
        source = disk_dir(state_dir, host) / where.strip("/").replace("/", "-")
        source.mkdir(parents=True, exist_ok=True)
        binds.append(f"--bind={source}:{where}")
    return binds


def disk_dir(state_dir: Path, host: HostSpec) -> Path:
    """Where the host's disks live on this machine (outside its root, so they are not the root file system)."""
    return state_dir / "disks" / host.name


def after_boot(cluster: Cluster, host: HostSpec, log: Any = print) -> None:
    """The part of a freshly provisioned host's 'before' state that needs it running (Unraid's compose stack)."""
    if host.before == unraid_before.BEFORE:
        unraid_before.setup(cluster, host, log)


def fake_gpus(host: HostSpec, root: Path) -> None:
    """The host's GPUs as /etc/hydra-ops/fake-gpus.json, and the fake nvidia-smi that reads them when it has any."""
    fake = root / "etc/hydra-ops"
    fake.mkdir(parents=True, exist_ok=True)
    gpus = [{"index": i, "uuid": "GPU-" + str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{host.name}/gpu{i}")), **g}
            for i, g in enumerate(host.gpus)]
    (fake / "fake-gpus.json").write_text(json.dumps({"gpus": gpus}, indent=2))
    if host.gpus:
        smi = root / "usr/bin/nvidia-smi"
        shutil.copyfile(HERE / "fake_nvidia_smi.py", smi)
        smi.chmod(0o755)


def legacy_ollama(root: Path, state_dir: Path) -> None:
    """The audit's 'before' on hydra-compute: Ollama as install.sh leaves it, one unit, GPU 0, port 11434."""
    run("tar", "-C", str(root / "usr/local"), "-xzf", str(state_dir / "artifacts/ollama/ollama-linux-amd64.tgz"))
    run("chroot", str(root), "useradd", "-r", "-s", "/bin/false", "-U", "-m", "-d", "/usr/share/ollama",
        "ollama")
    unit = root / "etc/systemd/system/ollama.service"
    unit.write_text(
        "[Unit]\nDescription=Ollama Service\nAfter=network-online.target\n\n[Service]\n"
        "ExecStart=/usr/local/bin/ollama serve\nUser=ollama\nGroup=ollama\nRestart=always\nRestartSec=3\n"
        'Environment="CUDA_VISIBLE_DEVICES=0"\nEnvironment="OLLAMA_HOST=0.0.0.0:11434"\n\n'
        "[Install]\nWantedBy=default.target\n"
    )
    wants = root / "etc/systemd/system/default.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    (wants / "ollama.service").symlink_to("/etc/systemd/system/ollama.service")


def activity_api(root: Path) -> None:
    """The operator's Activity API stand-in on :8700 (devcluster/doubles/activity_api.py), started at boot."""
    lib = root / "usr/local/lib/hydra-activity"
    lib.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(HERE.parent / "doubles" / "activity_api.py", lib / "activity_api.py")
    unit = root / "etc/systemd/system/hydra-activity-api.service"
    unit.write_text("[Unit]\nDescription=Activity API stand-in (hydra-tools-api's POST /activity)\n"
                    "After=network.target\n\n[Service]\nExecStart=/usr/bin/python3 "
                    "/usr/local/lib/hydra-activity/activity_api.py\nStateDirectory=hydra-activity\n"
                    "DynamicUser=yes\nRestart=always\n\n[Install]\nWantedBy=multi-user.target\n")
    wants = root / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    (wants / unit.name).symlink_to(f"/etc/systemd/system/{unit.name}")
