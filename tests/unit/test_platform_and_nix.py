"""Platform detection and preflight, the Nix serialiser, and the configuration.nix import edit (no hosts)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from hydra_ops import nix
from hydra_ops.facts.platform import classify
from hydra_ops.operations.nixos import add_import
from hydra_ops.platform import UnsupportedPlatform, check, platform_of


@pytest.mark.parametrize(("lines", "platform"), [
    (["marker=nixos", "ID=nixos"], "nixos"),
    (["ID=nixos"], "nixos"),
    (["marker=unraid", "ID=slackware"], "unraid"),
    (["ID=debian"], "debian"),
    (['ID="ubuntu"', "ID_LIKE=debian"], "debian"),
    (["ID=linuxmint", "ID_LIKE=ubuntu debian"], "debian"),
    (["ID=fedora"], "unknown"),
    ([], "unknown"),
])
def test_platform_is_classified_from_markers_then_os_release(lines: list[str], platform: str) -> None:
    assert classify(lines) == platform


def test_a_pinned_platform_wins_and_a_bad_pin_is_refused() -> None:
    assert platform_of(None, "debian") == "debian"
    assert platform_of("nixos", "debian") == "nixos"
    with pytest.raises(UnsupportedPlatform, match="'solaris' is not one of"):
        platform_of("solaris", "debian")


def test_preflight_names_host_platform_and_every_refusing_bundle() -> None:
    check("hydra-compute", "nixos", ("G1", "G2"))  # supported: no error
    check("hydra-storage", "unraid", ("G3", "G4", "G5", "G7", "G8"))
    with pytest.raises(UnsupportedPlatform) as err:
        check("hydra-storage", "unraid", ("G3", "G1", "G10"))
    text = str(err.value)
    assert "hydra-storage: platform 'unraid' is not supported" in text
    assert "G1 Dual Ollama" in text and "G10" in text and "supports debian, nixos" in text
    assert "G3" not in text
    assert "Nothing was changed on any host" in text
    with pytest.raises(UnsupportedPlatform, match="platform 'unknown'"):
        check("h", "unknown", ("G1",))


HOSTILE = ['a"b', "x${builtins.abort \"boom\"}", "back\\slash", "new\nline", "''${x}''", "tab\there", "é ü 漢",
           "$(id)", "`id`", "{{ x }}"]


@pytest.mark.parametrize("value", HOSTILE)
def test_strings_reach_nix_as_one_literal(value: str, tmp_path: Path) -> None:
    """Whatever a string holds, the real Nix evaluator reads back exactly that string."""
    src = tmp_path / "v.nix"
    src.write_text(nix.expr({"k": value, "l": [value], value: 1}))
    out = subprocess.run(["nix-instantiate", "--eval", "--strict", "--json", str(src)], capture_output=True,
                         text=True, check=True).stdout
    assert json.loads(out) == {"k": value, "l": [value], value: 1}


def test_package_references_interpolate_and_bad_attributes_are_refused(tmp_path: Path) -> None:
    src = tmp_path / "p.nix"
    src.write_text("let pkgs = { ollama-cuda = { outPath = \"/nix/store/x-ollama\"; }; }; in "
                   + nix.expr({"exec": nix.package("ollama-cuda") + "/bin/ollama serve",
                               "pkgs": [nix.pkg_ref("ollama-cuda")]}))
    out = json.loads(subprocess.run(["nix-instantiate", "--eval", "--strict", "--json", str(src)],
                                    capture_output=True, text=True, check=True).stdout)
    assert out["exec"] == "/nix/store/x-ollama/bin/ollama serve"
    for bad in ("a b", "x;y", "${x}", "", "1abc"):
        with pytest.raises(nix.NixError):
            nix.package(bad)
    with pytest.raises(nix.NixError):
        nix.expr("forged \x00pkg:x")


CONFIG = """{ config, pkgs, ... }:
{
  # imports = [ ./old.nix ];  (a comment, not the list)
  imports = [ ./hardware-configuration.nix ];
  networking.hostName = "hydra-compute";
}
"""


def test_the_import_is_added_once_and_kept_idempotent() -> None:
    patched = add_import(CONFIG, "./hydra-ops")
    assert patched is not None and "imports = [ ./hydra-ops ./hardware-configuration.nix ];" in patched
    assert add_import(patched, "./hydra-ops") == patched


@pytest.mark.parametrize("text", [
    "{ ... }: { networking.hostName = \"x\"; }",  # no imports list
    "{ ... }: { imports = [ ./a.nix ]; } // { imports = [ ./b.nix ]; }",  # two lists: ambiguous
    "{ ... }: { imports = map import [ ./a.nix ]; }",  # not a list literal
])
def test_an_import_that_cannot_be_added_safely_is_refused(text: str) -> None:
    assert add_import(text, "./hydra-ops") is None
