"""The nixos-rebuild test double (devcluster/nixos/rebuild) against a temporary host root.

Only the process boundary is faked: `systemctl`, `useradd`, `iptables-restore` ... are recorded by FakeHost, which
keeps unit states the way systemd would report them; `nginx -t` runs the real Debian nginx. The evaluator is
replaced by hand-written evaluated configs in the evaluator's JSON shape.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from devcluster.nixos.rebuild import firewall, generations, install, make_store, modules, nginx, realise, switch
from devcluster.nixos.rebuild.nixos_rebuild import main, nix_evaluator, run_command
from devcluster.nixos.rebuild.store import STORE, store_hash
from devcluster.nixos.rebuild.units import DEFAULT_PATH, parse_unit, render_service
from devcluster.nixos.rebuild.users import plan as users_plan

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
needs_nginx = pytest.mark.skipif(not Path(NGINX).exists(), reason="Debian nginx is not installed")
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
        if Path(argv[0]).name == "nginx":
            return run_command(argv, input)
        out = ""
        if argv[0] == "systemctl":
            units = argv[argv.index("--") + 1:] if "--" in argv else []
            verb = argv[1]
            if verb == "show":
                out = "\n\n".join(self._show(u) for u in units) + "\n"
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


@pytest.fixture
def root(tmp_path: Path) -> Path:
    host = tmp_path / "host"
    (host / "etc/nixos").mkdir(parents=True)
    (host / "etc/nixos/configuration.nix").write_text("{ ... }: { imports = [ ./hydra-ops ]; }\n")
    (host / "etc/nixos/hydra-ops").mkdir()
    (host / "etc/nixos/hydra-ops/ollama.nix").write_text("{ services.ollama.enable = true; }\n")
    (host / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\nsshd:x:100:65534::/run/sshd:/usr/sbin/nologin\n")
    (host / "etc/group").write_text("root:x:0:\nvideo:x:44:\n")
    return host


@pytest.fixture
def pkgs(root: Path) -> dict[str, dict]:
    return make_store(root, {"ollama": {"version": "0.8.0", "bin": {"ollama": "/usr/bin/true"}},
                             "nginx": {"version": "1.22.1", "bin": {"nginx": NGINX}},
                             "curl": {"version": "8.1.2", "bin": {"curl": "/usr/bin/curl"}}})


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


def rebuild(root: Path, host: FakeHost, config: dict[str, Any] | None, *args: str,
            capsys: pytest.CaptureFixture | None = None) -> int:
    def evaluate() -> dict[str, Any]:
        return copy.deepcopy(config)

    return main(list(args), root=root, run=host, evaluate=evaluate, timeout=2, settle=0, sleep=lambda _: None)


# --- store ------------------------------------------------------------------------------------------------------


def test_make_store_layout_and_pkgs_json(root: Path, pkgs: dict[str, dict]) -> None:
    out = pkgs["ollama"]["outPath"]
    assert re.fullmatch(rf"{STORE}/[0-9a-df-np-sv-z]{{32}}-ollama-0\.8\.0", out)
    assert out == f"{STORE}/{store_hash('ollama0.8.0')}-ollama-0.8.0"
    assert pkgs["ollama"] == {"outPath": out, "name": "ollama-0.8.0", "version": "0.8.0"}
    link = root / out.lstrip("/") / "bin/ollama"
    assert link.is_symlink() and str(link.readlink()) == "/usr/bin/true"
    assert json.loads((root / "etc/hydra-nixos/pkgs.json").read_text()) == pkgs
    again = make_store(root, {"ollama": {"version": "0.8.0", "bin": {"ollama": "/usr/bin/true"}}})
    assert again["ollama"]["outPath"] == out  # stable, and idempotent on an existing store
    assert make_store(root, {"ollama": {"version": "0.9.0", "bin": {}}})["ollama"]["outPath"] != out


# --- unit rendering ---------------------------------------------------------------------------------------------


def test_render_service_quoting_bools_lists_start_limits(root: Path, pkgs: dict[str, dict]) -> None:
    entry = instance(11434, 0, pkgs)
    entry["environment"]["TRICKY"] = 'say "hi" \\ $HOME 50%'
    entry["script"] = "echo started"
    entry["preStart"] = "mkdir -p /mnt/models"
    text = render_service(root, "ollama@11434", entry)
    unit = parse_unit(text)
    assert ("Description", "Ollama on GPU 0") in unit["Unit"]
    assert ("After", "network-online.target") in unit["Unit"]
    assert ("Wants", "network-online.target") in unit["Unit"]
    assert ("StartLimitBurst", "5") in unit["Unit"] and ("StartLimitIntervalSec", "300") in unit["Unit"]
    assert ("RequiresMountsFor", "/mnt/models") in unit["Unit"]
    assert not [k for k, _ in unit["Unit"] if k in ("Requires", "BindsTo", "Documentation")]  # empty lists: no key
    assert 'Environment="OLLAMA_HOST=0.0.0.0:11434"' in text
    assert 'Environment="TRICKY=say \\"hi\\" \\\\ $HOME 50%"' in text
    path = next(v for k, v in unit["Service"] if k == "Environment" and v.startswith('"PATH='))
    curl = pkgs["curl"]["outPath"]
    assert path == f'"PATH={curl}/bin:{curl}/sbin:{DEFAULT_PATH}"'
    assert ("NoNewPrivileges", "true") in unit["Service"]
    assert ("RestartSec", "2") in unit["Service"]
    assert [v for k, v in unit["Service"] if k == "DeviceAllow"] == ["/dev/nvidiactl rw", "char-nvidia-uvm rw"]
    # an explicit serviceConfig.ExecStart wins over `script`, as NixOS's mkDefault does
    assert [v for k, v in unit["Service"] if k == "ExecStart"] == [f"{pkgs['ollama']['outPath']}/bin/ollama serve"]
    pre = next(v for k, v in unit["Service"] if k == "ExecStartPre")
    assert pre.startswith(f"{STORE}/") and (root / pre.lstrip("/")).read_text().endswith("mkdir -p /mnt/models\n")
    assert unit["Install"] == [("WantedBy", "multi-user.target")]
    # content-addressed scripts: rendering again gives the same unit text
    assert render_service(root, "ollama@11434", entry) == text


def test_render_service_script_and_change_flags(root: Path) -> None:
    text = render_service(root, "warmup", {"script": "curl -s localhost", "stopIfChanged": False,
                                           "reloadIfChanged": True, "serviceConfig": {"Type": "oneshot"},
                                           "restartTriggers": ["/nix/store/abc-conf"], "startLimitBurst": None})
    unit = parse_unit(text)
    start = next(v for k, v in unit["Service"] if k == "ExecStart")
    script = root / start.lstrip("/")
    assert script.read_text() == "#!/bin/bash\nset -e\ncurl -s localhost\n" and script.stat().st_mode & 0o111
    assert ("X-ReloadIfChanged", "true") in unit["Service"] and ("X-StopIfChanged", "false") in unit["Service"]
    assert ("X-Restart-Triggers", "/nix/store/abc-conf") in unit["Unit"]
    assert "StartLimitBurst" not in text and "Install" not in unit


def test_ollama_module_builds_the_nixpkgs_unit(root: Path, pkgs: dict[str, dict]) -> None:
    config = base_config(pkgs)
    config["services"]["ollama"]["openFirewall"] = True
    want = modules.expand(root, config)
    text = render_service(root, "ollama", want["services"]["ollama"])
    unit = parse_unit(text)
    service = dict(unit["Service"])
    assert service["ExecStart"] == f"{pkgs['ollama']['outPath']}/bin/ollama serve"
    env = [v for k, v in unit["Service"] if k == "Environment"]
    for expected in ('"HOME=/var/lib/ollama"', '"OLLAMA_MODELS=/var/lib/ollama/models"',
                     '"OLLAMA_HOST=0.0.0.0:11434"', '"CUDA_VISIBLE_DEVICES=0"'):
        assert expected in env
    assert service["DynamicUser"] == "true" and "User" not in service
    assert service["StateDirectory"] == "ollama" and service["WorkingDirectory"] == "/var/lib/ollama"
    assert dict(unit["Unit"])["After"] == "network.target" and unit["Install"] == [("WantedBy", "multi-user.target")]
    assert want["tcp_ports"] == [11434]
    assert "--dport 11434 -j ACCEPT" in firewall.rules(firewall.settings(config, want["tcp_ports"]))
    # a static user: User/Group instead of DynamicUser, and the module declares the account
    config["services"]["ollama"].update(user="ollama", group="ollama")
    want = modules.expand(root, config)
    service = dict(parse_unit(render_service(root, "ollama", want["services"]["ollama"]))["Service"])
    assert service["User"] == "ollama" and "DynamicUser" not in service
    assert want["users"]["ollama"]["isSystemUser"] and "ollama" in want["groups"]


def test_declared_service_merges_into_the_module_unit(root: Path, pkgs: dict[str, dict]) -> None:
    config = base_config(pkgs)
    config["systemd"]["services"]["ollama"] = {"environment": {"OLLAMA_NOPRUNE": "1"}, "after": ["mnt-models.mount"],
                                               "serviceConfig": {"LimitNOFILE": 65536}, "description": ""}
    text = render_service(root, "ollama", modules.expand(root, config)["services"]["ollama"])
    assert 'Environment="OLLAMA_NOPRUNE=1"' in text and "LimitNOFILE=65536" in text
    assert "After=network.target mnt-models.mount" in text and "Description=Server for local" in text


# --- nginx ------------------------------------------------------------------------------------------------------


def test_nginx_conf_rendering(pkgs: dict[str, dict]) -> None:
    config = dual_config(pkgs)
    cfg = nginx.settings(config)
    conf = nginx.render_conf(cfg)
    assert conf.startswith("user nginx nginx;\nworker_processes auto;\npid /run/nginx/nginx.pid;\nerror_log stderr;")
    assert "events {\n}" in conf and "include /etc/nginx/mime.types;" in conf
    assert "server_tokens off;" in conf and "client_max_body_size 10m;" in conf
    assert "  upstream ollama_lb {\n    least_conn;\n    server 127.0.0.1:11434;" in conf
    assert conf.rstrip().endswith("}\n}") or conf.rstrip().endswith("}")
    assert conf.index("server_tokens") < conf.index("upstream ollama_lb")  # appendHttpConfig last inside http
    cfg.update(serverTokens=True, commonHttpConfig="log_format lb '$upstream_addr';",
               upstreams={"pool": {"servers": {"10.0.0.1:80": {}, "10.0.0.2:80": {"backup": True}},
                                   "extraConfig": "keepalive 8;"}},
               virtualHosts={"lb.local": {"listen": [{"addr": "127.0.0.1", "port": 8080}],
                                          "locations": {"/": {"proxyPass": "http://pool",
                                                              "extraConfig": "proxy_read_timeout 600s;"}},
                                          "extraConfig": "access_log off;"}},
               appendConfig="worker_rlimit_nofile 4096;")
    conf = nginx.render_conf(cfg)
    assert "server_tokens on;" in conf
    assert "upstream pool {\n    server 10.0.0.1:80;\n    server 10.0.0.2:80 backup;\n    keepalive 8;\n  }" in conf
    assert "listen 127.0.0.1:8080;" in conf and "server_name lb.local;" in conf
    assert "location / {\n      proxy_pass http://pool;\n      proxy_read_timeout 600s;\n    }" in conf
    assert conf.index("log_format lb") < conf.index("upstream pool") < conf.index("server {") \
        < conf.index("upstream ollama_lb")
    assert conf.rstrip().endswith("worker_rlimit_nofile 4096;")


@needs_nginx
def test_nginx_t_accepts_the_rendered_conf_and_refuses_a_broken_one(root: Path, pkgs: dict[str, dict]) -> None:
    config = dual_config(pkgs)
    cfg = nginx.settings(config)
    cfg["upstreams"] = {"pool": {"servers": {"127.0.0.1:11434": {}}, "extraConfig": "keepalive 8;"}}
    cfg["virtualHosts"] = {"lb": {"listen": [{"addr": "127.0.0.1", "port": 8080}],
                                  "locations": {"/": {"proxyPass": "http://pool"}}}}
    cfg["recommendedProxySettings"] = True
    realise.check_nginx(run_command, root, nginx.render_conf(cfg), cfg, {"nginx"})
    cfg["appendHttpConfig"] = "upstream broken { no_such_directive; }"
    with pytest.raises(realise.BuildError, match="nginx -t"):
        realise.check_nginx(run_command, root, nginx.render_conf(cfg), cfg, {"nginx"})


@needs_nginx
def test_dry_build_prints_what_it_would_build_and_refuses_broken_nginx(root: Path, pkgs: dict[str, dict],
                                                                       capsys: pytest.CaptureFixture) -> None:
    host = FakeHost()
    config = dual_config(pkgs)
    assert rebuild(root, host, config, "dry-build") == 0
    err = capsys.readouterr().err
    assert "etc/nginx/nginx.conf" in err and "etc/systemd/system/ollama@11435.service" in err
    assert not (root / "etc/systemd/system").exists() and generations.numbers(root) == []
    assert not [c for c in host.calls if c[0] == "systemctl"]
    config["services"]["nginx"]["appendHttpConfig"] += "\nproxy_pass_nope on;\n"
    assert rebuild(root, host, config, "dry-build") == 1
    err = capsys.readouterr().err
    assert "error: nginx.conf failed its check" in err and "proxy_pass_nope" in err
    assert rebuild(root, host, config, "switch") == 1
    assert generations.numbers(root) == []  # nothing half-built stays behind
    assert not list(generations.profiles(root).glob(".system-building-*"))


# --- switch plan ------------------------------------------------------------------------------------------------


def _unit(root: Path, **entry: Any) -> str:
    return render_service(root, "x", {"wantedBy": ["multi-user.target"], "serviceConfig": {"ExecStart": "/bin/a"},
                                      **entry})


def test_switch_plan(root: Path) -> None:
    base = _unit(root)
    changed = _unit(root, serviceConfig={"ExecStart": "/bin/b"})
    active = {"ActiveState": "active"}
    old = {"gone.service": base, "same.service": base, "down.service": base, "chg.service": base,
           "nostop.service": base, "reload.service": base, "trig.service": _unit(root, reloadTriggers=["/nix/store/1"]),
           "norestart.service": base}
    new = {"same.service": base, "down.service": base, "chg.service": changed, "fresh.service": base,
           "nostop.service": _unit(root, stopIfChanged=False, serviceConfig={"ExecStart": "/bin/b"}),
           "reload.service": _unit(root, reloadIfChanged=True, serviceConfig={"ExecStart": "/bin/b"}),
           "trig.service": _unit(root, reloadTriggers=["/nix/store/2"]),
           "norestart.service": _unit(root, restartIfChanged=False, serviceConfig={"ExecStart": "/bin/b"}),
           "tmpl@.service": base}
    states = {u: active for u in old if u != "down.service"}
    p = switch.plan(old, new, states)
    assert p.stop == ["chg.service", "gone.service"]
    assert p.start == ["chg.service", "down.service", "fresh.service"]
    assert p.restart == ["nostop.service"]
    assert p.reload == ["reload.service", "trig.service"]
    # a unit running from a definition the double did not write (Debian's nginx) is restarted on takeover
    assert switch.plan({}, {"nginx.service": base}, {"nginx.service": active}).restart == ["nginx.service"]
    # a finished oneshot counts as running; one that never ran is started
    done = {"ActiveState": "inactive", "Type": "oneshot", "Result": "success", "InactiveExitTimestampMonotonic": "9"}
    assert switch.plan({"o.service": base}, {"o.service": base}, {"o.service": done}).start == []
    assert switch.plan({"o.service": base}, {"o.service": base}, {"o.service": {**done,
                       "InactiveExitTimestampMonotonic": "0"}}).start == ["o.service"]


def test_module_ollama_replaced_by_instances_stops_first(root: Path, pkgs: dict[str, dict],
                                                         capsys: pytest.CaptureFixture) -> None:
    host = FakeHost()
    assert rebuild(root, host, base_config(pkgs), "switch") == 0
    units = root / "etc/systemd/system"
    assert (units / "ollama.service").is_file()
    assert (units / "multi-user.target.wants/ollama.service").readlink() == Path("/etc/systemd/system/ollama.service")
    assert host.states["ollama.service"] == "active"
    host.clear()
    assert rebuild(root, host, dual_config(pkgs), "switch") == 0
    assert host.index("stop", "ollama.service") < host.index("daemon-reload", "daemon-reload") \
        < host.index("start", "ollama@11434.service")
    assert host.index("stop", "ollama.service") < host.calls.index(["groupadd", "-r", "ollama"])
    assert host.systemctl("start")[0][-3:] == ["nginx.service", "ollama@11434.service", "ollama@11435.service"]
    assert not (units / "ollama.service").exists() and not (units / "multi-user.target.wants/ollama.service").exists()
    assert (units / "multi-user.target.wants/ollama@11435.service").is_symlink()
    manifest = json.loads((root / "etc/hydra-nixos/managed.json").read_text())
    assert manifest["units"] == ["nginx.service", "ollama@11434.service", "ollama@11435.service"]
    built_conf = generations.path(root, 2) / "etc/nginx/nginx.conf"
    assert (root / "etc/nginx/nginx.conf").read_text() == built_conf.read_text()
    assert (root / "etc/tmpfiles.d/00-nixos.conf").read_text() == "d /var/lib/ollama/models 0750 ollama ollama -\n"
    assert ["systemd-tmpfiles", "--create", "/etc/tmpfiles.d/00-nixos.conf"] in host.calls
    assert ["useradd", "-r", "-g", "ollama", "-G", "video,render", "-d", "/var/empty", "-M", "-s",
            "/usr/sbin/nologin", "ollama"] in host.calls
    assert ["groupadd", "-r", "render"] in host.calls and ["groupadd", "-r", "video"] not in host.calls
    restore = host.inputs[host.calls.index(["iptables-restore", "-w", "--noflush"])]
    assert "--dport 11400 -j ACCEPT" in restore and "--dport 22 -j ACCEPT" in restore
    sw = generations.path(root, 2) / "sw/bin/ollama"
    assert str(sw.readlink()) == f"{pkgs['ollama']['outPath']}/bin/ollama"
    assert "stopping the following units: ollama.service" in capsys.readouterr().err


def test_nginx_conf_change_reloads_with_enable_reload_else_restarts(root: Path, pkgs: dict[str, dict]) -> None:
    host = FakeHost()
    config = dual_config(pkgs)
    assert rebuild(root, host, config, "switch") == 0
    host.clear()
    config["services"]["nginx"]["clientMaxBodySize"] = "20m"
    assert rebuild(root, host, config, "switch") == 0
    assert host.systemctl("reload") == [["systemctl", "reload", "--", "nginx.service"]]
    assert not host.systemctl("restart") and not host.systemctl("stop")
    host.clear()
    config["services"]["nginx"].update(enableReload=False, clientMaxBodySize="30m")
    assert rebuild(root, host, config, "switch") == 0
    assert host.systemctl("restart") == [["systemctl", "restart", "--", "nginx.service"]]  # stopIfChanged = false
    assert not host.systemctl("reload")


def test_debian_nginx_unit_is_masked_when_the_generated_one_goes(root: Path, pkgs: dict[str, dict]) -> None:
    vendor = root / "lib/systemd/system/nginx.service"
    vendor.parent.mkdir(parents=True)
    vendor.write_text("[Service]\nExecStart=/usr/sbin/nginx\n")
    debian_link = root / "etc/systemd/system/multi-user.target.wants/nginx.service"
    debian_link.parent.mkdir(parents=True)
    debian_link.symlink_to("/lib/systemd/system/nginx.service")
    host = FakeHost()
    host.states["nginx.service"] = "active"  # Debian's nginx, running
    host.states["ssh.service"] = "active"
    assert rebuild(root, host, dual_config(pkgs), "switch") == 0
    assert ["systemctl", "restart", "--", "nginx.service"] in host.calls
    assert str(debian_link.readlink()) == "/etc/systemd/system/nginx.service"
    assert rebuild(root, host, base_config(pkgs), "switch") == 0
    assert ["systemctl", "stop", "--", "nginx.service", "ollama@11434.service", "ollama@11435.service"] in host.calls
    assert str((root / "etc/systemd/system/nginx.service").readlink()) == "/dev/null"
    assert not debian_link.exists() and not debian_link.is_symlink()
    assert not any("ssh.service" in c for c in host.calls)  # never touches units outside its manifest


def test_failed_units_exit_4_and_the_generation_stays(root: Path, pkgs: dict[str, dict],
                                                       capsys: pytest.CaptureFixture) -> None:
    host = FakeHost(failing={"ollama@11435.service"})
    assert rebuild(root, host, dual_config(pkgs), "switch") == 4
    err = capsys.readouterr().err
    assert "warning: the following units failed: ollama@11435.service" in err
    assert "ollama@11435.service: boom" in err
    assert generations.current(root) == 1


# --- generations ------------------------------------------------------------------------------------------------


def test_generations_numbering_identical_switch_and_rollback(root: Path, pkgs: dict[str, dict],
                                                            capsys: pytest.CaptureFixture) -> None:
    host = FakeHost()
    assert rebuild(root, host, None, "switch", "--rollback") == 1
    assert "error: no previous generation" in capsys.readouterr().err
    assert rebuild(root, host, base_config(pkgs), "switch") == 0
    assert generations.numbers(root) == [1] and generations.current(root) == 1
    assert (root / "nix/var/nix/profiles/system").readlink() == Path("system-1-link")
    assert (root / "run/current-system").readlink() == Path("/nix/var/nix/profiles/system-1-link")
    gen1 = generations.path(root, 1)
    for name in ("config.json", "sources.sha256", "nixos-version", "firewall.rules",
                 "etc/systemd/system/ollama.service"):
        assert (gen1 / name).is_file(), name
    assert json.loads((gen1 / "config.json").read_text()) == base_config(pkgs)

    host.clear()  # same config, same sources: no generation, nothing restarted
    assert rebuild(root, host, base_config(pkgs), "switch") == 0
    assert generations.numbers(root) == [1]
    assert not [c for c in host.calls if c[:2] in (["systemctl", "start"], ["systemctl", "restart"],
                                                   ["systemctl", "stop"], ["systemctl", "reload"])]

    # same config but a changed source file: a new generation (the deploy can tell from the hash)
    before = generations.source_hash(root)
    (root / "etc/nixos/hydra-ops/ollama.nix").write_text("{ services.ollama.enable = true; } # edited\n")
    assert generations.source_hash(root) != before
    assert rebuild(root, host, base_config(pkgs), "switch") == 0
    assert generations.numbers(root) == [1, 2]
    assert (generations.path(root, 2) / "sources.sha256").read_text().strip() == generations.source_hash(root)
    capsys.readouterr()
    assert main(["source-hash"], root=root) == 0
    assert capsys.readouterr().out.strip() == generations.source_hash(root)

    assert rebuild(root, host, dual_config(pkgs), "switch") == 0
    assert generations.current(root) == 3 and host.states["ollama@11434.service"] == "active"
    host.clear()
    assert rebuild(root, host, None, "switch", "--rollback") == 0
    assert generations.current(root) == 2 and generations.numbers(root) == [1, 2, 3]
    assert (root / "run/current-system").readlink() == Path("/nix/var/nix/profiles/system-2-link")
    assert host.index("stop", "ollama@11434.service") < host.index("start", "ollama.service")
    assert (root / "etc/systemd/system/ollama.service").is_file()
    assert not (root / "etc/systemd/system/ollama@11434.service").exists()

    capsys.readouterr()
    assert main(["list-generations", "--json"], root=root) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["generation"], r["current"]) for r in rows] == [(3, False), (2, True), (1, False)]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", rows[0]["date"])
    assert main(["list-generations"], root=root) == 0
    assert re.search(r"^2 current\s", capsys.readouterr().out, re.M)


def test_source_hash_covers_paths_and_contents(root: Path) -> None:
    first = generations.source_hash(root)
    (root / "etc/nixos/hydra-ops/ollama.nix").rename(root / "etc/nixos/hydra-ops/ollama2.nix")
    assert generations.source_hash(root) != first
    (root / "etc/nixos/hydra-ops/ollama2.nix").rename(root / "etc/nixos/hydra-ops/ollama.nix")
    assert generations.source_hash(root) == first


# --- firewall, users, CLI, boot, install -------------------------------------------------------------------------


def test_firewall_rules_text() -> None:
    config = {"networking": {"firewall": {
        "enable": True, "allowedTCPPorts": [11400, 80], "allowedUDPPorts": [53], "allowPing": False,
        "allowedTCPPortRanges": [{"from": 8000, "to": 8010}], "trustedInterfaces": ["wg0"], "rejectPackets": True,
        "interfaces": {"eth1": {"allowedTCPPorts": [9100]}}}},
        "services": {"openssh": {"enable": True, "openFirewall": True, "ports": [2222]}}}
    text = firewall.rules(firewall.settings(config))
    assert text.splitlines() == [
        "*filter", ":nixos-fw - [0:0]",
        "-A nixos-fw -i lo -j ACCEPT", "-A nixos-fw -i wg0 -j ACCEPT",
        "-A nixos-fw -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        "-A nixos-fw -p tcp -m tcp --dport 80 -j ACCEPT", "-A nixos-fw -p tcp -m tcp --dport 2222 -j ACCEPT",
        "-A nixos-fw -p tcp -m tcp --dport 11400 -j ACCEPT", "-A nixos-fw -p tcp -m tcp --dport 8000:8010 -j ACCEPT",
        "-A nixos-fw -p udp -m udp --dport 53 -j ACCEPT", "-A nixos-fw -i eth1 -p tcp -m tcp --dport 9100 -j ACCEPT",
        "-A nixos-fw -p tcp -j REJECT --reject-with tcp-reset",
        "-A nixos-fw -j REJECT --reject-with icmp-port-unreachable", "COMMIT"]
    default = firewall.rules(firewall.settings({}))
    assert "-p icmp -m icmp --icmp-type 8 -j ACCEPT" in default and default.endswith("-A nixos-fw -j DROP\nCOMMIT\n")
    host = FakeHost()
    assert firewall.apply(host, default) == []
    assert host.calls == [["iptables-restore", "-w", "--noflush"], ["iptables", "-w", "-C", "INPUT", "-j", "nixos-fw"],
                          ["iptables", "-w", "-A", "INPUT", "-j", "nixos-fw"]]
    host.clear()
    assert firewall.apply(host, default) == [] and len(host.calls) == 2  # hooked once only
    host.clear()
    assert firewall.apply(host, None) == []  # firewall.enable = false: unhook and drop the chain
    assert host.calls == [["iptables", "-w", "-C", "INPUT", "-j", "nixos-fw"],
                          ["iptables", "-w", "-D", "INPUT", "-j", "nixos-fw"],
                          ["iptables", "-w", "-C", "INPUT", "-j", "nixos-fw"],
                          ["iptables", "-w", "-F", "nixos-fw"], ["iptables", "-w", "-X", "nixos-fw"]]


def test_users_plan_creates_and_updates(root: Path) -> None:
    (root / "etc/passwd").write_text((root / "etc/passwd").read_text() + "ollama:x:999:999::/home/ollama:/bin/sh\n")
    (root / "etc/group").write_text((root / "etc/group").read_text() + "ollama:x:999:\n")
    cmds = users_plan(root, {"ollama": {"isSystemUser": True, "group": "ollama", "extraGroups": ["video", "render"],
                                        "home": "/var/lib/ollama", "shell": None},
                             "alice": {"isNormalUser": True, "extraGroups": ["wheel"], "uid": 1000}},
                      {"ollama": {"gid": None}})
    assert cmds == [["groupadd", "-r", "users"], ["groupadd", "-r", "wheel"],
                    ["useradd", "-u", "1000", "-g", "users", "-G", "wheel", "-d", "/home/alice", "-m", "-s",
                     "/bin/bash", "alice"],
                    ["groupadd", "-r", "render"],
                    ["usermod", "-a", "-G", "video,render", "-d", "/var/lib/ollama", "-s", "/usr/sbin/nologin",
                     "ollama"]]


def test_cli_refuses_unknown_verbs_flags_and_evaluation_errors(root: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["boot"], root=root) == 1
    assert "error: unknown command boot" in capsys.readouterr().err
    assert main(["switch", "--upgrade"], root=root) == 1
    assert "error: unknown option --upgrade" in capsys.readouterr().err
    assert main([], root=root) == 1
    assert main(["--help"], root=root) == 0
    assert "source-hash" in capsys.readouterr().out

    def failing(argv: list[str], input: str | None = None) -> subprocess.CompletedProcess:
        assert argv[:5] == ["nix-instantiate", "--eval", "--strict", "--json", "/lib/eval.nix"]
        assert argv[5:] == ["--arg", "configuration", "/etc/nixos/configuration.nix", "--arg", "pkgsFile", "/p.json"]
        return subprocess.CompletedProcess(argv, 1, "", "error: The option `services.olama' does not exist.\n")

    evaluate = nix_evaluator("/lib", "/p.json", run=failing)
    assert main(["switch"], root=root, run=FakeHost(), evaluate=evaluate) == 1
    err = capsys.readouterr().err
    assert "error: The option `services.olama' does not exist." in err and "error: error:" not in err
    assert generations.numbers(root) == []
    assert main(["dry-build"], root=root, run=FakeHost()) == 1  # no double.json
    assert "error: cannot read /etc/hydra-nixos/double.json" in capsys.readouterr().err


def test_evaluator_command_assertions_and_warnings(root: Path, capsys: pytest.CaptureFixture) -> None:
    lib = root / "lib"
    lib.mkdir()
    (root / "etc/hydra-nixos").mkdir(parents=True, exist_ok=True)
    (root / "etc/hydra-nixos/double.json").write_text(json.dumps({"lib": str(lib), "pkgs": "/etc/hydra-nixos/p.json"}))
    seen: list[list[str]] = []
    answer = {"assertions": [{"assertion": True, "message": "fine"}, {"assertion": False, "message": "no GPU"}],
              "warnings": ["deprecated option"]}

    def nix(argv: list[str], input: str | None = None) -> subprocess.CompletedProcess:
        seen.append(argv)
        return subprocess.CompletedProcess(argv, 0, json.dumps(answer), "")

    assert main(["dry-build", "--show-trace"], root=root, run=nix) == 1
    assert seen[0] == ["nix-instantiate", "--eval", "--strict", "--json", f"{lib}/eval.nix", "--arg", "configuration",
                       f"{root}/etc/nixos/configuration.nix", "--arg", "pkgsFile", "/etc/hydra-nixos/p.json",
                       "--show-trace"]
    err = capsys.readouterr().err
    assert "Failed assertions:\n- no GPU" in err and "- fine" not in err
    answer["assertions"] = []
    assert main(["dry-build"], root=root, run=nix) == 0
    assert "trace: warning: deprecated option" in capsys.readouterr().err


def test_boot_builds_generation_1_without_blocking_then_only_relinks(root: Path, pkgs: dict[str, dict]) -> None:
    host = FakeHost()
    assert rebuild(root, host, dual_config(pkgs), "activate-at-boot") == 0
    assert generations.current(root) == 1
    starts = host.systemctl("start")
    assert starts == [["systemctl", "start", "--no-block", "--", "nginx.service", "ollama@11434.service",
                       "ollama@11435.service"]]
    (root / "run/current-system").unlink()  # /run is a tmpfs
    host.clear()
    assert rebuild(root, host, None, "activate-at-boot") == 0
    assert (root / "run/current-system").readlink() == Path("/nix/var/nix/profiles/system-1-link")
    assert [c[0] for c in host.calls] == ["iptables-restore", "iptables"]
    assert generations.numbers(root) == [1]


def test_install_writes_the_double_wrapper_config_and_boot_unit(tmp_path: Path, pkgs: dict[str, dict]) -> None:
    root = tmp_path / "newhost"
    written = install(root, "/usr/local/lib/hydra-nixos/eval")
    assert "/usr/local/sbin/nixos-rebuild" in written and (root / "etc/NIXOS").exists()
    assert json.loads((root / "etc/hydra-nixos/double.json").read_text()) == {
        "lib": "/usr/local/lib/hydra-nixos/eval", "pkgs": "/etc/hydra-nixos/pkgs.json"}
    unit = parse_unit((root / "etc/systemd/system/nixos-activation.service").read_text())
    assert ("Type", "oneshot") in unit["Service"] and ("RemainAfterExit", "yes") in unit["Service"]
    assert ("Before", "multi-user.target") in unit["Unit"] and ("After", "local-fs.target") in unit["Unit"]
    link = root / "etc/systemd/system/multi-user.target.wants/nixos-activation.service"
    assert str(link.readlink()) == "/etc/systemd/system/nixos-activation.service"
    wrapper = root / "usr/local/sbin/nixos-rebuild"
    assert wrapper.stat().st_mode & 0o111
    # the installed copy runs stand-alone with the system python (stdlib only)
    copy_dir = root / "usr/local/lib/hydra-nixos"
    script = wrapper.read_text().replace("/usr/local/lib/hydra-nixos", str(copy_dir))
    (tmp_path / "wrapper").write_text(script)
    result = subprocess.run(["sh", str(tmp_path / "wrapper"), "--help"], capture_output=True, text=True, check=False,
                            cwd=tmp_path)
    assert result.returncode == 0 and "list-generations" in result.stdout, result.stderr
    bad = subprocess.run(["sh", str(tmp_path / "wrapper"), "frobnicate"], capture_output=True, text=True, check=False,
                         cwd=tmp_path)
    assert bad.returncode == 1 and "error: unknown command frobnicate" in bad.stderr
