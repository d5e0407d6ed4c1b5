"""Seed 002's hydra-ai (the operator's own systemd.services.tabbyapi, the /mnt/models disk) and G10 adopting that
unit through the module system's merge: the real Nix evaluator, the before state's own files."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from devcluster.local.nixos_host import on_disk, standin_disks
from devcluster.nixos import NixEvalError, evaluate
from devcluster.nixos.rebuild.filesystems import escape_path, mount_units
from devcluster.nixos.rebuild.units import render_service
from hydra_ops import PROJECT_ROOT
from hydra_ops.operations.nixos import IMPORT, add_import
from hydra_ops.render import render
from hydra_ops.services.tabbyapi import nixos as tabby_nixos
from hydra_ops.services.tabbyapi.options import roles
from hydra_ops.services.tabbyapi.state import UNIT, app_dir, prestart_path
from hydra_ops.targets import load_inventory
from tests.unit.nixos_eval_helpers import BEFORE, PKGS, _store

LIB_DIR = "/usr/local/lib/hydra-ops"
SEED_ENV = ["CUDA_DEVICE_ORDER=PCI_BUS_ID", "CUDA_VISIBLE_DEVICES=0,1",
            "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True"]


@pytest.fixture
def ai_pkgs(tmp_path: Path) -> Path:
    path = tmp_path / "pkgs.json"
    extra = {n: {"outPath": _store(n.replace(".", "")), "name": f"{n}-1.0", "version": "1.0"}
             for n in ("python311", "stdenv.cc.cc.lib", "zlib")}
    path.write_text(json.dumps({**PKGS, **extra}))
    return path


def _hydra_ai(tmp_path: Path, data: dict[str, Any], extra: str = "") -> Path:
    """/etc/nixos of the before state with hydra-ops' G10 modules imported the way the deploy imports them;
    `extra` is more of the operator's own configuration (a module beside configuration.nix)."""
    etc = tmp_path / "nixos"
    shutil.copytree(BEFORE / "ai", etc, ignore=shutil.ignore_patterns("root"))
    text = add_import((etc / "configuration.nix").read_text(), IMPORT)
    assert text is not None
    if extra:
        (etc / "operator-extra.nix").write_text(extra)
        text = add_import(text, "./operator-extra.nix")
        assert text is not None
    (etc / "configuration.nix").write_text(text)
    (etc / "hydra-ops").mkdir()
    (etc / "hydra-ops/default.nix").write_text(render("nixos/default.nix.j2"))
    serving, _ = roles(data, "hydra-ai")
    (etc / "hydra-ops/tabbyapi-base.nix").write_text(tabby_nixos.nixos_base_module(serving))
    (etc / "hydra-ops/tabbyapi.nix").write_text(tabby_nixos.nixos_module([(serving, UNIT)], LIB_DIR))
    return etc / "configuration.nix"


@pytest.fixture
def ai_data() -> dict[str, Any]:
    inventory, _ = load_inventory(PROJECT_ROOT / "inventory.py")
    return {**inventory.get_host("hydra-ai").data.dict(), "tabby_source_sha256": "b" * 64, "tabby_gpus": [1]}


def effective_environment(unit_text: str) -> dict[str, str]:
    """What systemd gives the service: Environment= lines in order, a later assignment of a name winning."""
    env: dict[str, str] = {}
    for line in unit_text.splitlines():
        if line.startswith("Environment="):
            for item in shlex.split(line.removeprefix("Environment=")):
                name, _, value = item.partition("=")
                env[name] = value
    return env


