"""The nixos-rebuild double (devcluster/nixos/rebuild): its store, unit rendering and nginx checks."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from devcluster.nixos.rebuild import firewall, generations, make_store, modules, nginx, realise
from devcluster.nixos.rebuild.nixos_rebuild import run_command
from devcluster.nixos.rebuild.store import STORE, store_hash
from devcluster.nixos.rebuild.units import DEFAULT_PATH, parse_unit, render_service
from tests.unit.nixos_rebuild_helpers import FakeHost, base_config, derivation, dual_config, instance, rebuild

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


def test_dry_build_builds_nothing_build_checks_and_leaves_result(root: Path, pkgs: dict[str, dict], tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture) -> None:
    host = FakeHost()
    config = dual_config(pkgs)
    config["services"]["nginx"]["appendHttpConfig"] += "\nproxy_pass_nope on;\n"
    # dry-build only evaluates and lists: the broken nginx.conf is not checked there (nixos-rebuild runs no builder)
    assert rebuild(root, host, config, "dry-build") == 0
    err = capsys.readouterr().err
    assert "etc/nginx/nginx.conf" in err and "etc/systemd/system/ollama@11435.service" in err
    assert not [c for c in host.calls if Path(c[0]).name == "nginx" or c[0] == "systemctl"]
    assert not (root / "etc/systemd/system").exists() and generations.numbers(root) == []
    # build runs the check and fails; switch too, and neither leaves a generation, a profile or ./result
    result = tmp_path / "result"
    assert rebuild(root, host, config, "build", out_link=result) == 1
    err = capsys.readouterr().err
    assert "error: nginx.conf failed its check" in err and "proxy_pass_nope" in err
    assert rebuild(root, host, config, "switch") == 1
    assert generations.numbers(root) == [] and generations.current(root) is None
    assert not result.is_symlink() and not (root / "run/current-system").is_symlink()
    assert not list(generations.profiles(root).glob(".system-building-*"))
    # a good config builds: ./result names the system in the store; still no generation, nothing activated
    host.clear()
    assert rebuild(root, host, dual_config(pkgs), "build", out_link=result) == 0
    built = root / str(result.readlink()).lstrip("/")
    assert str(result.readlink()).startswith(f"{STORE}/")
    assert result.readlink().name.endswith("-nixos-system-hydra-compute")
    assert json.loads((built / "config.json").read_text()) == dual_config(pkgs)
    assert (built / "etc/nginx/nginx.conf").is_file()
    assert (built / "bin/switch-to-configuration").stat().st_mode & 0o111
    assert [Path(c[0]).name for c in host.calls] == ["nginx"]  # the check ran; no systemctl, no useradd
    assert generations.numbers(root) == [] and generations.current(root) is None


def test_a_failing_derivation_fails_build_and_switch_never_dry_build(root: Path, pkgs: dict[str, dict],
                                                                     tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture) -> None:
    host = FakeHost()
    assert rebuild(root, host, base_config(pkgs), "switch") == 0
    broken = derivation("broken-check", "echo checking the config; exit 3")
    config = base_config(pkgs)
    config["_derivations"] = [broken]
    config["environment"]["systemPackages"].append(broken["out"])
    capsys.readouterr()
    assert rebuild(root, host, config, "dry-build") == 0
    err = capsys.readouterr().err
    assert f"these 1 derivations will be built:\n  {broken['drvPath']}" in err
    assert rebuild(root, host, config, "build", out_link=tmp_path / "result") == 1
    err = capsys.readouterr().err
    assert f"error: builder for '{broken['drvPath']}' failed with exit code 3;" in err
    assert "> checking the config" in err
    host.clear()
    assert rebuild(root, host, config, "switch") == 1
    assert f"builder for '{broken['drvPath']}' failed" in capsys.readouterr().err
    assert generations.numbers(root) == [1] and generations.current(root) == 1
    assert (root / "run/current-system").readlink() == Path("/nix/var/nix/profiles/system-1-link")
    assert not (root / broken["out"].lstrip("/")).exists() and not host.systemctl("start")
    # exit 0 without creating $out is a failure too; a builder that makes $out gives a package on the system path
    config["_derivations"] = [derivation("no-out", "true")]
    assert rebuild(root, host, config, "switch") == 1
    assert "failed to produce output path for output 'out'" in capsys.readouterr().err
    good = derivation("hello", "mkdir -p $out/bin; printf '#!/bin/sh\\necho hi\\n' > $out/bin/hello")
    config["_derivations"] = [good]
    config["environment"]["systemPackages"][-1] = good["out"]
    assert rebuild(root, host, config, "switch") == 0
    assert (root / good["out"].lstrip("/") / "bin/hello").read_text() == "#!/bin/sh\necho hi\n"
    assert str((generations.path(root, 2) / "sw/bin/hello").readlink()) == f"{good['out']}/bin/hello"
