"""Smoke checks for hydra-ai (G10): TabbyAPI healthy with the configured model, restart limits in force,
config and token files with the right modes, and no secret in its journal."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import testinfra

from hydra_ops.secrets import SecretStore
from hydra_ops.services.models.options import ModelsOptions
from hydra_ops.services.tabbyapi.options import options as tabby_options
from hydra_ops.settings import load
from hydra_ops.targets import Target, targets

from .conftest import unit_state

UNIT = "tabbyapi.service"


@pytest.fixture(scope="module")
def ai(cluster_name: str) -> list[tuple[Target, Any]]:
    hosts = [(t, testinfra.get_host(t.testinfra_url)) for t in targets(cluster_name) if "ai" in t.groups]
    assert hosts, f"no ai host in the {cluster_name} inventory"
    return hosts


def tabby(target: Target) -> Any:
    """The stable TabbyAPI settings of an ai host, defaults applied."""
    return tabby_options(target.data, target.name)


def systemd_span(seconds: int) -> str:
    """How `systemctl show` prints a time span (enough for whole minutes and seconds)."""
    return f"{seconds // 60}min" if seconds and seconds % 60 == 0 else f"{seconds}s"


class TestTabbyAPI:
    """G10: the TabbyAPI service."""

    def test_health_and_the_configured_model(self, ai: list[tuple[Target, Any]]) -> None:
        for target, _ in ai:
            base = f"http://{target.address}:{tabby(target).tabby_port}"
            assert requests.get(f"{base}/health", timeout=30).json().get("status") == "healthy"
            key = SecretStore.from_data(target.data).read()["tabby_api_key"]
            model = requests.get(f"{base}/v1/model", headers={"x-api-key": key}, timeout=30)
            assert model.status_code == 200, f"{target.name}: no model loaded ({model.status_code})"
            assert model.json()["id"] == tabby(target).tabby_model_name

    def test_unit_runs_enabled_with_its_restart_limits(self, ai: list[tuple[Target, Any]]) -> None:
        for target, host in ai:
            state = unit_state(host, UNIT)
            assert (state["ActiveState"], state["UnitFileState"]) == ("active", "enabled"), state
            props = dict(line.split("=", 1) for line in host.check_output(
                f"systemctl show -p Restart,RestartUSec,StartLimitBurst,StartLimitIntervalUSec,User {UNIT}"
            ).splitlines())
            o = tabby(target)
            assert props == {"Restart": "on-failure", "RestartUSec": systemd_span(o.tabby_restart_sec),
                             "StartLimitBurst": str(o.tabby_start_limit_burst),
                             "StartLimitIntervalUSec": systemd_span(o.tabby_start_limit_interval_sec),
                             "User": o.tabby_user}

    def test_config_and_token_files_have_the_right_modes(self, ai: list[tuple[Target, Any]]) -> None:
        for target, host in ai:
            app = host.check_output(f"systemctl show -p WorkingDirectory --value {UNIT}")
            config, tokens = host.file(f"{app}/config.yml"), host.file(f"{app}/api_tokens.yml")
            assert (config.mode, config.user) == (0o644, "root")
            assert (tokens.mode, tokens.user, tokens.group) == (0o600, tabby(target).tabby_user,
                                                                tabby(target).tabby_user)

    def test_canary_runs_beside_stable_when_configured(self, ai: list[tuple[Target, Any]]) -> None:
        for target, host in ai:
            o = tabby(target)
            canary = o.tabby_canary
            if not canary.overrides() or o.tabby_serving != "stable":
                assert unit_state(host, "tabbyapi-canary.service")["ActiveState"] != "active"
                continue
            state = unit_state(host, "tabbyapi-canary.service")
            assert (state["ActiveState"], state["UnitFileState"]) == ("active", "enabled"), state
            health = requests.get(f"http://{target.address}:{canary.port}/health", timeout=30)
            assert health.json().get("status") == "healthy"

    def test_journal_holds_no_secret(self, ai: list[tuple[Target, Any]]) -> None:
        for target, host in ai:
            journal = host.check_output(f"journalctl -u {UNIT} -o cat --no-pager")
            values = SecretStore.from_data(target.data).read()
            assert [n for n, v in values.items() if v in journal] == [], f"{target.name}: secret in the journal"


class TestModels:
    """G11: the configured models are present, complete, and the served model is one of them."""

    def test_every_configured_model_is_complete(self, ai: list[tuple[Target, Any]]) -> None:
        import hashlib

        from hydra_ops.services.models import manifest

        for target, host in ai:
            for model in load(ModelsOptions, target.data, target.name).tabby_models:
                folder = f"{tabby(target).tabby_model_dir}/{model.dest}"
                marker = host.file(f"{folder}/.hydra-fetched")
                assert marker.exists, f"{target.name}: {model.dest} was never completely fetched"
                assert marker.content_string.strip() == hashlib.sha256(manifest(model.files).encode()).hexdigest()
                for name in model.files:
                    assert host.file(f"{folder}/{name}").is_file, f"{target.name}: {model.dest}/{name} missing"

    def test_models_endpoint_lists_the_configured_model(self, ai: list[tuple[Target, Any]]) -> None:
        for target, _ in ai:
            key = SecretStore.from_data(target.data).read()["tabby_api_key"]
            listed = requests.get(f"http://{target.address}:{tabby(target).tabby_port}/v1/models",
                                  headers={"x-api-key": key}, timeout=30).json()
            assert tabby(target).tabby_model_name in [m["id"] for m in listed["data"]]
