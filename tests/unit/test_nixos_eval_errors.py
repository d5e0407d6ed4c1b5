"""The NixOS evaluation stand-in against the real nix-instantiate: its errors read like NixOS's own."""

from __future__ import annotations

from pathlib import Path

import pytest

from devcluster.nixos import NixEvalError, parse
from tests.unit.nixos_eval_helpers import _error, _eval_files, _store


def test_unknown_option_names_option_file_and_suggestion(tmp_path: Path, pkgs_file: Path) -> None:
    msg = _error(
        tmp_path,
        pkgs_file,
        {
            "configuration.nix": "{ imports = [ ./hydra-ops/lb.nix ]; }",
            "hydra-ops/lb.nix": '{ services.nginx.upstream.ollama.extraConfig = "least_conn;"; }',
        },
    )
    assert msg.startswith(
        f"The option `services.nginx.upstream' does not exist. Definition values:\n- In `{tmp_path}/hydra-ops/lb.nix'"
    )
    assert "Did you mean `services.nginx.upstreams'?" in msg


def test_unknown_option_inside_submodule(tmp_path: Path, pkgs_file: Path) -> None:
    msg = _error(tmp_path, pkgs_file, {"configuration.nix": '{ systemd.services.x.serviceconfig.Type = "simple"; }'})
    assert "The option `systemd.services.x.serviceconfig' does not exist." in msg
    assert "Did you mean `systemd.services.x.serviceConfig'?" in msg


def test_wrong_type(tmp_path: Path, pkgs_file: Path) -> None:
    msg = _error(tmp_path, pkgs_file, {"configuration.nix": '{ systemd.services.x.startLimitBurst = "5"; }'})
    assert msg.startswith(
        "A definition for option `systemd.services.x.startLimitBurst' is not of type `signed integer'. "
        f'Definition values:\n- In `{tmp_path}/configuration.nix\': "5"'
    )


def test_conflicting_strings(tmp_path: Path, pkgs_file: Path) -> None:
    msg = _error(
        tmp_path,
        pkgs_file,
        {
            "configuration.nix": '{ imports = [ ./other.nix ]; services.ollama.host = "0.0.0.0"; }',
            "other.nix": '{ services.ollama.host = "127.0.0.1"; }',
        },
    )
    assert msg.startswith("The option `services.ollama.host' has conflicting definition values:")
    assert f'- In `{tmp_path}/configuration.nix\': "0.0.0.0"' in msg
    assert f'- In `{tmp_path}/other.nix\': "127.0.0.1"' in msg


def test_used_but_not_defined(tmp_path: Path, pkgs_file: Path) -> None:
    msg = _error(
        tmp_path,
        pkgs_file,
        {
            "configuration.nix": "{ config, ... }: { networking.hostName = config.nixpkgs.hostPlatform; }",
        },
    )
    assert msg.startswith("The option `nixpkgs.hostPlatform' is used but not defined.")


def test_missing_package_attribute(tmp_path: Path, pkgs_file: Path) -> None:
    msg = _error(
        tmp_path,
        pkgs_file,
        {
            "configuration.nix": "{ pkgs, ... }: { environment.systemPackages = [ pkgs.tabbyapi ]; }",
        },
    )
    assert "attribute 'tabbyapi' missing" in msg


def test_parse_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.nix"
    bad.write_text("{ services.ollama.enable = true ")
    with pytest.raises(NixEvalError, match="syntax error"):
        parse(bad)


def test_enum_and_port_errors(tmp_path: Path, pkgs_file: Path) -> None:
    msg = _error(tmp_path, pkgs_file, {"configuration.nix": '{ services.ollama.acceleration = "opencl"; }'})
    assert msg.startswith(
        "A definition for option `services.ollama.acceleration' is not of type "
        '`null or one of false, "rocm", "cuda", "vulkan"\'.'
    )
    msg = _error(tmp_path, pkgs_file, {"configuration.nix": "{ services.ollama.port = 70000; }"})
    assert "is not of type `16 bit unsigned integer; between 0 and 65535 (both inclusive)'" in msg


