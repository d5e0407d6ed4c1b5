"""Unit-test fixtures: hydra-compute's production group data, the nixos-rebuild double's root and store, pkgs.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devcluster.nixos.rebuild import make_store
from hydra_ops import PROJECT_ROOT
from hydra_ops.targets import load_inventory
from tests.unit.nixos_eval_helpers import PKGS
from tests.unit.nixos_rebuild_helpers import NGINX


@pytest.fixture
def compute_data() -> dict[str, Any]:
    """hydra-compute's data from the real inventory + group_data (no connection is made)."""
    inventory, _ = load_inventory(PROJECT_ROOT / "inventory.py")
    return dict(inventory.get_host("hydra-compute").data.dict())


# -- the nixos-rebuild double's tests (test_nixos_rebuild_*.py) ---------------------------------------------------
@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A temporary host root: /etc/nixos with one hydra-ops module, passwd and group."""
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
    """The double's store in that root: ollama, the real Debian nginx, curl."""
    return make_store(root, {"ollama": {"version": "0.8.0", "bin": {"ollama": "/usr/bin/true"}},
                             "nginx": {"version": "1.22.1", "bin": {"nginx": NGINX}},
                             "curl": {"version": "8.1.2", "bin": {"curl": "/usr/bin/curl"}}})


# -- the NixOS evaluation tests (test_nixos_eval*.py) ------------------------------------------------------------
@pytest.fixture
def pkgs_file(tmp_path: Path) -> Path:
    """The evaluation tests' pkgs.json (fake store paths)."""
    path = tmp_path / "pkgs.json"
    path.write_text(json.dumps(PKGS))
    return path

