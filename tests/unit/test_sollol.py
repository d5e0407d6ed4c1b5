"""SOLLOL cluster options and files: placement against capacity, routing modes, the gateway's settings and the
split between the knobs SOLLOL reads and the application's environment file."""

from __future__ import annotations

import json
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from hydra_ops import PROJECT_ROOT
from hydra_ops.services.sollol import sollol
from hydra_ops.services.sollol.options import SollolOptions
from hydra_ops.services.sollol.state import app_env, gateway_config, gateway_env, unit_file
from hydra_ops.settings import load
from hydra_ops.validation import ValidationError

NODES = {"sollol-1": ("10.0.0.10", 11434), "sollol-2": ("10.0.0.11", 11434)}
LAUNCHER = PROJECT_ROOT / "hydra_ops" / "stack_files" / "sollol_gateway.py"


def test_seed_defaults_place_the_70b_model_on_node_2_only() -> None:
    o = load(SollolOptions, {}, "sollol-1")
    assert o.placement()["llama3.1:70b"] == ["sollol-2"]
    assert "llama3.1:70b" not in o.models_on("sollol-1") and "qwen3:1.7b" in o.models_on("sollol-1")
    assert o.sollol_routing_mode == "async" and o.sollol_min_vram_mb == 100


def test_a_model_larger_than_its_node_is_refused() -> None:
    tiers = {"general": [{"model": "llama3.1:70b", "size_b": 70.0, "nodes": ["sollol-1"]}]}
    with pytest.raises(ValidationError) as exc:
        load(SollolOptions, {"sollol_model_tiers": tiers}, "sollol-1")
    assert "llama3.1:70b (70B) is placed on sollol-1, which holds at most 34B" in str(exc.value)


def test_a_routing_mode_sollol_does_not_have_is_refused() -> None:
    with pytest.raises(ValidationError) as exc:
        load(SollolOptions, {"sollol_routing_mode": "turbo"}, "sollol-1")
    assert "sollol_routing_mode: 'turbo' is not a routing mode SOLLOL has" in str(exc.value)


@pytest.mark.parametrize("data, words", [
    ({"sollol_model_tiers": {"code": [{"model": "x:1b", "size_b": 1.0, "nodes": ["ghost"]}]}},
     "placed on ghost, which is not in sollol_nodes"),
    ({"sollol_gateway_host": "elsewhere"}, "sollol_gateway_host 'elsewhere' is not in sollol_nodes"),
    ({"sollol_port": 8080}, "sollol_port and sollol_dashboard_port are the same port"),
    ({"sollol_app_env": {"HYDRA_X": "a b"}}, "'HYDRA_X': not an environment variable name, or a value"),
    ({"sollol_nodes": {"sollol-1": {"capacity_b": -1.0}}}, "capacity_b"),
    ({"sollol_routing_modes": "fast"}, "did you mean sollol_routing_mode?"),
])
def test_bad_group_data_is_refused(data: dict, words: str) -> None:
    with pytest.raises(ValidationError) as exc:
        load(SollolOptions, data, "sollol-1")
    assert words in str(exc.value)


def test_nodes_must_match_the_inventory() -> None:
    with pytest.raises(ValidationError) as exc:
        sollol({}, "sollol-1", {"sollol-1": NODES["sollol-1"], "sollol-3": ("10.0.0.12", 11434)})
    text = str(exc.value)
    assert "sollol_nodes: sollol-2 is not a host of group sollol" in text
    assert "inventory host sollol-3 (group sollol) has no entry in sollol_nodes" in text


def test_gateway_config_lists_nodes_and_placement_by_address() -> None:
    doc = json.loads(gateway_config(load(SollolOptions, {"sollol_routing_mode": "fast"}, "sollol-1"), NODES))
    assert doc["nodes"] == [{"name": "sollol-1", "host": "10.0.0.10", "port": 11434},
                            {"name": "sollol-2", "host": "10.0.0.11", "port": 11434}]
    assert doc["placement"]["llama3.1:70b"] == ["10.0.0.11:11434"]
    assert doc["placement"]["llama3.2:3b"] == ["10.0.0.10:11434", "10.0.0.11:11434"]
    assert (doc["default_mode"], doc["ray_workers"], doc["port"]) == ("fast", 4, 8090)


