"""hydra-ops' switch script (templates/nixos/switch.sh.j2) against a fake nixos-rebuild and systemctl, the real
nix-env and a temporary system profile: gates, judgement, and rollback to the generation running before."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from hydra_ops.operations.nixos import REPORT, switch_script

FAKE_REBUILD = """#!/bin/sh
# fake nixos-rebuild: $FAKE_<VERB> says what each verb does; switch makes generation max+1 like nix-env --set
echo "nixos-rebuild $*" >> "$FAKE_LOG"
case "$1" in
  dry-build) [ "$FAKE_DRY" = ok ] || { echo "error: eval failed" >&2; exit 1; } ;;
  build) [ "$FAKE_BUILD" = ok ] || { echo "error: builder for '/nix/store/x-check.drv' failed" >&2; exit 1; } ;;
  switch)
    [ "$FAKE_SWITCH" = build-fails ] && { echo "error: build failed" >&2; exit 1; }
    n=$(ls "$FAKE_PROFILES" | sed -n 's/^system-\\([0-9]*\\)-link$/\\1/p' | sort -n | tail -1); n=$((n + 1))
    mkdir -p "$FAKE_PROFILES/system-$n-link/bin"; cp "$FAKE_STC" "$FAKE_PROFILES/system-$n-link/bin/"
    ln -sfn "system-$n-link" "$FAKE_PROFILES/system"
    for u in $FAKE_FAIL_UNITS; do echo "$u ${FAKE_FAIL_STATE:-failed failed}" >> "$FAKE_STATES"; done
    list=$(echo $FAKE_FAIL_UNITS | sed 's/ /, /g')  # switch-to-configuration joins them with ", "
    if [ -n "$FAKE_FAIL_UNITS" ]; then echo "warning: the following units failed: $list" >&2; exit 1; fi ;;
esac
"""
FAKE_SYSTEMCTL = """#!/bin/sh
# fake systemctl: unit states from $FAKE_STATES ("unit active sub" lines)
case "$1" in
  show) grep "^$6 " "$FAKE_STATES" | tail -1 | awk '{print $2; print $3}' ;;
  list-units) awk '$2 == "failed" {print $1 " loaded failed failed x"}' "$FAKE_STATES" ;;
