"""The NixOS evaluation stand-in (devcluster/nixos) against the real nix-instantiate: merging and defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from devcluster.nixos import evaluate, evaluate_module_text, parse
from tests.unit.nixos_eval_helpers import BEFORE, PKGS, _eval_files, _store


@pytest.mark.parametrize("host", ["compute", "ai"])
def test_before_configurations_parse_and_evaluate(host: str, pkgs_file: Path) -> None:
    config = BEFORE / host / "configuration.nix"
    parse(config)
    parse(BEFORE / host / "hardware-configuration.nix")
    out = evaluate(config, pkgs_file)
    assert out["networking"]["hostName"] == f"hydra-{host}"
    ollama = out["services"]["ollama"]
    assert ollama["enable"] is True
    assert (ollama["host"], ollama["port"], ollama["acceleration"]) == ("0.0.0.0", 11434, "cuda")
    assert ollama["environmentVariables"] == {"CUDA_VISIBLE_DEVICES": "0", "OLLAMA_FLASH_ATTENTION": "1"}
    assert ollama["package"] == _store("ollama")
    assert out["networking"]["firewall"]["allowedTCPPorts"] == ([22, 5000, 11434] if host == "ai" else [22, 11434])
    assert out["system"]["stateVersion"] == "24.11"
    user = out["users"]["users"]["typhon"]
    assert user["isNormalUser"] is True and user["extraGroups"] == ["wheel", "video"]
    assert (user["home"], user["group"], user["createHome"]) == ("/home/typhon", "users", True)
    assert out["fileSystems"]["/"]["fsType"] == "ext4"
    assert ("/mnt/models" in out["fileSystems"]) == (host == "ai")
    assert out["hardware"]["enableRedistributableFirmware"] is True  # from the modulesPath stub
    assert out["hardware"]["cpu"]["amd"]["updateMicrocode"] is True
    assert out["services"]["openssh"]["enable"] is True
    assert ("tabbyapi" in out["systemd"]["services"]) == (host == "ai")  # seed 002: the operator's own unit
    assert _store("curl") in out["environment"]["systemPackages"]


def test_before_configuration_imports_list_is_marked() -> None:
    text = (BEFORE / "compute" / "configuration.nix").read_text()
    assert "  imports = [ ./hardware-configuration.nix ];\n" in text


def test_empty_configuration(tmp_path: Path) -> None:
    out = evaluate_module_text("{ }", PKGS, tmp_path)
    assert out["networking"]["firewall"]["enable"] is True
    assert out["services"]["ollama"]["port"] == 11434
    assert out["systemd"]["services"] == {}
    assert "hostPlatform" not in out["nixpkgs"]  # no default, no definition: left out


def test_mkforce_beats_plain_definition(tmp_path: Path, pkgs_file: Path) -> None:
    out = _eval_files(
        tmp_path,
        pkgs_file,
        {
            "configuration.nix": "{ imports = [ ./off.nix ]; services.ollama.enable = true; }",
            "off.nix": "{ lib, ... }: { services.ollama.enable = lib.mkForce false; }",
        },
    )
    assert out["services"]["ollama"]["enable"] is False


def test_mkdefault_loses_to_plain_definition(tmp_path: Path, pkgs_file: Path) -> None:
    out = _eval_files(
        tmp_path,
        pkgs_file,
        {
            "configuration.nix": '{ lib, ... }: { imports = [ ./a.nix ]; services.ollama.host = lib.mkDefault "::"; }',
            "a.nix": '{ services.ollama.host = "0.0.0.0"; }',
        },
    )
    assert out["services"]["ollama"]["host"] == "0.0.0.0"


def test_lists_concatenate_and_order(tmp_path: Path, pkgs_file: Path) -> None:
    out = _eval_files(
        tmp_path,
        pkgs_file,
        {
            "configuration.nix": "{ lib, ... }: { imports = [ ./a.nix ]; networking.firewall.allowedTCPPorts = [ 22 ];"
            ' systemd.tmpfiles.rules = lib.mkBefore [ "d /first" ]; }',
            "a.nix": '{ networking.firewall.allowedTCPPorts = [ 11400 ]; systemd.tmpfiles.rules = [ "d /second" ]; }',
        },
    )
    assert sorted(out["networking"]["firewall"]["allowedTCPPorts"]) == [22, 11400]
    assert out["systemd"]["tmpfiles"]["rules"] == ["d /first", "d /second"]


def test_submodules_merge_across_modules_with_defaults(tmp_path: Path, pkgs_file: Path) -> None:
    out = _eval_files(
        tmp_path,
        pkgs_file,
        {
            "configuration.nix": '{ pkgs, ... }: { imports = [ ./b.nix ]; systemd.services.x = { after = [ "a" ];'
            ' serviceConfig.ExecStart = "${pkgs.ollama}/bin/ollama serve"; }; }',
            "b.nix": '{ systemd.services.x = { after = [ "b" ];'
            ' serviceConfig = { Restart = "always"; RestartSec = 30; };'
            ' environment.OLLAMA_HOST = "0.0.0.0:11434"; }; }',
        },
    )
    unit = out["systemd"]["services"]["x"]
    assert unit["serviceConfig"] == {
        "ExecStart": f"{_store('ollama')}/bin/ollama serve",
        "Restart": "always",
        "RestartSec": 30,
    }
    assert sorted(unit["after"]) == ["a", "b"]
    assert unit["environment"] == {"OLLAMA_HOST": "0.0.0.0:11434"}
    assert (unit["restartIfChanged"], unit["enable"], unit["wantedBy"], unit["script"]) == (True, True, [], "")
    assert "startLimitBurst" not in unit
    assert out["networking"]["firewall"]["enable"] is True


def test_mkif_and_mkmerge(tmp_path: Path, pkgs_file: Path) -> None:
    out = _eval_files(
        tmp_path,
        pkgs_file,
        {
            "configuration.nix": "{ config, lib, ... }: { config = lib.mkMerge [\n"
            "  { services.ollama.enable = true; }\n"
            "  (lib.mkIf config.services.ollama.enable { networking.firewall.allowedTCPPorts = [ 11434 ]; })\n"
            "  (lib.mkIf false { networking.firewall.allowedTCPPorts = [ 1 ]; })\n];\n}",
        },
    )
    assert out["networking"]["firewall"]["allowedTCPPorts"] == [11434]


def test_nginx_upstreams_and_vhosts(tmp_path: Path, pkgs_file: Path) -> None:
    out = _eval_files(
        tmp_path,
        pkgs_file,
        {
            "configuration.nix": """{ ... }: {
  services.nginx = {
    enable = true;
    upstreams.ollama = { servers = { "127.0.0.1:11434" = { }; "127.0.0.1:11435" = { max_fails = 3; }; };
                         extraConfig = "least_conn;"; };
    virtualHosts."ollama-lb" = {
      listen = [ { addr = "0.0.0.0"; port = 11400; } ];
      locations."/" = { proxyPass = "http://ollama"; extraConfig = "proxy_buffering off;"; };
    };
  };
}""",
        },
    )
    nginx = out["services"]["nginx"]
    assert nginx["package"] == _store("nginx")
    assert nginx["upstreams"]["ollama"]["servers"]["127.0.0.1:11435"] == {"backup": False, "max_fails": 3}
    vhost = nginx["virtualHosts"]["ollama-lb"]
    assert vhost["listen"] == [
        {"addr": "0.0.0.0", "port": 11400, "ssl": False, "proxyProtocol": False, "extraParameters": []}
    ]
    assert vhost["locations"]["/"]["proxyPass"] == "http://ollama"
    assert vhost["locations"]["/"]["priority"] == 1000


def test_lines_join_with_newlines(tmp_path: Path, pkgs_file: Path) -> None:
    out = _eval_files(
        tmp_path,
        pkgs_file,
        {
            "configuration.nix": '{ imports = [ ./a.nix ]; systemd.services.x.preStart = "echo one"; }',
            "a.nix": '{ systemd.services.x.preStart = "echo two"; }',
        },
    )
    assert sorted(out["systemd"]["services"]["x"]["preStart"].split("\n")) == ["echo one", "echo two"]


def test_package_interpolation_and_default_port(tmp_path: Path, pkgs_file: Path) -> None:
    out = _eval_files(
        tmp_path,
        pkgs_file,
        {
            "configuration.nix": "{ pkgs, lib, ... }: {"
            ' systemd.services.o.serviceConfig.ExecStart = "${pkgs.ollama}/bin/ollama";'
            " systemd.services.o.path = [ pkgs.coreutils ]; environment.variables.X = lib.getExe pkgs.curl; }",
        },
    )
    assert out["systemd"]["services"]["o"]["serviceConfig"]["ExecStart"] == f"{_store('ollama')}/bin/ollama"
    assert out["systemd"]["services"]["o"]["path"] == [_store("coreutils")]
    assert out["environment"]["variables"]["X"] == f"{_store('curl')}/bin/curl"
    assert out["services"]["ollama"]["port"] == 11434


def test_directory_import_and_own_options(tmp_path: Path, pkgs_file: Path) -> None:
    """The deploy's shape: configuration.nix imports ./hydra-ops (a directory) whose modules declare options."""
    out = _eval_files(
        tmp_path,
        pkgs_file,
        {
            "configuration.nix": "{ imports = [ ./hydra-ops ]; hydra.ollama.ports = [ 11434 11435 ]; }",
            "hydra-ops/default.nix": "{ imports = [ ./ollama.nix ]; }",
            "hydra-ops/ollama.nix": """{ config, lib, pkgs, options, ... }:
let cfg = config.hydra.ollama; in {
  options.hydra.ollama.ports = lib.mkOption { type = lib.types.listOf lib.types.port; default = [ ]; };
  config = lib.mkIf (cfg.ports != [ ]) {
    services.ollama.enable = lib.mkForce false;
    systemd.services = lib.listToAttrs (map (port: lib.nameValuePair "ollama@${toString port}" {
      wantedBy = [ "multi-user.target" ];
      environment.OLLAMA_HOST = "0.0.0.0:${toString port}";
      serviceConfig.ExecStart = "${lib.getExe pkgs.ollama} serve";
    }) cfg.ports);
    networking.firewall.allowedTCPPorts = cfg.ports;
    environment.etc."hydra/declared".text = lib.boolToString options.hydra.ollama.ports.isDefined;
  };
}""",
        },
    )
    services = out["systemd"]["services"]
    assert sorted(services) == ["ollama@11434", "ollama@11435"]
    assert services["ollama@11435"]["environment"] == {"OLLAMA_HOST": "0.0.0.0:11435"}
    assert services["ollama@11434"]["serviceConfig"]["ExecStart"] == f"{_store('ollama')}/bin/ollama serve"
    assert out["hydra"]["ollama"]["ports"] == [11434, 11435]
    assert out["environment"]["etc"]["hydra/declared"]["text"] == "true"
    assert out["services"]["ollama"]["enable"] is False