def test_sollol_gets_only_knobs_it_reads_and_the_app_the_rest() -> None:
    o = load(SollolOptions, {}, "sollol-1")
    sollol_env = dict(line.split("=", 1) for line in gateway_env(o, "/var/lib/sollol").splitlines()
                      if "=" in line and not line.startswith("#"))
    assert sollol_env["SOLLOL_MIN_VRAM_MB"] == "100" and sollol_env["SOLLOL_RAY_WORKERS"] == "4"
    assert sollol_env["RAY_USAGE_STATS_ENABLED"] == "0"
    assert not any(k.startswith("HYDRA_") or k == "SOLLOL_DEFAULT_ROUTING_MODE" for k in sollol_env)
    app = app_env(o)
    for line in ("SOLLOL_DEFAULT_ROUTING_MODE=async", "SOLLOL_MAX_CONCURRENT_REQUESTS=4",
                 "HYDRA_REASONING_MODEL=qwen3:14b", "HYDRA_DEEP_THINKING_THRESHOLD=9.5"):
        assert line in app.splitlines()
    assert "SOLLOL 0.9.66 reads none of" in app


def test_unit_runs_unprivileged_with_the_launcher() -> None:
    text = unit_file(load(SollolOptions, {}, "sollol-1"), "/opt/sollol/venv/bin/python", "/var/lib/sollol")
    assert "User=sollol" in text and "NoNewPrivileges=yes" in text and "CapabilityBoundingSet=\n" in text
    assert "ExecStart=/opt/sollol/venv/bin/python /opt/sollol/sollol_gateway.py /etc/sollol/gateway.json" in text


def test_launcher_knows_an_unreachable_node_from_other_errors() -> None:
    launcher = _launcher()
    unreachable = launcher["unreachable"]
    assert unreachable(b'{"error": "Request to 10.0.0.11:11434 failed: All connection attempts failed"}')
    assert not unreachable(b'{"error": "model \'x\' not found"}')  # the node answered: it is up
    assert not unreachable(b'{"message": {"content": "hi"}, "_sollol_routing": {"node": "10.0.0.10:11434"}}')
    assert not unreachable(b'{"model":"x","done":false}\n{"model":"x","done":true}')  # a stream, not one JSON
    assert set(launcher["STRATEGIES"]) == {"fast", "reliable", "async"}
    with pytest.raises(RuntimeError, match="network discovery is disabled"):
        launcher["refuse_discovery"]()


class FakeRay:
    """Stands in for the ray module: records init/shutdown; its node address is the one Ray would have taken."""

    def __init__(self, node: str) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.util = SimpleNamespace(get_node_ip_address=lambda: node)

    def init(self, **kwargs: object) -> None:
        self.calls.append(("init", kwargs))

    def shutdown(self) -> None:
        self.calls.append(("shutdown", {}))


def _launcher() -> dict:
    """The launcher's module globals (it imports SOLLOL and Ray only inside main)."""
    return runpy.run_path(str(LAUNCHER))


def test_launcher_starts_ray_on_loopback_without_its_dashboard() -> None:
    ray = FakeRay("127.0.0.1")
    assert _launcher()["ray_on_loopback"](ray) == "127.0.0.1"
    (call, kwargs), = ray.calls
    assert call == "init" and kwargs["_node_ip_address"] == "127.0.0.1" and kwargs["include_dashboard"] is False


def test_launcher_refuses_a_ray_that_took_the_lan_address() -> None:
    ray = FakeRay("10.0.0.10")  # what Ray 2.60 makes of 127.0.0.1 without its single-machine mode
    with pytest.raises(RuntimeError, match=re.escape("10.0.0.10, not 127.0.0.1: its ports would "
                                                                      "listen beyond loopback")):
        _launcher()["ray_on_loopback"](ray)
    assert [c for c, _ in ray.calls] == ["init", "shutdown"]


def test_launcher_sets_rays_loopback_mode_before_anything_imports_ray(tmp_path: Path) -> None:
    """Ray reads RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER once, at import: a stand-in `ray` records what it saw."""
    (tmp_path / "ray").mkdir()
    (tmp_path / "ray" / "__init__.py").write_text(
        "import os, pathlib\n"
        "pathlib.Path(__file__).with_name('seen').write_text(os.environ.get('RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER', "
        "'unset'))\n"
        "raise ImportError('stand-in ray: stop here')\n")
    config = tmp_path / "gateway.json"
    config.write_text(gateway_config(load(SollolOptions, {}, "sollol-1"), NODES))
    env = {k: v for k, v in os.environ.items() if k != "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"}
    proc = subprocess.run([sys.executable, str(LAUNCHER), str(config)], env={**env, "PYTHONPATH": str(tmp_path)},
                          capture_output=True, text=True, timeout=60, check=False)
    assert "stand-in ray: stop here" in proc.stderr, proc.stderr
    assert (tmp_path / "ray" / "seen").read_text() == _launcher()["RAY_LOOPBACK_ENV"][
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] == "0"