def test_the_before_state_is_seed_002s_hydra_ai(ai_pkgs: Path) -> None:
    out = evaluate(BEFORE / "ai" / "configuration.nix", ai_pkgs)
    tabby = out["systemd"]["services"]["tabbyapi"]
    assert tabby["description"] == "TabbyAPI - OpenAI-compatible LLM API Server"
    assert tabby["after"] == ["network.target", "mnt-models.mount"] and tabby["wantedBy"] == ["multi-user.target"]
    assert (tabby["startLimitIntervalSec"], tabby["startLimitBurst"]) == (300, 5)
    assert tabby["serviceConfig"] == {
        "Type": "simple", "User": "typhon", "WorkingDirectory": "/opt/tabbyapi",
        "ExecStartPre": "/opt/tabbyapi/prestart.sh", "ExecStart": "/opt/tabbyapi/venv/bin/python /opt/tabbyapi/main.py",
        "Restart": "on-failure", "RestartSec": 30, "TimeoutStartSec": 300, "Environment": SEED_ENV}
    assert out["users"]["users"]["typhon"]["isNormalUser"] is True
    assert out["fileSystems"]["/mnt/models"]["fsType"] == "ext4"
    config = (BEFORE / "ai/root/opt/tabbyapi/config.yml").read_text()
    assert "model_dir: /mnt/models/exl2" in config and "port: 5000" in config and "host: 0.0.0.0" in config
    assert (BEFORE / "ai/root/opt/tabbyapi/prestart.sh").stat().st_mode & 0o111


def test_two_plain_definitions_of_a_unit_setting_conflict_as_in_nixpkgs(tmp_path: Path, ai_pkgs: Path) -> None:
    """The stand-in must not be kinder than nixpkgs' unitOption: equal priority, different strings, no merge."""
    (tmp_path / "configuration.nix").write_text("{ imports = [ ./a.nix ./b.nix ]; }")
    unit = "{ systemd.services.t.serviceConfig = { User = %s; Environment = [ %s ]; }; }"
    (tmp_path / "a.nix").write_text(unit % ('"typhon"', '"A=1"'))
    (tmp_path / "b.nix").write_text(unit % ('"tabby"', '"B=2"'))
    with pytest.raises(NixEvalError) as info:
        evaluate(tmp_path / "configuration.nix", ai_pkgs)
    assert "`systemd.services.t.serviceConfig.User' has conflicting definition values" in str(info.value)
    (tmp_path / "b.nix").write_text('{ lib, ... }: { systemd.services.t.serviceConfig = '
                                    '{ User = lib.mkForce "tabby"; Environment = lib.mkAfter [ "B=2" ]; }; }')
    config = evaluate(tmp_path / "configuration.nix", ai_pkgs)["systemd"]["services"]["t"]["serviceConfig"]
    assert config == {"User": "tabby", "Environment": ["A=1", "B=2"]}


def test_g10_adopts_the_operators_unit_without_a_conflict(tmp_path: Path, ai_pkgs: Path,
                                                          ai_data: dict[str, Any]) -> None:
    extra = ('{ systemd.services.tabbyapi.serviceConfig = { Nice = 5; Environment = [ "HF_HOME=/mnt/models/hf" ]; };\n'
             '  systemd.services.tabbyapi.after = [ "nfs-models.mount" ]; }\n')
    out = evaluate(_hydra_ai(tmp_path, ai_data, extra), ai_pkgs)
    serving, _ = roles(ai_data, "hydra-ai")
    tabby = out["systemd"]["services"]["tabbyapi"]
    sc = tabby["serviceConfig"]
    # what hydra-ops owns is its own
    assert (sc["User"], sc["WorkingDirectory"]) == (serving.tabby_user, app_dir(serving))
    assert sc["ExecStartPre"] == f"+{prestart_path(LIB_DIR)}"
    assert sc["ExecStart"] == f"{app_dir(serving)}/venv/bin/python {app_dir(serving)}/main.py"
    assert (sc["Restart"], sc["RestartSec"]) == ("on-failure", str(serving.tabby_restart_sec))
    assert tabby["description"].endswith("(hydra-ops G10)")
    assert (tabby["startLimitBurst"], tabby["startLimitIntervalSec"]) == (serving.tabby_start_limit_burst,
                                                                            serving.tabby_start_limit_interval_sec)
    # the operator's other settings survive the merge
    assert sc["Nice"] == 5
    assert {"network.target", "mnt-models.mount", "nfs-models.mount"} <= set(tabby["after"])
    # in the unit NixOS writes, hydra-ops' variables win and the operator's others stay
    env = effective_environment(render_service(tmp_path, "tabbyapi", tabby))
    assert env["CUDA_VISIBLE_DEVICES"] == "1" and env["HF_HOME"] == "/mnt/models/hf"
    assert env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID" and env["HOME"] == "/var/lib/tabbyapi"
    # the login account is left as the operator declared it; the service user is a separate system user
    assert out["users"]["users"]["typhon"] == evaluate(BEFORE / "ai/configuration.nix", ai_pkgs)["users"]["users"][
        "typhon"]
    assert serving.tabby_user != "typhon" and out["users"]["users"][serving.tabby_user]["isSystemUser"] is True