esac
"""
FAKE_STC = """#!/bin/sh
echo "switch-to-configuration $(cd "$(dirname "$0")/.." && pwd -P | xargs basename) $*" >> "$FAKE_LOG"
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A config dir with one old module and the new one staged, a profile at generation 5 of 7, fake tools."""
    conf = tmp_path / "etc/nixos"
    (conf / "hydra-ops").mkdir(parents=True)
    (conf / "configuration.nix").write_text("{ imports = [ ./hydra-ops ]; }\n")
    (conf / "hydra-ops/ollama.nix").write_text("old\n")
    stage = conf / ".hydra-ops-stage"
    stage.mkdir()
    (stage / "ollama.nix").write_text("new\n")
    (stage / "default.nix").write_text("default\n")
    bins = tmp_path / "bin"
    bins.mkdir()
    for name, text in (("nixos-rebuild", FAKE_REBUILD), ("systemctl", FAKE_SYSTEMCTL), ("stc", FAKE_STC)):
        (bins / name).write_text(text)
        (bins / name).chmod(0o755)
    profiles = tmp_path / "profiles"
    for n in range(1, 8):
        (profiles / f"system-{n}-link/bin").mkdir(parents=True)
        (profiles / f"system-{n}-link/bin/switch-to-configuration").write_text(FAKE_STC)
        (profiles / f"system-{n}-link/bin/switch-to-configuration").chmod(0o755)
    (profiles / "system").symlink_to("system-5-link")
    (tmp_path / "states").write_text("ollama@11434.service active running\n")
    (tmp_path / "healthy").touch()
    return {"PATH": f"{bins}:{os.environ['PATH']}", "FAKE_LOG": str(tmp_path / "log"), "FAKE_DRY": "ok",
            "FAKE_BUILD": "ok", "FAKE_SWITCH": "ok", "FAKE_FAIL_UNITS": "", "FAKE_PROFILES": str(profiles),
            "FAKE_STATES": str(tmp_path / "states"), "FAKE_STC": str(bins / "stc"), "TMP": str(tmp_path)}


def run_script(env: dict[str, str]) -> subprocess.CompletedProcess:
    tmp = Path(env["TMP"])
    script = switch_script(str(tmp / "etc/nixos"), ["default.nix", "ollama.nix"], False,
                           [f"test -e {tmp / 'healthy'}"], 1, ["ollama@11434.service"],
                           profile=str(tmp / "profiles/system"))
    return subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, timeout=60, check=False)


def profile(env: dict[str, str]) -> str:
    return os.readlink(Path(env["FAKE_PROFILES"]) / "system")


def log(env: dict[str, str]) -> list[str]:
    path = Path(env["FAKE_LOG"])
    return path.read_text().splitlines() if path.exists() else []


def module(env: dict[str, str]) -> str:
    return (Path(env["TMP"]) / "etc/nixos/hydra-ops/ollama.nix").read_text()


def test_a_failing_build_switches_nothing_and_rolls_nothing_back(env: dict[str, str]) -> None:
    env["FAKE_BUILD"] = "fails"
    result = run_script(env)
    assert result.returncode == 1
    assert "nixos-rebuild build failed; nothing was switched, generation 5 keeps serving" in result.stderr
    assert "builder for '/nix/store/x-check.drv' failed" in result.stderr
    assert log(env) == ["nixos-rebuild dry-build", "nixos-rebuild build"]
    assert profile(env) == "system-5-link" and module(env) == "old\n"
    assert sorted(os.listdir(env["FAKE_PROFILES"]))[-1] == "system-7-link"


def test_a_failed_managed_unit_rolls_back_to_the_generation_running_before(env: dict[str, str]) -> None:
    env["FAKE_FAIL_UNITS"] = "ollama@11434.service"
    result = run_script(env)
    assert result.returncode == 1
    assert "failed managed units: ollama@11434.service" in result.stderr
    assert "rolled back to the previous generation 5, the one running before this deploy (exit 0)" in result.stderr
    # generation 5 again, not 7 (what `switch --rollback` from the new generation 8 would pick)
    assert profile(env) == "system-5-link"
    assert log(env)[-1] == "switch-to-configuration system-5-link switch"
    assert module(env) == "old\n" and (Path(env["FAKE_PROFILES"]) / "system-8-link").is_dir()


def test_a_failed_health_check_rolls_back(env: dict[str, str]) -> None:
    (Path(env["TMP"]) / "healthy").unlink()
    result = run_script(env)
    assert result.returncode == 1 and "failed checks:\n  - test -e" in result.stderr
    assert profile(env) == "system-5-link" and module(env) == "old\n"


def test_a_switch_that_did_not_move_the_profile_rolls_nothing_back(env: dict[str, str]) -> None:
    env["FAKE_SWITCH"] = "build-fails"
    result = run_script(env)
    assert result.returncode == 1
    assert "the system profile did not move (generation 5): nothing to roll back" in result.stderr
    assert not [line for line in log(env) if "switch-to-configuration" in line]
    assert profile(env) == "system-5-link" and module(env) == "old\n"


def test_units_hydra_ops_does_not_manage_are_reported_not_rolled_back(env: dict[str, str]) -> None:
    env["FAKE_FAIL_UNITS"] = "operator-own.service"
    result = run_script(env)
    assert result.returncode == 0, result.stderr
    assert "failed units that hydra-ops does not manage (not rolled back): operator-own.service" in result.stderr
    assert (Path(env["TMP"]) / "etc/nixos" / REPORT).read_text().split() == ["operator-own.service"]
    assert profile(env) == "system-8-link" and module(env) == "new\n"
    assert (Path(env["TMP"]) / "etc/nixos/hydra-ops/.applied").is_file()


def test_an_unmanaged_unit_already_waiting_to_restart_is_still_only_reported(env: dict[str, str]) -> None:
    """The operator's unit (seed 002's TabbyAPI, Restart=on-failure, RestartSec=30) is in auto-restart, not failed,
    when the script looks: the activation's own list names it, so the switch is judged by hydra-ops' units only."""
    env["FAKE_FAIL_UNITS"] = "tabbyapi.service other.service"
    env["FAKE_FAIL_STATE"] = "activating auto-restart"
    result = run_script(env)
    assert result.returncode == 0, result.stderr
    assert "(not rolled back): tabbyapi.service other.service" in result.stderr
    assert profile(env) == "system-8-link" and module(env) == "new\n"


def test_a_managed_unit_named_by_the_activation_rolls_back_even_if_it_recovered(env: dict[str, str]) -> None:
    env["FAKE_FAIL_UNITS"] = "ollama@11434.service"
    env["FAKE_FAIL_STATE"] = "active running"  # restarted and running by the time the script looks
    result = run_script(env)
    assert result.returncode == 1
    assert "failed managed units: ollama@11434.service" in result.stderr
    assert profile(env) == "system-5-link" and module(env) == "old\n"
