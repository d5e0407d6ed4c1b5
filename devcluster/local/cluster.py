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
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from devcluster.local import dgxos_host, files, image, network, nixos_host, unraid_host
from devcluster.local.network import run
from devcluster.local.procs import (
    alive,
    assert_unmounted,
    children,
    kill,
    nspawn_pids,
    remove_tree,
    require_root,
    wait_port,
)
from devcluster.local.provision import after_boot, disk_binds, disk_dir, provision
from devcluster.local.spec import FLAVOURS, HERE, SPEC_FILE, HostSpec, Spec, load_spec
from hydra_ops import PROJECT_ROOT
from hydra_ops.secrets import SecretStore
from hydra_ops.services.secrets.options import SecretsOptions

__all__ = ["FLAVOURS", "HERE", "SPEC_FILE", "Cluster", "HostSpec", "Spec", "load_spec"]

BOOT_TIMEOUT = 90.0
STOP_TIMEOUT = 20.0


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
        require_root()
        self.dir.mkdir(parents=True, exist_ok=True)
        self._claim_network()
        self.control_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not self.key.exists():
            run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hydra-ops-local", "-f", str(self.key))
        tarball = image.ensure_base(log)
        artifacts = files.publish_artifacts(self)
        state = self._state()
        network.bridge_up(self.spec.net)
        state["artifact_pid"] = self._artifact_server(state.get("artifact_pid"))
        fresh = []
        for host in self.spec.hosts:
            entry = state["hosts"].get(host.name, {})
            if alive(entry.get("pid")):
                log(f"{host.name}: already running (pid {entry['pid']})")
                continue
            network.host_up(self.spec.net, host.name, host.address)
            root = self.machine_dir(host.name)
            if root.exists() and not (root / "etc/os-release").exists():  # a removal cut short: start it again
                assert_unmounted(root)
                remove_tree(root)
            if not root.exists():
                log(f"{host.name}: unpacking base image")
                image.unpack(self._image(host, tarball, log), root)
                provision(host, root, self.spec.hosts, self.key, self.dir)
                fresh.append(host)
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
        for host in fresh:
            after_boot(self, host, log)

    def reset(self, name: str, log: Any = print) -> None:
        """Rebuild one host from the base image into its initial ('before') state and boot it again."""
        require_root()
        host, state = self.host(name), self._poweroff(name)
        root = self.machine_dir(name)
        if root.exists():
            assert_unmounted(root)
            remove_tree(root)
        shutil.rmtree(disk_dir(self.dir, host), ignore_errors=True)
        files.publish_artifacts(self)  # provisioning unpacks the packed doubles from the artifact directory
        image.unpack(self._image(host, image.ensure_base(log), log), root)
        provision(host, root, self.spec.hosts, self.key, self.dir)
        network.host_up(self.spec.net, name, host.address)
        state["hosts"][name] = {"pid": self._boot(host, root)}
        self._save(state)
        self._write_access_files()
        self._wait_ready(host)
        after_boot(self, host, log)
        log(f"{name}: reset to its initial state")

    def reboot(self, name: str, log: Any = print) -> None:
        """Power one host off and boot it again from the same root: its disk stays, what lives in RAM goes."""
        require_root()
        host, state = self.host(name), self._poweroff(name)
        state["hosts"][name] = {"pid": self._boot(host, self.machine_dir(name))}
        self._save(state)
        self._wait_ready(host)
        log(f"{name}: rebooted")

    def _poweroff(self, name: str) -> dict[str, Any]:
        """Stop a host if it runs and drop its SSH master connection; return the cluster state."""
        state = self._state()
        pid = state["hosts"].get(name, {}).get("pid")
        if alive(pid):
            self._stop(self.host(name), int(pid))
        subprocess.run(self.ssh_argv(name, "-O", "exit"), capture_output=True, timeout=10)
        return state

    @property
    def owner_file(self) -> Path:
        return Path("/run/hydra-ops") / f"{self.spec.net.bridge}.owner"

    def _claim_network(self) -> None:
        """One cluster per bridge: refuse when another checkout's cluster is running on these addresses."""
        self.owner_file.parent.mkdir(parents=True, exist_ok=True)
        if self.owner_file.exists():
            other = Path(self.owner_file.read_text().strip())
            if other != self.dir and nspawn_pids(other):
                raise RuntimeError(f"another local cluster ({other}) is running on bridge {self.spec.net.bridge}; "
                                   f"run `hydra cluster down` in that checkout first")
        self.owner_file.write_text(f"{self.dir}\n")

    @staticmethod
    def _image(host: HostSpec, base: Path, log: Any) -> Path:
        """The tarball a host starts from: the base image, or its NixOS-, Unraid- or DGX OS-shaped derivative."""
        derived = {"nixos": nixos_host.ensure_image, "unraid": unraid_host.ensure_image,
                   "dgxos": dgxos_host.ensure_image}.get(host.platform)
        return derived(log) if derived else base

    def _artifact_server(self, pid: int | None) -> int:
        if alive(pid):
            return int(pid)  # type: ignore[arg-type]
        logf = open(self.dir / "artifact-server.log", "ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "devcluster.local.artifact_server", "--port", str(self.spec.artifact_port),
             "--bind", self.spec.net.gateway, "--directory", str(self.dir / "artifacts")],
            stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, start_new_session=True,
        )
        wait_port(self.spec.net.gateway, self.spec.artifact_port, 15)
        return proc.pid

    def _boot(self, host: HostSpec, root: Path) -> int:
        cmd = ["systemd-nspawn", "-D", str(root), "-b", "--register=no", "--keep-unit", f"--machine={host.name}",
               f"--network-namespace-path=/run/netns/{network.netns_name(self.spec.net, host.name)}"]
        if host.docker:
            cmd += ["--capability=all", "--system-call-filter=@keyring bpf @mount"]
        elif host.platform == "nixos":
            cmd += ["--capability=CAP_NET_ADMIN"]  # networking.firewall is realised with iptables in its netns
        cmd += disk_binds(self.dir, host)
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
        """known_hosts and ssh_config for this cluster (see files.write_access_files)."""
        files.write_access_files(self)

    def _write_inventory(self, artifacts: dict[str, str]) -> None:
        """inventory.py and group_data/ for this cluster (see files.write_inventory)."""
        files.write_inventory(self, artifacts)

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
                   "running": alive(pid), "systemd": "-"}
            if row["running"] and self.ssh_config.exists():
                proc = self.ssh(host.name, "systemctl is-system-running", check=False, timeout=15)
                row["systemd"] = proc.stdout.strip() or proc.stderr.strip()[:60]
            rows.append(row)
        return rows

    # -- down ------------------------------------------------------------------------------------------------
    def down(self, log: Any = print) -> list[str]:
        """Stop every host (poweroff, then kill after a bounded wait) and remove all that up made."""
        require_root()
        state = self._state()
        for host in self.spec.hosts:
            pid = state["hosts"].get(host.name, {}).get("pid")
            if alive(pid):
                self._stop(host, int(pid))
                log(f"{host.name}: stopped")
            if self.ssh_config.exists():
                subprocess.run(self.ssh_argv(host.name, "-O", "exit"),
                               capture_output=True, timeout=10)
            network.host_down(self.spec.net, host.name)
        kill(state.get("artifact_pid"))
        network.bridge_down(self.spec.net)
        for host in self.spec.hosts:
            root = self.machine_dir(host.name)
            if root.exists():
                assert_unmounted(root)
                remove_tree(root)
            shutil.rmtree(disk_dir(self.dir, host), ignore_errors=True)
        self.state_file.unlink(missing_ok=True)
        shutil.rmtree(self.control_dir, ignore_errors=True)
        if self.owner_file.exists() and self.owner_file.read_text().strip() == str(self.dir):
            self.owner_file.unlink()
        left = network.leftovers(self.spec.net, [h.name for h in self.spec.hosts])
        left += [f"process {p}" for p in nspawn_pids(self.dir)]
        return left

    def _stop(self, host: HostSpec, pid: int) -> None:
        self.ssh(host.name, "systemctl --no-block poweroff", check=False, timeout=10)
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline and alive(pid):
            time.sleep(0.2)
        if alive(pid):
            for child in children(pid):
                kill(child)
            kill(pid)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and alive(pid):
            time.sleep(0.1)