def test_paths_with_spaces(tmp_path: Path) -> None:
    out = evaluate_module_text('{ networking.hostName = "spaced"; }', PKGS, tmp_path / "a dir ${x}")
    assert out["networking"]["hostName"] == "spaced"


def test_users_and_groups_defaults(tmp_path: Path, pkgs_file: Path) -> None:
    out = _eval_files(
        tmp_path,
        pkgs_file,
        {
            "configuration.nix": '{ users.users.ollama = { isSystemUser = true; group = "ollama"; };'
            " users.groups.ollama = { }; }",
        },
    )
    user = out["users"]["users"]["ollama"]
    assert (user["name"], user["home"], user["createHome"], user["uid"]) == ("ollama", "/var/empty", False, None)
    assert out["users"]["groups"]["ollama"] == {"name": "ollama", "gid": None, "members": []}


def test_module_extends_a_submodule_option(tmp_path: Path, pkgs_file: Path) -> None:
    """Declaring systemd.services again with extra sub-options joins the submodules, as NixOS does."""
    out = _eval_files(
        tmp_path,
        pkgs_file,
        {
            "configuration.nix": """{ lib, ... }: {
  options.systemd.services = lib.mkOption {
    type = lib.types.attrsOf (lib.types.submodule ({ name, ... }: {
      options.hydra.gpu = lib.mkOption { type = lib.types.nullOr lib.types.int; default = null; };
    }));
  };
  config.systemd.services."ollama@0" = { hydra.gpu = 0; description = "instance"; };
}""",
        },
    )
    unit = out["systemd"]["services"]["ollama@0"]
    assert (unit["hydra"], unit["description"], unit["restartIfChanged"]) == ({"gpu": 0}, "instance", True)