def test_declared_file_systems_become_mount_units(ai_pkgs: Path) -> None:
    config = evaluate(BEFORE / "ai" / "configuration.nix", ai_pkgs)
    units = mount_units(config)
    assert sorted(units) == ["mnt-models.mount"]  # "/" and "/boot" are the guest's own
    text = units["mnt-models.mount"]
    device = config["fileSystems"]["/mnt/models"]["device"].removeprefix("/dev/")
    assert f"What=/var/lib/hydra-nixos/disks/{device}\n" in text and "Where=/mnt/models\n" in text
    assert "RequiredBy=local-fs.target" in text  # not nofail: a missing disk fails local-fs, as on NixOS
    for path in ("/mnt/models", "/srv/my-data", "/mnt/a.b/c d", "/mnt/.hidden"):
        expected = subprocess.run(["systemd-escape", "--path", path], capture_output=True, text=True).stdout.strip()
        assert escape_path(path) == expected


def test_before_state_files_under_a_mount_point_go_onto_its_standin_disk(tmp_path: Path) -> None:
    disks = standin_disks(tmp_path, BEFORE / "ai")
    assert list(disks) == ["/mnt/models"] and (tmp_path / disks["/mnt/models"].lstrip("/")).is_dir()
    assert on_disk("/mnt/models/exl2", disks) == disks["/mnt/models"] + "/exl2"
    assert on_disk("/mnt/modelsx/a", disks) == "/mnt/modelsx/a" and on_disk("/opt/tabbyapi", disks) == "/opt/tabbyapi"


@pytest.mark.parametrize(("pre", "status"), [
    ("{ path=/opt/tabbyapi/prestart.sh ; argv[]=/opt/tabbyapi/prestart.sh ; ignore_errors=no }", "open"),
    ("{ path=/usr/local/lib/hydra-ops/tabbyapi-prestart.sh.orig ; argv[]=x }", "open"),
    ("{ path=/usr/local/lib/hydra-ops/tabbyapi-prestart.sh ; argv[]=/usr/local/lib/hydra-ops/tabbyapi-prestart.sh }",
     "closed")])
def test_g10_is_open_while_the_running_unit_is_the_operators(pre: str, status: str) -> None:
    """Seed 002's own unit runs, has a prestart and restart limits and answers /health: still not hydra-ops' G10."""
    from hydra_ops.services.tabbyapi.detect import detect
    from tests.unit.test_readiness_gpus import GPUS, _Host

    class Operator(_Host):
        def get_fact(self, fact: type, **kwargs: Any) -> Any:
            found = super().get_fact(fact, **kwargs)
            return {**found, "ExecStartPre": pre} if isinstance(found, dict) else found

    finding = detect(Operator({"tabby_port": 5000, "expected_gpu_count": 2}, GPUS))
    assert finding.status == status
    assert any(("not hydra-ops" in line) == (status == "open") for line in finding.evidence)
