"""Property test: hostile strings in every string setting of the compute services are refused naming the key,
or rendered inert: the unit, env file, nginx config and NixOS module keep their structure, the value one literal."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import crossplane
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hydra_ops import nix
from hydra_ops.services import Compute, compute
from hydra_ops.services.lb.nixos import module as lb_module
from hydra_ops.services.lb.options import LbOptions
from hydra_ops.services.lb.state import site
from hydra_ops.services.ollama.nixos import module as ollama_module
from hydra_ops.services.ollama.options import Instance, OllamaOptions
from hydra_ops.services.ollama.state import env_file, unit_file
from hydra_ops.systemd_ini import parse, parse_env
from hydra_ops.validation import ValidationError

NASTY = ["'", '"', "$(id)", "`id`", "\n", "\r", "{{ x }}", "${x}", "../", ";", "\\", "%", " ", "\t", "#", "{", "}",
         "\x00", "\udcff", "é", "x" * 3000]
HOSTILE = st.one_of(
    st.sampled_from(NASTY),
    st.lists(st.sampled_from([*NASTY, "a", "0", "/", ".", "-", ":"]), min_size=1, max_size=6).map("".join),
    st.text(max_size=40),
    st.binary(max_size=20).map(lambda b: b.decode("utf-8", "surrogateescape")),
)


def _string_fields() -> list[tuple[str, str]]:
    """(option, shape) for every option of the compute services that holds strings."""
    out = []
    for model in (OllamaOptions, LbOptions):
        for name, info in model.model_fields.items():
            kind = str(info.annotation)
            if kind.startswith("dict"):
                out.append((name, "dict"))
            elif kind.startswith("list") and "str" in kind:
                out.append((name, "list"))
            elif "str" in kind or "Literal" in kind:
                out.append((name, "str"))
    return out


FIELDS = _string_fields()


def _shaped(shape: str, value: str) -> Any:
    return {"OLLAMA_X": value} if shape == "dict" else [value] if shape == "list" else value


def _renders(c: Compute) -> dict[str, str]:
    inst = Instance(gpu=0, port=11434)
    return {"unit": unit_file(c.ollama), "env": env_file(c.ollama, inst),
            "lb": site(c.lb, c.ollama.fronts, c.ollama.ollama_bind_address)}


def _nginx_shape(text: str) -> list[Any]:
    """The directive tree of an nginx config (names and nesting; arguments dropped)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lb.conf"
        path.write_text(text)
        parsed = crossplane.parse(str(path), single=True, check_ctx=False, check_args=False)
    assert parsed["status"] == "ok", parsed["errors"]

    def walk(block: list[dict[str, Any]]) -> list[Any]:
        return [(d["directive"], walk(d.get("block", []))) for d in block]

    return walk(parsed["config"][0]["parsed"])


BASE = _renders(compute({}))


def test_the_property_covers_every_string_setting() -> None:
    names = {n for n, _ in FIELDS}
    assert {"ollama_models_dir", "ollama_release_url", "ollama_extra_env", "lb_extra_directives",
            "lb_upstream_host_header", "ollama_nix_package", "lb_allowed_paths"} <= names
    assert len(FIELDS) >= 15


@pytest.mark.parametrize(("option", "shape"), FIELDS)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=HOSTILE)
def test_hostile_value_is_refused_or_inert(option: str, shape: str, value: str) -> None:
    try:
        c = compute({option: _shaped(shape, value)})
    except ValidationError as exc:
        assert any(p.startswith(option) for p in exc.problems), exc.problems
        return
    out = _renders(c)
    # the unit keeps its directives, the env file its variables (plus the extra one, verbatim)
    assert [k for s in parse(out["unit"]).values() for k, _ in s] == \
        [k for s in parse(BASE["unit"]).values() for k, _ in s]
    env = parse_env(out["env"])
    expected = set(parse_env(BASE["env"])) | ({"OLLAMA_X"} if shape == "dict" else set())
    assert set(env) == expected
    if shape == "dict":
        assert env["OLLAMA_X"] == value
    if option != "lb_extra_directives":  # raw directives by design; each still one directive line
        assert _nginx_shape(out["lb"]) == _nginx_shape(BASE["lb"])
    # the value flows into the Debian files when it appears more often than in the defaults' (not by coincidence)
    carried = value != "" and any(out[k].count(value) > BASE[k].count(value) for k in ("unit", "env", "lb"))
    _nix_keeps_the_value(c, value if option != "ollama_nix_package" else "/nix/store/x-ollama",
                         carried or option == "ollama_nix_package")


def _leaves(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value] if isinstance(value, str) else []


def _nix_keeps_the_value(c: Compute, value: str, carried: bool) -> None:
    """The NixOS modules parse, and evaluate with the value as one literal wherever it appears."""
    tree: dict[str, Any] = {}
    node = tree
    *parents, leaf = c.ollama.ollama_nix_package.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = {"outPath": "/nix/store/x-ollama"}
    pkgs = nix.expr(tree)
    found: list[str] = []
    for text in (ollama_module(c.ollama), lb_module(c.lb, site(c.lb, c.ollama.fronts, c.ollama.ollama_bind_address))):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "m.nix"
            path.write_text(text)
            expr = f'(import {path} {{ config = {{ }}; lib = {{ mkForce = x: x; }}; pkgs = {pkgs}; }})'
            proc = subprocess.run(["nix-instantiate", "--eval", "--strict", "--json", "-E", expr],
                                  capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        found.extend(_leaves(json.loads(proc.stdout)))
    if carried:  # what the Debian files carry, the modules carry verbatim
        assert any(value in leaf for leaf in found), value
