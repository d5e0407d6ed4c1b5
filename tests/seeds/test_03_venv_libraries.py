"""A venv on NixOS-shaped hydra-ai: a unit the nixos-rebuild double realises cannot load libstdc++.so.6 unless its
LD_LIBRARY_PATH provides it (`lib.makeLibraryPath [ pkgs.stdenv.cc.cc.lib pkgs.zlib ]`), as on NixOS, where
only /run/opengl-driver/lib, the driver's libraries, would not do."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from devcluster.local.cluster import Cluster
from tests.seeds.conftest import AI

#: Two units loading what pip's wheels link, by soname, as torch's extension modules do: one with the driver's
#: libraries only (before issue 19), one with the library path G10's module sets.
MODULE = r"""{ lib, pkgs, ... }:
let
  check = libraryPath: {
    serviceConfig = { Type = "oneshot"; User = "nobody"; ExecStart = "${pkgs.python3}/bin/python3 -c "
      + "\"import ctypes; ctypes.CDLL('libstdc++.so.6'); ctypes.CDLL('libz.so.1')\""; };
    environment.LD_LIBRARY_PATH = libraryPath;
  };
in {
  systemd.services.hydra-libcheck-driver = check "/run/opengl-driver/lib";
  systemd.services.hydra-libcheck-wheels =
    check "${lib.makeLibraryPath [ pkgs.stdenv.cc.cc.lib pkgs.zlib ]}:/run/opengl-driver/lib";
}
"""
#: Evaluate and build that configuration with the double's own code (no switch: the host's generation stays).
REALISE = r"""
import json, sys, tempfile
from pathlib import Path
sys.path.insert(0, "/usr/local/lib/hydra-nixos")
from hydra_nixos_rebuild import realise
from hydra_nixos_rebuild.nixos_rebuild import load_double_config, nix_evaluator, run_command
cfg = load_double_config(Path("/"))
config = nix_evaluator(cfg["lib"], cfg["pkgs"], configuration=sys.argv[1])()
with tempfile.TemporaryDirectory() as gen:
    realise.build(Path("/"), Path(gen), config, "libcheck", run_command)
    print(json.dumps(realise.generation_units(Path(gen))))
"""
UNITS = ("hydra-libcheck-driver.service", "hydra-libcheck-wheels.service")


@pytest.fixture
def realised(seeds: Cluster) -> Iterator[dict[str, str]]:
    """The two units as the double realises them, installed as runtime units (removed afterwards)."""
    seeds.ssh(AI, "mkdir -p /run/hydra-libcheck && cat > /run/hydra-libcheck/configuration.nix", input=MODULE)
    seeds.ssh(AI, "cat > /run/hydra-libcheck/realise.py", input=REALISE)
    units = json.loads(seeds.ssh(AI, "python3 /run/hydra-libcheck/realise.py /run/hydra-libcheck/configuration.nix",
                                 timeout=180).stdout)
    try:
        for name in UNITS:
            seeds.ssh(AI, f"cat > /run/systemd/system/{name}", input=units[name])
        seeds.ssh(AI, "systemctl daemon-reload")
        yield units
    finally:
        seeds.ssh(AI, f"systemctl reset-failed {' '.join(UNITS)}; rm -rf /run/hydra-libcheck "
                  + " ".join(f"/run/systemd/system/{n}" for n in UNITS) + "; systemctl daemon-reload", check=False)


def test_a_unit_without_the_wheels_libraries_fails_as_on_nixos(seeds: Cluster, realised: dict[str, str]) -> None:
    for text in realised.values():
        assert "InaccessiblePaths=-/usr/lib/x86_64-linux-gnu/libstdc++.so.6" in text  # NixOS has no /usr/lib
    driver = seeds.ssh(AI, f"systemctl start {UNITS[0]}", check=False)
    assert driver.returncode != 0
    log = seeds.ssh(AI, f"journalctl -u {UNITS[0]} -o cat --no-pager").stdout
    assert "libstdc++.so.6: cannot open shared object file: No such file or directory" in log
    wheels = seeds.ssh(AI, f"systemctl start {UNITS[1]}", check=False)
    assert wheels.returncode == 0, seeds.ssh(AI, f"journalctl -u {UNITS[1]} -o cat --no-pager").stdout
