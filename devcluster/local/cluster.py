"""The local cluster: boot hydra-ai, hydra-compute and hydra-storage as systemd-nspawn hosts, or tear them down.

`up` is idempotent (running hosts are left alone), `down` never hangs and leaves no process, namespace, veth,
bridge or NAT rule behind. Everything it writes lives in the state directory (default <project>/.cluster).
"""

from __future__ import annotations

import hashlib
import json
import os
import runpy
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from devcluster.doubles.pack import (
    TABBY_CANARY_REVISION,
    TABBY_DOUBLE_REVISION,
    pack_model,
    pack_ollama,
    pack_tabbyapi,
)
from devcluster.local import image, network, nixos_host
from devcluster.local.network import Net, run
from devcluster.local.stack_images import LOCAL_BASE_TAG, LOCAL_IMAGE_PACKAGES, cgroup_unit, local_builds, wheel_name
from hydra_ops import PROJECT_ROOT
from hydra_ops.secrets import SecretStore
from hydra_ops.services.secrets.options import SecretsOptions

HERE = Path(__file__).resolve().parent
SPEC_FILE = HERE / "cluster.yaml"
#: Flavours of the local cluster: "default" (Debian hosts) and "seeds" (NixOS-shaped compute and ai, as the seeds
#: describe the real hosts). Chosen by HYDRA_CLUSTER_FLAVOUR; each has its own spec, bridge and state directory.
FLAVOURS = {"default": ("cluster.yaml", ".cluster"), "seeds": ("cluster-seeds.yaml", ".cluster-seeds")}
BOOT_TIMEOUT = 90.0
GUEST_PYTHON = "3.11.2"  # bookworm's python3: wheel markers are resolved for it, not for this machine's Python
STOP_TIMEOUT = 20.0


@dataclass(frozen=True)
class HostSpec:
    """One local host as cluster.yaml declares it."""

    name: str
    group: str
    address: str
    gpus: list[dict[str, Any]] = field(default_factory=list)
    before: str | None = None
    docker: bool = False
    platform: str = "debian"


@dataclass(frozen=True)
class Spec:
    net: Net
    artifact_port: int
    hosts: list[HostSpec]

    @property
    def artifact_base(self) -> str:
        return f"http://{self.net.gateway}:{self.artifact_port}"


def load_spec(path: Path = SPEC_FILE) -> Spec:
    raw = yaml.safe_load(path.read_text())
    n = raw["network"]
    hosts = [HostSpec(name=name, **h) for name, h in raw["hosts"].items()]
    return Spec(Net(n["bridge"], n["gateway"], int(n["prefix"])), int(n["artifact_port"]), hosts)


