"""The nixos-rebuild double: switch plans against a FakeHost, generations and rollback."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from devcluster.nixos.rebuild import generations, switch
from devcluster.nixos.rebuild.nixos_rebuild import SWITCH_ERROR, main
from devcluster.nixos.rebuild.units import render_service
from tests.unit.nixos_rebuild_helpers import FakeHost, base_config, dual_config, rebuild

# --- switch plan ------------------------------------------------------------------------------------------------


def _unit(root: Path, **entry: Any) -> str:
    return render_service(root, "x", {"wantedBy": ["multi-user.target"], "serviceConfig": {"ExecStart": "/bin/a"},
                                      **entry})


def test_switch_plan(root: Path) -> None:
    base = _unit(root)
    changed = _unit(root, serviceConfig={"ExecStart": "/bin/b"})
    active = {"ActiveState": "active"}
    old = {"gone.service": base, "same.service": base, "down.service": base, "chg.service": base,
           "nostop.service": base, "reload.service": base, "trig.service": _unit(root, reloadTriggers=["/nix/store/1"]),
           "norestart.service": base}
    new = {"same.service": base, "down.service": base, "chg.service": changed, "fresh.service": base,
           "nostop.service": _unit(root, stopIfChanged=False, serviceConfig={"ExecStart": "/bin/b"}),
           "reload.service": _unit(root, reloadIfChanged=True, serviceConfig={"ExecStart": "/bin/b"}),
           "trig.service": _unit(root, reloadTriggers=["/nix/store/2"]),
           "norestart.service": _unit(root, restartIfChanged=False, serviceConfig={"ExecStart": "/bin/b"}),
           "tmpl@.service": base}
    states = {u: active for u in old if u != "down.service"}
    p = switch.plan(old, new, states)
    assert p.stop == ["chg.service", "gone.service"]
    assert p.start == ["chg.service", "down.service", "fresh.service"]
    assert p.restart == ["nostop.service"]
    assert p.reload == ["reload.service", "trig.service"]
    # a unit running from a definition the double did not write (Debian's nginx) is restarted on takeover
    assert switch.plan({}, {"nginx.service": base}, {"nginx.service": active}).restart == ["nginx.service"]
    # a finished oneshot counts as running; one that never ran is started
    done = {"ActiveState": "inactive", "Type": "oneshot", "Result": "success", "InactiveExitTimestampMonotonic": "9"}
    assert switch.plan({"o.service": base}, {"o.service": base}, {"o.service": done}).start == []
    assert switch.plan({"o.service": base}, {"o.service": base}, {"o.service": {**done,
                       "InactiveExitTimestampMonotonic": "0"}}).start == ["o.service"]


def test_module_ollama_replaced_by_instances_stops_first(root: Path, pkgs: dict[str, dict],
                                                         capsys: pytest.CaptureFixture) -> None:
    host = FakeHost()
    assert rebuild(root, host, base_config(pkgs), "switch") == 0
    units = root / "etc/systemd/system"
    assert (units / "ollama.service").is_file()
    assert (units / "multi-user.target.wants/ollama.service").readlink() == Path("/etc/systemd/system/ollama.service")
    assert host.states["ollama.service"] == "active"
    host.clear()
    assert rebuild(root, host, dual_config(pkgs), "switch") == 0
    assert host.index("stop", "ollama.service") < host.index("daemon-reload", "daemon-reload") \
        < host.index("start", "ollama@11434.service")
    assert host.index("stop", "ollama.service") < host.calls.index(["groupadd", "-r", "ollama"])
    assert host.systemctl("start")[0][-3:] == ["nginx.service", "ollama@11434.service", "ollama@11435.service"]
    assert not (units / "ollama.service").exists() and not (units / "multi-user.target.wants/ollama.service").exists()
    assert (units / "multi-user.target.wants/ollama@11435.service").is_symlink()
    manifest = json.loads((root / "etc/hydra-nixos/managed.json").read_text())
    assert manifest["units"] == ["nginx.service", "ollama@11434.service", "ollama@11435.service"]
    built_conf = generations.path(root, 2) / "etc/nginx/nginx.conf"
    assert (root / "etc/nginx/nginx.conf").read_text() == built_conf.read_text()
    assert (root / "etc/tmpfiles.d/00-nixos.conf").read_text() == "d /var/lib/ollama/models 0750 ollama ollama -\n"
    assert ["systemd-tmpfiles", "--create", "/etc/tmpfiles.d/00-nixos.conf"] in host.calls
    assert ["useradd", "-r", "-g", "ollama", "-G", "video,render", "-d", "/var/empty", "-M", "-s",
            "/usr/sbin/nologin", "ollama"] in host.calls
    assert ["groupadd", "-r", "render"] in host.calls and ["groupadd", "-r", "video"] not in host.calls
    restore = host.inputs[host.calls.index(["iptables-restore", "-w", "--noflush"])]
    assert "--dport 11400 -j ACCEPT" in restore and "--dport 22 -j ACCEPT" in restore
    sw = generations.path(root, 2) / "sw/bin/ollama"
    assert str(sw.readlink()) == f"{pkgs['ollama']['outPath']}/bin/ollama"
    assert "stopping the following units: ollama.service" in capsys.readouterr().err


def test_nginx_conf_change_reloads_with_enable_reload_else_restarts(root: Path, pkgs: dict[str, dict]) -> None:
    host = FakeHost()
    config = dual_config(pkgs)
    assert rebuild(root, host, config, "switch") == 0
    host.clear()
    config["services"]["nginx"]["clientMaxBodySize"] = "20m"
    assert rebuild(root, host, config, "switch") == 0
    assert host.systemctl("reload") == [["systemctl", "reload", "--", "nginx.service"]]
    assert not host.systemctl("restart") and not host.systemctl("stop")
    host.clear()
    config["services"]["nginx"].update(enableReload=False, clientMaxBodySize="30m")
    assert rebuild(root, host, config, "switch") == 0
    assert host.systemctl("restart") == [["systemctl", "restart", "--", "nginx.service"]]  # stopIfChanged = false
    assert not host.systemctl("reload")


def test_debian_nginx_unit_is_masked_when_the_generated_one_goes(root: Path, pkgs: dict[str, dict]) -> None:
    vendor = root / "lib/systemd/system/nginx.service"
    vendor.parent.mkdir(parents=True)
    vendor.write_text("[Service]\nExecStart=/usr/sbin/nginx\n")
    debian_link = root / "etc/systemd/system/multi-user.target.wants/nginx.service"
    debian_link.parent.mkdir(parents=True)
    debian_link.symlink_to("/lib/systemd/system/nginx.service")
    host = FakeHost()
    host.states["nginx.service"] = "active"  # Debian's nginx, running
    host.states["ssh.service"] = "active"
    assert rebuild(root, host, dual_config(pkgs), "switch") == 0
    assert ["systemctl", "restart", "--", "nginx.service"] in host.calls
    assert str(debian_link.readlink()) == "/etc/systemd/system/nginx.service"
    assert rebuild(root, host, base_config(pkgs), "switch") == 0
    assert ["systemctl", "stop", "--", "nginx.service", "ollama@11434.service", "ollama@11435.service"] in host.calls
    assert str((root / "etc/systemd/system/nginx.service").readlink()) == "/dev/null"
    assert not debian_link.exists() and not debian_link.is_symlink()
    assert not any("ssh.service" in c for c in host.calls)  # never touches units outside its manifest


def test_failed_units_fail_the_switch_and_the_generation_stays(root: Path, pkgs: dict[str, dict],
                                                              capsys: pytest.CaptureFixture) -> None:
    host = FakeHost(failing={"ollama@11435.service"})
    assert rebuild(root, host, dual_config(pkgs), "switch") == 1  # nixos-rebuild: 1 whenever activation fails
    err = capsys.readouterr().err
    assert "warning: the following units failed: ollama@11435.service" in err
    assert "ollama@11435.service: boom" in err and f"{SWITCH_ERROR}\n" in err
    assert generations.current(root) == 1  # the profile moved before the activation, as nix-env --set does


def test_switch_to_configuration_exits_4_for_any_failed_unit_and_leaves_the_profile(
        root: Path, pkgs: dict[str, dict], capsys: pytest.CaptureFixture) -> None:
    host = FakeHost()
    assert rebuild(root, host, base_config(pkgs), "switch") == 0
    assert rebuild(root, host, dual_config(pkgs), "switch") == 0
    stc = generations.path(root, 1) / "bin/switch-to-configuration"
    assert stc.stat().st_mode & 0o111 and "nixos-rebuild switch-to-configuration" in stc.read_text()
    host.states["operator-broken.service"] = "failed"  # the operator's own unit, not one this activation starts
    capsys.readouterr()
    gen1 = "/nix/var/nix/profiles/system-1-link"
    assert main(["switch-to-configuration", gen1, "switch"], root=root, run=host, timeout=2, settle=0,
                sleep=lambda _: None) == 4
    assert "warning: the following units failed: operator-broken.service" in capsys.readouterr().err
    assert (root / "run/current-system").readlink() == Path(gen1)
    assert generations.current(root) == 2  # the profile is nix-env's business, not switch-to-configuration's
    assert host.states["ollama.service"] == "active" and host.states["ollama@11434.service"] == "inactive"
    assert rebuild(root, host, dual_config(pkgs), "switch") == 1  # a plain switch fails on it too
    assert main(["switch-to-configuration", "/nix/store/x-system", "switch"], root=root, run=host) == 1
    assert "is not a generation of the system profile" in capsys.readouterr().err
    assert main(["switch-to-configuration", gen1], root=root, run=host) == 1


# --- generations ------------------------------------------------------------------------------------------------


def test_generations_numbering_identical_switch_and_rollback(root: Path, pkgs: dict[str, dict],
                                                            capsys: pytest.CaptureFixture) -> None:
    host = FakeHost()
    assert rebuild(root, host, None, "switch", "--rollback") == 1
    assert "error: no previous generation" in capsys.readouterr().err
    assert rebuild(root, host, base_config(pkgs), "switch") == 0
    assert generations.numbers(root) == [1] and generations.current(root) == 1
    assert (root / "nix/var/nix/profiles/system").readlink() == Path("system-1-link")
    assert (root / "run/current-system").readlink() == Path("/nix/var/nix/profiles/system-1-link")
    gen1 = generations.path(root, 1)
    for name in ("config.json", "sources.sha256", "nixos-version", "firewall.rules",
                 "etc/systemd/system/ollama.service"):
        assert (gen1 / name).is_file(), name
    assert json.loads((gen1 / "config.json").read_text()) == base_config(pkgs)

    host.clear()  # same config, same sources: no generation, nothing restarted
    assert rebuild(root, host, base_config(pkgs), "switch") == 0
    assert generations.numbers(root) == [1]
    assert not [c for c in host.calls if c[:2] in (["systemctl", "start"], ["systemctl", "restart"],
                                                   ["systemctl", "stop"], ["systemctl", "reload"])]

    # same config but a changed source file: a new generation (the deploy can tell from the hash)
    before = generations.source_hash(root)
    (root / "etc/nixos/hydra-ops/ollama.nix").write_text("{ services.ollama.enable = true; } # edited\n")
    assert generations.source_hash(root) != before
    assert rebuild(root, host, base_config(pkgs), "switch") == 0
    assert generations.numbers(root) == [1, 2]
    assert (generations.path(root, 2) / "sources.sha256").read_text().strip() == generations.source_hash(root)
    capsys.readouterr()
    assert main(["source-hash"], root=root) == 0
    assert capsys.readouterr().out.strip() == generations.source_hash(root)

    assert rebuild(root, host, dual_config(pkgs), "switch") == 0
    assert generations.current(root) == 3 and host.states["ollama@11434.service"] == "active"
    host.clear()
    assert rebuild(root, host, None, "switch", "--rollback") == 0
    assert generations.current(root) == 2 and generations.numbers(root) == [1, 2, 3]
    assert (root / "run/current-system").readlink() == Path("/nix/var/nix/profiles/system-2-link")
    assert host.index("stop", "ollama@11434.service") < host.index("start", "ollama.service")
    assert (root / "etc/systemd/system/ollama.service").is_file()
    assert not (root / "etc/systemd/system/ollama@11434.service").exists()

    capsys.readouterr()
    assert main(["list-generations", "--json"], root=root) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["generation"], r["current"]) for r in rows] == [(3, False), (2, True), (1, False)]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", rows[0]["date"])
    assert main(["list-generations"], root=root) == 0
    assert re.search(r"^2 current\s", capsys.readouterr().out, re.M)


def test_source_hash_covers_paths_and_contents(root: Path) -> None:
    first = generations.source_hash(root)
    (root / "etc/nixos/hydra-ops/ollama.nix").rename(root / "etc/nixos/hydra-ops/ollama2.nix")
    assert generations.source_hash(root) != first
    (root / "etc/nixos/hydra-ops/ollama2.nix").rename(root / "etc/nixos/hydra-ops/ollama.nix")
    assert generations.source_hash(root) == first
