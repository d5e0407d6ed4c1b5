"""Shared fakes for the nixos-rebuild double's tests: FakeHost, evaluated configs, a rebuild runner."""

# Only the process boundary is faked: `systemctl`, `useradd`, `iptables-restore` ... are recorded by
# FakeHost, which keeps unit states the way systemd would report them; `nginx -t` runs the real Debian
# nginx. The evaluator is replaced by hand-written evaluated configs in the evaluator's JSON shape.

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from devcluster.nixos.rebuild.nixos_rebuild import main, run_command
from devcluster.nixos.rebuild.store import store_hash

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SHOW_PROPS = "Id,ActiveState,SubState,Type,Result,NRestarts,InactiveExitTimestampMonotonic"


class FakeHost:
    """Records commands; answers `systemctl show` from unit states that start/stop/restart/reload update."""

    def __init__(self, failing: set[str] | None = None) -> None:
        self.calls: list[list[str]] = []
        self.states: dict[str, str] = {}
        self.failing = failing or set()
        self.inputs: list[str | None] = []
        self.hooked = False

    def __call__(self, argv: list[str], input: str | None = None) -> subprocess.CompletedProcess:
        self.calls.append(list(argv))
        self.inputs.append(input)
        if Path(argv[0]).name == "nginx" or argv[:2] == ["env", "-i"]:  # nginx -t and derivation builders run
            return run_command(argv, input)
        out = ""
        if argv[0] == "systemctl":
            units = argv[argv.index("--") + 1:] if "--" in argv else []
            verb = argv[1]
            if verb == "show":
                out = "\n\n".join(self._show(u) for u in units) + "\n"
            elif verb == "list-units" and "--state=failed" in argv:
                out = "".join(f"{u} loaded failed failed {u}\n" for u, st in sorted(self.states.items())
                              if st == "failed")
            elif verb in ("start", "restart"):
                for unit in units:
                    self.states[unit] = "failed" if unit in self.failing else "active"
            elif verb == "stop":
                for unit in units:
                    self.states[unit] = "inactive"
        if argv[:4] == ["iptables", "-w", "-C", "INPUT"]:
            return subprocess.CompletedProcess(argv, 0 if self.hooked else 1, "", "")
        if argv[:3] == ["iptables", "-w", "-A"] or argv[:3] == ["iptables", "-w", "-D"]:
            self.hooked = argv[2] == "-A"
        if argv[0] == "journalctl":
            out = f"{argv[-1]}: boom\n"
        return subprocess.CompletedProcess(argv, 0, out, "")

    def clear(self) -> None:
        self.calls.clear()
        self.inputs.clear()

    def _show(self, unit: str) -> str:
        state = self.states.get(unit, "inactive")
        sub = {"active": "running", "failed": "failed"}.get(state, "dead")
        return (f"Id={unit}\nActiveState={state}\nSubState={sub}\nType=simple\nResult=success\nNRestarts=0\n"
                "InactiveExitTimestampMonotonic=0")

    def systemctl(self, verb: str) -> list[list[str]]:
        return [c for c in self.calls if c[:2] == ["systemctl", verb]]

    def index(self, verb: str, unit: str) -> int:
        return next(i for i, c in enumerate(self.calls) if c[:2] == ["systemctl", verb] and unit in c)


def base_config(pkgs: dict[str, dict]) -> dict[str, Any]:
    """An evaluated config in the evaluator's shape: the single ollama.service of the audit's before state."""
    return {
        "networking": {"hostName": "hydra-compute", "firewall": {
            "enable": True, "allowedTCPPorts": [22], "allowedUDPPorts": [], "allowPing": True,
            "trustedInterfaces": [], "extraCommands": "", "rejectPackets": False, "interfaces": {}}},
        "services": {
            "ollama": {"enable": True, "host": "0.0.0.0", "port": 11434, "acceleration": "cuda",
                       "environmentVariables": {"CUDA_VISIBLE_DEVICES": "0"}, "package": pkgs["ollama"]["outPath"],
                       "home": "/var/lib/ollama", "models": "/var/lib/ollama/models", "user": None, "group": None,
                       "openFirewall": False},
            "nginx": {"enable": False},
            "openssh": {"enable": True, "openFirewall": True, "ports": [22]}},
        "systemd": {"services": {}, "tmpfiles": {"rules": []}},
        "users": {"mutableUsers": True, "users": {}, "groups": {}},
        "environment": {"systemPackages": [pkgs["ollama"]["outPath"]], "etc": {}},
        "system": {"stateVersion": "24.11"},
    }