class Cluster:
    """A local cluster rooted at a state directory."""

    def __init__(self, state_dir: Path | None = None, spec: Spec | None = None, flavour: str | None = None) -> None:
        self.flavour = flavour or os.environ.get("HYDRA_CLUSTER_FLAVOUR") or "default"
        if self.flavour not in FLAVOURS:
            raise ValueError(f"unknown cluster flavour {self.flavour!r}: choose one of {', '.join(FLAVOURS)}")
        spec_name, dir_name = FLAVOURS[self.flavour]
        self.dir = Path(state_dir or os.environ.get("HYDRA_CLUSTER_DIR") or PROJECT_ROOT / dir_name).resolve()
        self.spec = spec or load_spec(HERE / spec_name)

    # -- paths -----------------------------------------------------------------------------------------------
    @property
    def inventory(self) -> Path:
        return self.dir / "inventory.py"

    @property
    def ssh_config(self) -> Path:
        return self.dir / "ssh_config"

    @property
    def key(self) -> Path:
        return self.dir / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.dir / "known_hosts"

    @property
    def state_file(self) -> Path:
        return self.dir / "state.json"

    @property
    def control_dir(self) -> Path:
        """SSH ControlPath sockets; under /run because socket paths must stay below 108 bytes."""
        tag = hashlib.sha256(str(self.dir).encode()).hexdigest()[:10]
        return Path("/run/hydra-ops") / tag

    @property
    def secrets(self) -> SecretStore:
        """The local cluster's own age key and encrypted secrets, generated at run time, never committed."""
        return SecretStore(self.dir / "secrets" / "local.sops.yaml", self.dir / "age.key", self.dir / ".sops.yaml")

    def machine_dir(self, host: str) -> Path:
        return self.dir / "machines" / host

    def host(self, name: str) -> HostSpec:
        return next(h for h in self.spec.hosts if h.name == name)

    # -- state -----------------------------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return json.loads(self.state_file.read_text()) if self.state_file.exists() else {"hosts": {}}

    def _save(self, state: dict[str, Any]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps(state, indent=2))

    # -- up --------------------------------------------------------------------------------------------------
    def up(self, log: Any = print) -> None:
        """Bring every host up (booting only those not already running) and write inventory + ssh config."""
        _require_root()
        self.dir.mkdir(parents=True, exist_ok=True)
        self._claim_network()
        self.control_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not self.key.exists():
            run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hydra-ops-local", "-f", str(self.key))
        tarball = image.ensure_base(log)
        artifacts = self._publish_artifacts()
        state = self._state()
        network.bridge_up(self.spec.net)
        state["artifact_pid"] = self._artifact_server(state.get("artifact_pid"))
        for host in self.spec.hosts:
            entry = state["hosts"].get(host.name, {})
            if _alive(entry.get("pid")):
                log(f"{host.name}: already running (pid {entry['pid']})")
                continue
            network.host_up(self.spec.net, host.name, host.address)
            root = self.machine_dir(host.name)
            if not root.exists():
                log(f"{host.name}: unpacking base image")
                image.unpack(self._image(host, tarball, log), root)
                self._provision(host, root, artifacts)
            entry["pid"] = self._boot(host, root)
            state["hosts"][host.name] = entry
            self._save(state)
        self._write_access_files()
        self.secrets.init(SecretsOptions.model_validate(runpy.run_path(str(PROJECT_ROOT / "group_data" / "all.py")))
                          .secret_names)
        self._write_inventory(artifacts)
        for host in self.spec.hosts:
            self._wait_ready(host)
            log(f"{host.name}: up at {host.address}")

    def reset(self, name: str, log: Any = print) -> None:
        """Rebuild one host from the base image into its initial ('before') state and boot it again."""
        _require_root()
        host, state = self.host(name), self._state()
        pid = state["hosts"].get(name, {}).get("pid")
        if _alive(pid):
            self._stop(host, int(pid))
        subprocess.run(self.ssh_argv(name, "-O", "exit"), capture_output=True, timeout=10)
        root = self.machine_dir(name)
        if root.exists():
            _assert_unmounted(root)
            shutil.rmtree(root)
        artifacts = self._publish_artifacts()
        image.unpack(self._image(host, image.ensure_base(log), log), root)
        self._provision(host, root, artifacts)
        network.host_up(self.spec.net, name, host.address)
        state["hosts"][name] = {"pid": self._boot(host, root)}
        self._save(state)
        self._write_access_files()
        self._wait_ready(host)
        log(f"{name}: reset to its initial state")

    @property
    def owner_file(self) -> Path:
        return Path("/run/hydra-ops") / f"{self.spec.net.bridge}.owner"

    def _claim_network(self) -> None:
        """One cluster per bridge: refuse when another checkout's cluster is running on these addresses."""
        self.owner_file.parent.mkdir(parents=True, exist_ok=True)
        if self.owner_file.exists():
            other = Path(self.owner_file.read_text().strip())
            if other != self.dir and _nspawn_pids(other):
                raise RuntimeError(f"another local cluster ({other}) is running on bridge {self.spec.net.bridge}; "
                                   f"run `hydra cluster down` in that checkout first")
        self.owner_file.write_text(f"{self.dir}\n")

    def _publish_artifacts(self) -> dict[str, str]:
        """Pack the test doubles into the artifact directory; return their URLs and sha256s."""
        out, url = self.dir / "artifacts", self.spec.artifact_base
        _, sha = pack_ollama(out / "ollama")
        tabby, tabby_sha = pack_tabbyapi(out / "tabbyapi")
        canary, canary_sha = pack_tabbyapi(out / "tabbyapi", TABBY_CANARY_REVISION)
        wheels = out / "wheels"
        for specs in [runpy.run_path(str(HERE / "group_data" / "ai.py"))["tabby_pip_packages"], *LOCAL_IMAGE_PACKAGES]:
            if not all(any(wheels.glob(f"{wheel_name(s)}-*.whl")) for s in specs):
                run(sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--dest", str(wheels),
                    "--python-version", GUEST_PYTHON, *specs)
        base = image.ensure_base()
        images = out / "images"
        images.mkdir(parents=True, exist_ok=True)
        if not (images / base.name).exists():
            os.link(base, images / base.name)  # same filesystem as the cache: no copy
        model = pack_model(out / "hf")
        return {"ollama_url": f"{url}/ollama/ollama-linux-amd64.tgz", "ollama_sha256": sha, "model": model,
                "model_base_url": f"{url}/hf",
                "tabby_url": f"{url}/tabbyapi/{tabby.name}", "tabby_sha256": tabby_sha,
                "canary_url": f"{url}/tabbyapi/{canary.name}", "canary_sha256": canary_sha,
                "wheels": f"{url}/wheels/", "base_image_url": f"{url}/images/{base.name}",
                "base_image_sha256": image.sha256(base)}

    @staticmethod
    def _image(host: HostSpec, base: Path, log: Any) -> Path:
        """The tarball a host starts from: the base image, or its NixOS-shaped derivative."""
        return nixos_host.ensure_image(log) if host.platform == "nixos" else base

    def _artifact_server(self, pid: int | None) -> int:
        if _alive(pid):
            return int(pid)  # type: ignore[arg-type]
        logf = open(self.dir / "artifact-server.log", "ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "devcluster.local.artifact_server", "--port", str(self.spec.artifact_port),
             "--bind", self.spec.net.gateway, "--directory", str(self.dir / "artifacts")],
            stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, start_new_session=True,
        )
        _wait_port(self.spec.net.gateway, self.spec.artifact_port, 15)
        return proc.pid

    def _provision(self, host: HostSpec, root: Path, artifacts: dict[str, str]) -> None:
        """Write identity, SSH access, fake GPUs and the host's 'before' state into its root filesystem."""
        (root / "etc/hostname").write_text(host.name + "\n")
        (root / "etc/machine-id").write_text(uuid.uuid5(uuid.NAMESPACE_DNS, host.name).hex + "\n")
        hosts = "127.0.0.1 localhost\n" + "".join(f"{h.address} {h.name}\n" for h in self.spec.hosts)
        (root / "etc/hosts").write_text(hosts)
        shutil.copyfile("/etc/resolv.conf", root / "etc/resolv.conf")
        ssh = root / "root/.ssh"
        ssh.mkdir(mode=0o700, parents=True, exist_ok=True)
        (ssh / "authorized_keys").write_text(self.key.with_suffix(".pub").read_text())
        (ssh / "authorized_keys").chmod(0o600)
        for old in (root / "etc/ssh").glob("ssh_host_*"):
            old.unlink()
        hostkey = root / "etc/ssh/ssh_host_ed25519_key"
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"root@{host.name}", "-f", str(hostkey))
        (root / "etc/ssh/sshd_config.d/hydra-ops.conf").write_text(
            "HostKey /etc/ssh/ssh_host_ed25519_key\nPasswordAuthentication no\nPermitRootLogin prohibit-password\n"
            "UseDNS no\nMaxStartups 50:30:100\nMaxSessions 50\n"
        )
        fake = root / "etc/hydra-ops"
        fake.mkdir(parents=True, exist_ok=True)
        gpus = [{"index": i, "uuid": "GPU-" + str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{host.name}/gpu{i}")), **g}
                for i, g in enumerate(host.gpus)]
        (fake / "fake-gpus.json").write_text(json.dumps({"gpus": gpus}, indent=2))
        if host.gpus:
            smi = root / "usr/bin/nvidia-smi"
            shutil.copyfile(HERE / "fake_nvidia_smi.py", smi)
            smi.chmod(0o755)
        if host.docker:
            unit = root / "etc/systemd/system/hydra-cgroup-rw.service"
            unit.write_text(cgroup_unit())
            wants = root / "etc/systemd/system/multi-user.target.wants"
            wants.mkdir(parents=True, exist_ok=True)
            (wants / unit.name).symlink_to(f"/etc/systemd/system/{unit.name}")
        if host.before == "legacy_ollama":
            self._legacy_ollama(root)
        if host.platform == "nixos":
            nixos_host.provision(root, host.group, self.dir / "artifacts/ollama/ollama-linux-amd64.tgz")


    def _legacy_ollama(self, root: Path) -> None:
        """The audit's 'before' on hydra-compute: Ollama as install.sh leaves it, one unit, GPU 0, port 11434."""
        run("tar", "-C", str(root / "usr/local"), "-xzf", str(self.dir / "artifacts/ollama/ollama-linux-amd64.tgz"))
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

    def _boot(self, host: HostSpec, root: Path) -> int:
        cmd = ["systemd-nspawn", "-D", str(root), "-b", "--register=no", "--keep-unit", f"--machine={host.name}",
               f"--network-namespace-path=/run/netns/{network.netns_name(self.spec.net, host.name)}"]
        if host.docker:
            cmd += ["--capability=all", "--system-call-filter=@keyring bpf @mount"]
        elif host.platform == "nixos":
            cmd += ["--capability=CAP_NET_ADMIN"]  # networking.firewall is realised with iptables in its netns
        logf = open(self.dir / f"{host.name}.console.log", "ab")
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, start_new_session=True)
        return proc.pid

    def _wait_ready(self, host: HostSpec) -> None:
        """Wait until sshd answers and systemd has finished booting (bounded)."""
        deadline = time.monotonic() + BOOT_TIMEOUT
        last = ""
        while time.monotonic() < deadline:
            proc = self.ssh(host.name, "systemctl is-system-running --wait", check=False, timeout=30)
            last = (proc.stdout + proc.stderr).strip()
            if proc.returncode == 0 or last.startswith(("running", "degraded")):
                return
            time.sleep(0.5)
        raise RuntimeError(f"{host.name} did not become ready within {BOOT_TIMEOUT:.0f}s: {last}")

    # -- access files ----------------------------------------------------------------------------------------
    def _write_access_files(self) -> None:
        lines = []
        for host in self.spec.hosts:
            pub = (self.machine_dir(host.name) / "etc/ssh/ssh_host_ed25519_key.pub").read_text().split()
            lines.append(f"{host.name},{host.address} {pub[0]} {pub[1]}\n")
        self.known_hosts.write_text("".join(lines))
        cfg = [f"Host {h.name}\n  HostName {h.address}\n" for h in self.spec.hosts]
        cfg.append(
            "Host hydra-*\n  User root\n"
            f"  IdentityFile {self.key}\n  IdentitiesOnly yes\n  BatchMode yes\n"
            f"  UserKnownHostsFile {self.known_hosts}\n  StrictHostKeyChecking yes\n"
            f"  ControlMaster auto\n  ControlPath {self.control_dir}/%C\n  ControlPersist 120s\n"
            "  ConnectTimeout 10\n"
        )
        self.ssh_config.write_text("\n".join(cfg))

    def _write_inventory(self, artifacts: dict[str, str]) -> None:
        """Write .cluster/inventory.py and .cluster/group_data/ (only the overrides the local cluster needs)."""
        groups: dict[str, list[str]] = {}
        for host in self.spec.hosts:
            groups.setdefault(host.group, []).append(
                f'("{host.name}", {{"ssh_hostname": "{host.address}", **_ssh}})'
            )
        body = "".join(f"{g} = [{', '.join(entries)}]\n" for g, entries in groups.items())
        self.inventory.write_text(
            '"""The local cluster, written by `hydra cluster up`. Do not edit: it is rewritten on every up."""\n\n'
            f"_ssh = {{\n    \"ssh_user\": \"root\",\n    \"ssh_key\": \"{self.key}\",\n"
            f"    \"ssh_known_hosts_file\": \"{self.known_hosts}\",\n"
            "    \"ssh_strict_host_key_checking\": \"yes\",\n}\n\n" + body
        )
        appendix = {
            "compute": {"ollama_release_url": artifacts["ollama_url"],
                        "ollama_release_sha256": artifacts["ollama_sha256"]},
            "ai": {"tabby_revision": TABBY_DOUBLE_REVISION, "tabby_source_url": artifacts["tabby_url"],
                   "tabby_source_sha256": artifacts["tabby_sha256"],
                   "tabby_pip_args": ["--no-index", "--find-links", artifacts["wheels"],
                                      "--trusted-host", self.spec.net.gateway],
                   "model_base_url": artifacts["model_base_url"], "tabby_models": [artifacts["model"]],
                   "tabby_canary": {"revision": TABBY_CANARY_REVISION, "source_url": artifacts["canary_url"],
                                    "source_sha256": artifacts["canary_sha256"], "backend": "exllamav3",
                                    "port": 5001}},
            "storage": {"stack_base_images": [{"tag": LOCAL_BASE_TAG, "url": artifacts["base_image_url"],
                                               "sha256": artifacts["base_image_sha256"]}],
                        "stack_builds": local_builds(artifacts["wheels"], self.spec.net.gateway,
                                                     artifacts["ollama_url"], artifacts["ollama_sha256"])},
            "all": {"secrets_file": str(self.secrets.file), "age_key_file": str(self.secrets.key_file),
                    "sops_config": str(self.secrets.config)},
        }
        gd = self.dir / "group_data"
        gd.mkdir(exist_ok=True)
        mine = self.overrides_dir
        groups = {p.stem for p in [*(HERE / "group_data").glob("*.py"), *mine.glob("*.py")]} | set(appendix)
        for group in sorted(groups):
            src = HERE / "group_data" / f"{group}.py"
            text = (f"# GENERATED by `hydra cluster up` and rewritten by every hydra command: edits here are lost.\n"
                    f"# Put your own local overrides in {mine}/{group}.py (kept; appended below).\n")
            text += src.read_text() if src.exists() else f'"""Local-cluster overrides for group {group}."""\n'
            if group in appendix:
                text += "\n# Appended by `hydra cluster up` (paths and sums of this run).\n"
                text += "".join(f"{k} = {v!r}\n" for k, v in appendix[group].items())
            own = mine / f"{group}.py"
            if own.exists():
                text += f"\n# Appended from {own} (yours).\n" + own.read_text()
            (gd / f"{group}.py").write_text(text)

    @property
    def overrides_dir(self) -> Path:
        """Where an operator keeps local group-data overrides that survive regeneration (git-ignored)."""
        return PROJECT_ROOT / "group_data.local"

    # -- using hosts -----------------------------------------------------------------------------------------
    def ssh_argv(self, host: str, *options: str) -> list[str]:
        """The ssh command line that reaches a local host (ssh options go before it, the remote command after)."""
        return ["ssh", "-F", str(self.ssh_config), *options, host]

    def ssh(self, host: str, command: str, check: bool = True, timeout: float = 120,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run a shell command on a local host as root over SSH."""
        stdin: dict[str, Any] = {"input": input} if input is not None else {"stdin": subprocess.DEVNULL}
        proc = subprocess.run([*self.ssh_argv(host), command], capture_output=True, text=True,
                              timeout=timeout, **stdin)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{host}: {command!r} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc

    def status(self) -> list[dict[str, Any]]:
        state = self._state()
        rows = []
        for host in self.spec.hosts:
            pid = state["hosts"].get(host.name, {}).get("pid")
            row = {"host": host.name, "group": host.group, "address": host.address, "pid": pid,
                   "running": _alive(pid), "systemd": "-"}
            if row["running"] and self.ssh_config.exists():
                proc = self.ssh(host.name, "systemctl is-system-running", check=False, timeout=15)
                row["systemd"] = proc.stdout.strip() or proc.stderr.strip()[:60]
            rows.append(row)
        return rows

    # -- down ------------------------------------------------------------------------------------------------
    def down(self, log: Any = print) -> list[str]:
        """Stop every host (poweroff, then kill after a bounded wait) and remove all that up made."""
        _require_root()
        state = self._state()
        for host in self.spec.hosts:
            pid = state["hosts"].get(host.name, {}).get("pid")
            if _alive(pid):
                self._stop(host, int(pid))
                log(f"{host.name}: stopped")
            if self.ssh_config.exists():
                subprocess.run(self.ssh_argv(host.name, "-O", "exit"),
                               capture_output=True, timeout=10)
            network.host_down(self.spec.net, host.name)
        _kill(state.get("artifact_pid"))
        network.bridge_down(self.spec.net)
        for host in self.spec.hosts:
            root = self.machine_dir(host.name)
            if root.exists():
                _assert_unmounted(root)
                shutil.rmtree(root)
        self.state_file.unlink(missing_ok=True)
        shutil.rmtree(self.control_dir, ignore_errors=True)
        if self.owner_file.exists() and self.owner_file.read_text().strip() == str(self.dir):
            self.owner_file.unlink()
        left = network.leftovers(self.spec.net, [h.name for h in self.spec.hosts])
        left += [f"process {p}" for p in _nspawn_pids(self.dir)]
        return left

    def _stop(self, host: HostSpec, pid: int) -> None:
        self.ssh(host.name, "systemctl --no-block poweroff", check=False, timeout=10)
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)
        if _alive(pid):
            for child in _children(pid):
                _kill(child)
            _kill(pid)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.1)


def _require_root() -> None:
    if os.geteuid() != 0:
        raise PermissionError("the local cluster needs root (network namespaces, bridge, systemd-nspawn)")


def _alive(pid: Any) -> bool:
    if not pid:
        return False
    try:
        stat = Path(f"/proc/{int(pid)}/stat").read_text()
    except (OSError, ValueError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _kill(pid: Any) -> None:
    if _alive(pid):
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass


def _nspawn_pids(state_dir: Path) -> list[int]:
    """nspawn processes still running on this cluster's machine directories."""
    out = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if args and args[0].endswith(b"systemd-nspawn") and str(state_dir).encode() in b" ".join(args):
            out.append(int(cmdline.parent.name))
    return out


def _assert_unmounted(root: Path) -> None:
    prefix = str(root) + "/"
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    busy = [m for m in mounts if m == str(root) or m.startswith(prefix)]
    if busy:
        raise RuntimeError(f"refusing to delete {root}: still mounted: {busy[:3]}")


def _wait_port(host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{host}:{port} did not open within {timeout:.0f}s")
