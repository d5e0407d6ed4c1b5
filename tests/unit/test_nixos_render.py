"""One desired state, two renderers: the NixOS modules evaluate (real Nix evaluator, option declarations
transcribed from nixpkgs) to the same services the Debian unit files describe."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from hydra_ops import PROJECT_ROOT
from hydra_ops.render import render
from hydra_ops.services import compute
from hydra_ops.services.lb import nixos as lb_nixos
from hydra_ops.services.lb.state import site
from hydra_ops.services.ollama import nixos as ollama_nixos
from hydra_ops.services.ollama.state import env_file, unit_file
from hydra_ops.services.tabbyapi import nixos as tabby_nixos
from hydra_ops.services.tabbyapi.options import roles
from hydra_ops.services.tabbyapi.state import UNIT as TABBY_UNIT
from hydra_ops.services.tabbyapi.state import unit_file as tabby_unit_file
from hydra_ops.systemd_ini import grouped, parse, parse_env
from hydra_ops.targets import load_inventory

LIB = PROJECT_ROOT / "devcluster" / "nixos" / "lib"  # the evaluator the nixos-rebuild double uses
STORE = "/nix/store/0123456789abcdfghijklmnpqrsvwxyz"
PKGS = {attr: {"outPath": f"{STORE}-{attr}-1", "name": f"{attr}-1", "version": "1"}
        for attr in ("ollama-cuda", "ollama", "nginx", "python311", "curl", "iproute2", "procps", "util-linux", "bash",
                     "stdenv.cc.cc.lib", "zlib")}


def evaluate(tmp_path: Path, modules: dict[str, str]) -> dict[str, Any]:
    """Write the modules as /etc/nixos/hydra-ops would hold them and evaluate a configuration importing them."""
    mod_dir = tmp_path / "hydra-ops"
    mod_dir.mkdir()
    (mod_dir / "default.nix").write_text(render("nixos/default.nix.j2"))
    for name, text in modules.items():
        (mod_dir / name).write_text(text)
    (tmp_path / "configuration.nix").write_text("{ ... }: { imports = [ ./hydra-ops ]; }\n")
    (tmp_path / "pkgs.json").write_text(json.dumps(PKGS))
    proc = subprocess.run(["nix-instantiate", "--eval", "--strict", "--json", str(LIB / "eval.nix"),
                           "--arg", "configuration", str(tmp_path / "configuration.nix"),
                           "--arg", "pkgsFile", str(tmp_path / "pkgs.json")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


@pytest.fixture
def data() -> dict[str, dict[str, Any]]:
    inventory, _ = load_inventory(PROJECT_ROOT / "inventory.py")
    ai = {**inventory.get_host("hydra-ai").data.dict(), "tabby_source_sha256": "a" * 64}
    return {"compute": dict(inventory.get_host("hydra-compute").data.dict()), "ai": ai}


def _as_strings(values: dict[str, Any]) -> dict[str, Any]:
    return {k: [str(x) for x in v] if isinstance(v, list) else str(v) for k, v in values.items()}


def assert_same_service(debian_unit: str, env_text: str, nixos: dict[str, Any], exec_start: str) -> None:
    """Every [Service] directive, the environment, ordering, restart limits and wantedBy agree."""
    unit = parse(debian_unit)
    service = grouped([(k, v) for k, v in unit["Service"] if k not in ("Environment", "EnvironmentFile")])
    service["ExecStart"] = exec_start
    assert _as_strings(nixos["serviceConfig"]) == service
    environment = parse_env(env_text)
    for _, value in (kv for kv in unit["Service"] if kv[0] == "Environment"):
        environment.update(dict([value.split("=", 1)]))
    assert {k: v for k, v in nixos["environment"].items() if k in environment} == environment
    head = grouped(unit["Unit"])
    assert nixos["description"] == head["Description"]
    assert nixos["after"] == str(head["After"]).split() and nixos["wants"] == str(head.get("Wants", "")).split()
    for key, option in (("StartLimitBurst", "startLimitBurst"), ("StartLimitIntervalSec", "startLimitIntervalSec")):
        if key in head:
            assert nixos[option] == int(str(head[key]))
    assert nixos["wantedBy"] == [v for k, v in unit["Install"] if k == "WantedBy"]


def test_ollama_instances_are_the_same_service_on_both_platforms(data: dict, tmp_path: Path) -> None:
    cfg = compute(data["compute"]).ollama
    config = evaluate(tmp_path, {"ollama.nix": ollama_nixos.module(cfg)})
    services = config["systemd"]["services"]
    for inst in cfg.instances:
        assert_same_service(unit_file(cfg), env_file(cfg, inst),
                            services[f"ollama@{inst.port}"], f"{STORE}-ollama-cuda-1/bin/ollama serve")
        assert services[f"ollama@{inst.port}"]["environment"]["CUDA_VISIBLE_DEVICES"] == str(inst.gpu)
    assert config["services"]["ollama"]["enable"] is False  # the audit's single instance, off in this generation
    assert services["ollama"]["enable"] is False
    user = config["users"]["users"][cfg.ollama_user]
    assert user["isSystemUser"] and user["group"] == cfg.ollama_user and set(user["extraGroups"]) == {"video", "render"}
    assert f"d {cfg.ollama_models_dir} 0750 ollama ollama -" in config["systemd"]["tmpfiles"]["rules"]
    assert sorted(config["networking"]["firewall"]["allowedTCPPorts"]) == [11434, 11435]


def test_the_lb_is_the_same_nginx_config_on_both_platforms(data: dict, tmp_path: Path) -> None:
    c = compute(data["compute"])
    config_text = site(c.lb, c.ollama.fronts, c.ollama.ollama_bind_address)
    config = evaluate(tmp_path, {"ollama-lb.nix": lb_nixos.module(c.lb, config_text)})
    nginx = config["services"]["nginx"]
    assert nginx["enable"] is True and nginx["enableReload"] is True
    assert nginx["appendHttpConfig"].strip() == config_text.strip()
    assert config["networking"]["firewall"]["allowedTCPPorts"] == [c.lb.lb_port]


def test_tabbyapi_is_the_same_service_on_both_platforms(data: dict, tmp_path: Path) -> None:
    cfg, _ = roles(data["ai"], "hydra-ai")
    lib_dir = "/usr/local/lib/hydra-ops"
    config = evaluate(tmp_path, {"tabbyapi.nix": tabby_nixos.nixos_module([(cfg, TABBY_UNIT)], lib_dir),
                                 "tabbyapi-base.nix": tabby_nixos.nixos_base_module(cfg)})
    service = dict(config["systemd"]["services"]["tabbyapi"])
    # G10 puts its variables in serviceConfig.Environment (after any operator's, so they win): read them back
    service_config = dict(service["serviceConfig"])
    service["environment"] = dict(json.loads(item).split("=", 1) for item in service_config.pop("Environment"))
    service["serviceConfig"] = service_config
    unit = tabby_unit_file(cfg, lib_dir)
    exec_start = next(v for k, v in parse(unit)["Service"] if k == "ExecStart")
    assert_same_service(unit, "", service, exec_start)
    assert service["startLimitBurst"] == 5 and service["startLimitIntervalSec"] == 300  # seed 002
    assert service["unitConfig"]["RequiresMountsFor"] == cfg.tabby_model_dir
    # NixOS-only: the prestart's tools, the libraries pip's wheels link (no /usr/lib there) and the driver's
    assert f"{STORE}-iproute2-1" in service["path"]
    assert service["environment"]["LD_LIBRARY_PATH"] == \
        f"{STORE}-stdenv.cc.cc.lib-1/lib:{STORE}-zlib-1/lib:/run/opengl-driver/lib"
    assert f"{STORE}-python311-1" in config["environment"]["systemPackages"]
    assert config["users"]["users"]["tabby"]["isSystemUser"] is True


def test_a_misspelt_option_fails_like_nixos_rebuild(tmp_path: Path) -> None:
    mod_dir = tmp_path / "hydra-ops"
    mod_dir.mkdir()
    (mod_dir / "default.nix").write_text(render("nixos/default.nix.j2"))
    (mod_dir / "lb.nix").write_text("{ ... }: { services.nginx.upstream.x = { }; }\n")
    (tmp_path / "configuration.nix").write_text("{ ... }: { imports = [ ./hydra-ops ]; }\n")
    (tmp_path / "pkgs.json").write_text(json.dumps(PKGS))
    proc = subprocess.run(["nix-instantiate", "--eval", "--strict", "--json", str(LIB / "eval.nix"),
                           "--arg", "configuration", str(tmp_path / "configuration.nix"),
                           "--arg", "pkgsFile", str(tmp_path / "pkgs.json")], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "The option `services.nginx.upstream' does not exist" in proc.stderr
    assert "services.nginx.upstreams" in proc.stderr  # the "did you mean" hint