def instance(port: int, gpu: int, pkgs: dict[str, dict]) -> dict[str, Any]:
    return {"enable": True, "description": f"Ollama on GPU {gpu}", "after": ["network-online.target"],
            "wants": ["network-online.target"], "requires": [], "wantedBy": ["multi-user.target"], "requiredBy": [],
            "bindsTo": [], "partOf": [], "conflicts": [], "before": [], "documentation": [],
            "environment": {"OLLAMA_HOST": f"0.0.0.0:{port}", "CUDA_VISIBLE_DEVICES": str(gpu)},
            "path": [pkgs["curl"]["outPath"]],
            "serviceConfig": {"ExecStart": f"{pkgs['ollama']['outPath']}/bin/ollama serve", "User": "ollama",
                              "Restart": "always", "NoNewPrivileges": True, "RestartSec": 2,
                              "DeviceAllow": ["/dev/nvidiactl rw", "char-nvidia-uvm rw"]},
            "unitConfig": {"RequiresMountsFor": "/mnt/models"}, "startLimitBurst": 5, "startLimitIntervalSec": 300,
            "script": "", "preStart": "", "postStart": "", "restartIfChanged": True, "reloadIfChanged": False,
            "stopIfChanged": True, "restartTriggers": [], "reloadTriggers": []}


def dual_config(pkgs: dict[str, dict]) -> dict[str, Any]:
    """The G1/G2 after state: ollama module off, two instances, nginx LB on :11400, the ollama user."""
    config = base_config(pkgs)
    config["services"]["ollama"]["enable"] = False
    config["systemd"]["services"] = {"ollama@11434": instance(11434, 0, pkgs), "ollama@11435": instance(11435, 1, pkgs)}
    config["systemd"]["tmpfiles"]["rules"] = ["d /var/lib/ollama/models 0750 ollama ollama -"]
    config["users"]["users"] = {"ollama": {"isSystemUser": True, "group": "ollama", "extraGroups": ["video", "render"],
                                           "home": "/var/empty", "createHome": False, "shell": None, "uid": None,
                                           "description": ""}}
    config["users"]["groups"] = {"ollama": {"gid": None, "members": []}}
    config["networking"]["firewall"]["allowedTCPPorts"] = [22, 11400]
    config["services"]["nginx"] = {
        "enable": True, "enableReload": True, "serverTokens": False, "package": pkgs["nginx"]["outPath"],
        "user": "nginx", "group": "nginx", "clientMaxBodySize": "10m", "recommendedProxySettings": False,
        "commonHttpConfig": "", "upstreams": {}, "virtualHosts": {},
        "appendHttpConfig": "upstream ollama_lb {\n  least_conn;\n  server 127.0.0.1:11434;\n"
                            "  server 127.0.0.1:11435;\n}\nserver {\n  listen 0.0.0.0:11400;\n"
                            "  location / {\n    proxy_pass http://ollama_lb;\n    proxy_buffering off;\n  }\n}\n"}
    return config


def derivation(name: str, command: str) -> dict[str, Any]:
    """What the evaluator lists under `_derivations` for `pkgs.runCommand name { } command`."""
    out = f"/nix/store/{store_hash(name + command)}-{name}"
    return {"name": name, "out": out, "drvPath": f"{out}.drv", "buildCommand": command, "env": {}}


def rebuild(root: Path, host: FakeHost, config: dict[str, Any] | None, *args: str,
            capsys: pytest.CaptureFixture | None = None, out_link: Path | None = None) -> int:
    def evaluate() -> dict[str, Any]:
        return copy.deepcopy(config)

    return main(list(args), root=root, run=host, evaluate=evaluate, timeout=2, settle=0, sleep=lambda _: None,
                out_link=out_link)