def test_conflicting_ints_and_mkif_condition(tmp_path: Path, pkgs_file: Path) -> None:
    msg = _error(
        tmp_path,
        pkgs_file,
        {
            "configuration.nix": "{ imports = [ ./a.nix ]; systemd.services.t.startLimitBurst = 5; }",
            "a.nix": "{ systemd.services.t.startLimitBurst = 3; }",
        },
    )
    assert msg.startswith("The option `systemd.services.t.startLimitBurst' has conflicting definition values:")
    msg = _error(tmp_path, pkgs_file, {"configuration.nix": '{ lib, ... }: { time.timeZone = lib.mkIf "yes" "UTC"; }'})
    assert msg.startswith("The option `time.timeZone' (in `") and "mkIf with a non-Boolean condition" in msg


def test_unknown_option_in_list_submodule_and_top_level(tmp_path: Path, pkgs_file: Path) -> None:
    msg = _error(
        tmp_path,
        pkgs_file,
        {"configuration.nix": '{ services.nginx.virtualHosts.x.listen = [ { adr = "0.0.0.0"; } ]; }'},
    )
    assert 'The option `services.nginx.virtualHosts.x.listen."[definition 1-entry 1]".adr\' does not exist.' in msg
    assert 'Did you mean `services.nginx.virtualHosts.x.listen."[definition 1-entry 1]".addr\'?' in msg
    msg = _error(tmp_path, pkgs_file, {"configuration.nix": "{ service.ollama.enable = true; }"})
    assert msg.startswith("The option `service' does not exist.")
    assert "Did you mean `services'?" in msg


def test_service_config_values_checked(tmp_path: Path, pkgs_file: Path) -> None:
    msg = _error(
        tmp_path, pkgs_file, {"configuration.nix": '{ systemd.services.x.serviceConfig.Restart = "on-fail"; }'}
    )
    assert msg.startswith(
        "A definition for option `systemd.services.x.serviceConfig' is not of type `attribute set of systemd option'."
    )
    assert "The systemd Service field `Restart' cannot have value `on-fail'." in msg


def test_unit_lists_concatenate_and_scalars_must_agree(tmp_path: Path, pkgs_file: Path) -> None:
    files = {
        "configuration.nix": "{ imports = [ ./a.nix ]; systemd.services.x.serviceConfig = "
        '{ Environment = [ "A=1" ]; ExecStartPre = "/bin/true"; }; }',
        "a.nix": '{ systemd.services.x.serviceConfig = { Environment = "B=2"; ExecStartPre = "/bin/true"; }; }',
    }
    config = _eval_files(tmp_path, pkgs_file, files)["systemd"]["services"]["x"]["serviceConfig"]
    assert sorted(config["Environment"]) == ["A=1", "B=2"]
    assert config["ExecStartPre"] == "/bin/true"
    files["a.nix"] = '{ systemd.services.x.serviceConfig.ExecStartPre = "/bin/false"; }'
    msg = _error(tmp_path, pkgs_file, files)
    assert msg.startswith(
        "The option `systemd.services.x.serviceConfig.ExecStartPre' has conflicting definition values:"
    )


def test_package_option_is_unique(tmp_path: Path, pkgs_file: Path) -> None:
    files = {
        "configuration.nix": "{ pkgs, ... }: { imports = [ ./a.nix ]; services.nginx.package = pkgs.nginx; }",
        "a.nix": "{ pkgs, ... }: { services.nginx.package = pkgs.nginx; }",
    }
    msg = _error(tmp_path, pkgs_file, files)
    assert msg.startswith(
        "The option `services.nginx.package' is defined multiple times while it's expected to be unique."
    )
    files["a.nix"] = "{ pkgs, lib, ... }: { services.nginx.package = lib.mkForce pkgs.bash; }"
    assert _eval_files(tmp_path, pkgs_file, files)["services"]["nginx"]["package"] == _store("bash")
