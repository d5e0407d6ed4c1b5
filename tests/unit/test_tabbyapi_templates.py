"""G10 renders: the seed's unit with restart limits, a shellcheck-clean prestart, config.yml from group data."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from hydra_ops import PROJECT_ROOT
from hydra_ops.services import ai
from hydra_ops.services.tabbyapi.options import roles
from hydra_ops.services.tabbyapi.state import api_tokens, config_yml, prestart_script, unit_file
from hydra_ops.targets import load_inventory
from hydra_ops.validation import ValidationError

PINNED = {"tabby_source_sha256": "a" * 64}
MODEL = {"repo": "o/m", "revision": "r", "dest": "d", "files": {"config.json": "b" * 64}}
LIB = "/usr/local/lib/hydra-ops"


def validate_ai(data: dict[str, Any]) -> Any:
    """The whole ai host's data checked as the deploy does; the install serving on tabby_port."""
    ai(data, "hydra-ai")
    return roles(data, "hydra-ai")[0]


@pytest.fixture
def ai_data() -> dict[str, Any]:
    inventory, _ = load_inventory(PROJECT_ROOT / "inventory.py")
    return {**inventory.get_host("hydra-ai").data.dict(), **PINNED, "tabby_models": [MODEL]}


def test_production_refuses_an_unpinned_source(ai_data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="tabby_source_sha256: '' is not set"):
        validate_ai({**ai_data, "tabby_source_sha256": ""})


def test_unit_has_the_seed_restart_limits_and_environment(ai_data: dict[str, Any]) -> None:
    unit = unit_file(validate_ai(ai_data), LIB).splitlines()
    for line in ("StartLimitIntervalSec=300", "StartLimitBurst=5", "Restart=on-failure", "RestartSec=30",
                 "TimeoutStartSec=300", "Environment=CUDA_DEVICE_ORDER=PCI_BUS_ID",
                 "Environment=CUDA_VISIBLE_DEVICES=0,1",
                 "Environment=PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True", "User=tabby",
                 "ExecStartPre=+/usr/local/lib/hydra-ops/tabbyapi-prestart.sh", "RequiresMountsFor=/mnt/models/exl2",
                 "DevicePolicy=closed", "ProtectSystem=strict"):
        assert line in unit, line


def test_config_yml_follows_group_data(ai_data: dict[str, Any]) -> None:
    cfg = yaml.safe_load(config_yml(validate_ai({**ai_data, "tabby_gpu_split_auto": False,
                                                 "tabby_gpu_split": [28, 24], "tabby_draft_model_name": "d1"})))
    assert cfg["network"] == {"host": "0.0.0.0", "port": 5000, "disable_auth": False}
    model = cfg["model"]
    assert (model["model_dir"], model["model_name"], model["backend"]) == (
        "/mnt/models/exl2", "Llama-3.3-70B-Instruct-exl2-4.0bpw", "exllamav2")
    assert model["tensor_parallel"] is True and model["gpu_split_auto"] is False and model["gpu_split"] == [28, 24]
    assert model["max_seq_len"] == 32768 and model["cache_mode"] == "FP16"
    assert cfg["draft_model"]["draft_model_name"] == "d1"


def test_api_tokens_hold_both_keys() -> None:
    assert yaml.safe_load(api_tokens({"tabby_api_key": "a" * 20, "tabby_admin_key": "b" * 20})) == {
        "api_key": "a" * 20, "admin_key": "b" * 20}


def test_prestart_is_shellcheck_clean(ai_data: dict[str, Any], tmp_path: Path) -> None:
    script = tmp_path / "prestart.sh"
    script.write_text(prestart_script(validate_ai(ai_data)))
    proc = subprocess.run(["shellcheck", "--severity=style", str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def test_models_must_pin_every_file(ai_data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match=r"tabby_models\[0\].files: no files pinned"):
        validate_ai({**ai_data, "tabby_models": [dict(MODEL, files={})]})  # as the production default
    entry = {"repo": "o/m", "revision": "r", "dest": "d", "files": {"../x": "a" * 64, "w.bin": "nope"}}
    with pytest.raises(ValidationError) as err:
        validate_ai({**ai_data, "tabby_models": [entry]})
    assert "'../x' is not a safe relative file name" in str(err.value)
    assert "'w.bin' has no valid sha256" in str(err.value)


def test_fetch_script_is_shellcheck_clean(tmp_path: Path) -> None:
    from hydra_ops.render import render

    script = tmp_path / "fetch.sh"
    script.write_text(render("model-fetch.sh.j2"))
    proc = subprocess.run(["shellcheck", "--severity=style", str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def test_canary_is_validated_as_stable_plus_overrides(ai_data: dict[str, Any]) -> None:
    def validate_tabby_roles(data: dict[str, Any]) -> Any:
        ai(data, "hydra-ai")
        return roles(data, "hydra-ai")

    canary = {"revision": "v3", "source_sha256": "c" * 64, "backend": "exllamav3", "port": 5001}
    stable, merged = validate_tabby_roles({**ai_data, "tabby_canary": canary})
    assert merged is not None and (merged.tabby_port, merged.tabby_backend) == (5001, "exllamav3")
    assert merged.tabby_model_dir == stable.tabby_model_dir  # not overridden: inherited
    for bad, message in (({**canary, "port": 5000}, "needs its own port"),
                         ({**canary, "colour": "red"}, "tabby_canary.colour: extra inputs are not permitted"),
                         ({**canary, "backend": "vllm"}, "tabby_canary.backend: 'vllm': input should be 'exllamav2' "
                                                         "or 'exllamav3'")):
        with pytest.raises(ValidationError, match=message):
            validate_tabby_roles({**ai_data, "tabby_canary": bad})
    with pytest.raises(ValidationError, match=r"tabby_serving: 'canary': needs a canary \(tabby_canary is empty\)"):
        validate_tabby_roles({**ai_data, "tabby_serving": "canary"})


def test_recording_the_serving_role_replaces_the_previous_record(tmp_path: Path) -> None:
    from hydra_ops.services.tabbyapi.switch import record_serving

    path = tmp_path / "ai.py"
    path.write_text('tabby_port = 5000\n')
    record_serving(path, "canary")
    record_serving(path, "stable")
    lines = path.read_text().splitlines()
    assert lines[0] == "tabby_port = 5000" and len(lines) == 2 and lines[1].startswith('tabby_serving = "stable"')
