"""The nixos-rebuild double: firewall rules, users, its CLI, boot activation and install."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from devcluster.nixos.rebuild import firewall, generations, install
from devcluster.nixos.rebuild.nixos_rebuild import main, nix_evaluator
from devcluster.nixos.rebuild.units import parse_unit
from devcluster.nixos.rebuild.users import plan as users_plan
from tests.unit.nixos_rebuild_helpers import FakeHost, dual_config, rebuild

# --- firewall, users, CLI, boot, install -------------------------------------------------------------------------


def test_firewall_rules_text() -> None:
    config = {"networking": {"firewall": {
        "enable": True, "allowedTCPPorts": [11400, 80], "allowedUDPPorts": [53], "allowPing": False,
        "allowedTCPPortRanges": [{"from": 8000, "to": 8010}], "trustedInterfaces": ["wg0"], "rejectPackets": True,
        "interfaces": {"eth1": {"allowedTCPPorts": [9100]}}}},
        "services": {"openssh": {"enable": True, "openFirewall": True, "ports": [2222]}}}
    text = firewall.rules(firewall.settings(config))
    assert text.splitlines() == [
        "*filter", ":nixos-fw - [0:0]",
        "-A nixos-fw -i lo -j ACCEPT", "-A nixos-fw -i wg0 -j ACCEPT",
        "-A nixos-fw -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        "-A nixos-fw -p tcp -m tcp --dport 80 -j ACCEPT", "-A nixos-fw -p tcp -m tcp --dport 2222 -j ACCEPT",
        "-A nixos-fw -p tcp -m tcp --dport 11400 -j ACCEPT", "-A nixos-fw -p tcp -m tcp --dport 8000:8010 -j ACCEPT",
        "-A nixos-fw -p udp -m udp --dport 53 -j ACCEPT", "-A nixos-fw -i eth1 -p tcp -m tcp --dport 9100 -j ACCEPT",
        "-A nixos-fw -p tcp -j REJECT --reject-with tcp-reset",
        "-A nixos-fw -j REJECT --reject-with icmp-port-unreachable", "COMMIT"]
    default = firewall.rules(firewall.settings({}))
    assert "-p icmp -m icmp --icmp-type 8 -j ACCEPT" in default and default.endswith("-A nixos-fw -j DROP\nCOMMIT\n")
    host = FakeHost()
    assert firewall.apply(host, default) == []
    assert host.calls == [["iptables-restore", "-w", "--noflush"], ["iptables", "-w", "-C", "INPUT", "-j", "nixos-fw"],
                          ["iptables", "-w", "-A", "INPUT", "-j", "nixos-fw"]]
    host.clear()
    assert firewall.apply(host, default) == [] and len(host.calls) == 2  # hooked once only
    host.clear()
    assert firewall.apply(host, None) == []  # firewall.enable = false: unhook and drop the chain
    assert host.calls == [["iptables", "-w", "-C", "INPUT", "-j", "nixos-fw"],
                          ["iptables", "-w", "-D", "INPUT", "-j", "nixos-fw"],
                          ["iptables", "-w", "-C", "INPUT", "-j", "nixos-fw"],
                          ["iptables", "-w", "-F", "nixos-fw"], ["iptables", "-w", "-X", "nixos-fw"]]


def test_users_plan_creates_and_updates(root: Path) -> None:
    (root / "etc/passwd").write_text((root / "etc/passwd").read_text() + "ollama:x:999:999::/home/ollama:/bin/sh\n")
    (root / "etc/group").write_text((root / "etc/group").read_text() + "ollama:x:999:\n")
    cmds = users_plan(root, {"ollama": {"isSystemUser": True, "group": "ollama", "extraGroups": ["video", "render"],
                                        "home": "/var/lib/ollama", "shell": None},
                             "alice": {"isNormalUser": True, "extraGroups": ["wheel"], "uid": 1000}},
                      {"ollama": {"gid": None}})
    assert cmds == [["groupadd", "-r", "users"], ["groupadd", "-r", "wheel"],
                    ["useradd", "-u", "1000", "-g", "users", "-G", "wheel", "-d", "/home/alice", "-m", "-s",
                     "/bin/bash", "alice"],
                    ["groupadd", "-r", "render"],
                    ["usermod", "-a", "-G", "video,render", "-d", "/var/lib/ollama", "-s", "/usr/sbin/nologin",
                     "ollama"]]


def test_cli_refuses_unknown_verbs_flags_and_evaluation_errors(root: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["boot"], root=root) == 1
    assert "error: unknown command boot" in capsys.readouterr().err
    assert main(["switch", "--upgrade"], root=root) == 1
    assert "error: unknown option --upgrade" in capsys.readouterr().err
    assert main([], root=root) == 1
    assert main(["--help"], root=root) == 0
    assert "source-hash" in capsys.readouterr().out

    def failing(argv: list[str], input: str | None = None) -> subprocess.CompletedProcess:
        assert argv[:5] == ["nix-instantiate", "--eval", "--strict", "--json", "/lib/eval.nix"]
        assert argv[5:] == ["--arg", "configuration", "/etc/nixos/configuration.nix", "--arg", "pkgsFile", "/p.json"]
        return subprocess.CompletedProcess(argv, 1, "", "error: The option `services.olama' does not exist.\n")

    evaluate = nix_evaluator("/lib", "/p.json", run=failing)
    assert main(["switch"], root=root, run=FakeHost(), evaluate=evaluate) == 1
    err = capsys.readouterr().err
    assert "error: The option `services.olama' does not exist." in err and "error: error:" not in err
    assert generations.numbers(root) == []
    assert main(["dry-build"], root=root, run=FakeHost()) == 1  # no double.json
    assert "error: cannot read /etc/hydra-nixos/double.json" in capsys.readouterr().err


def test_evaluator_command_assertions_and_warnings(root: Path, capsys: pytest.CaptureFixture) -> None:
    lib = root / "lib"
    lib.mkdir()
    (root / "etc/hydra-nixos").mkdir(parents=True, exist_ok=True)
    (root / "etc/hydra-nixos/double.json").write_text(json.dumps({"lib": str(lib), "pkgs": "/etc/hydra-nixos/p.json"}))
    seen: list[list[str]] = []
    answer = {"assertions": [{"assertion": True, "message": "fine"}, {"assertion": False, "message": "no GPU"}],
              "warnings": ["deprecated option"]}

    def nix(argv: list[str], input: str | None = None) -> subprocess.CompletedProcess:
        seen.append(argv)
        return subprocess.CompletedProcess(argv, 0, json.dumps(answer), "")

    assert main(["dry-build", "--show-trace"], root=root, run=nix) == 1
    assert seen[0] == ["nix-instantiate", "--eval", "--strict", "--json", f"{lib}/eval.nix", "--arg", "configuration",
                       f"{root}/etc/nixos/configuration.nix", "--arg", "pkgsFile", "/etc/hydra-nixos/p.json",
                       "--show-trace"]
    err = capsys.readouterr().err
    assert "Failed assertions:\n- no GPU" in err and "- fine" not in err
    answer["assertions"] = []
    assert main(["dry-build"], root=root, run=nix) == 0
    assert "trace: warning: deprecated option" in capsys.readouterr().err


def test_boot_builds_generation_1_without_blocking_then_only_relinks(root: Path, pkgs: dict[str, dict]) -> None:
    host = FakeHost()
    assert rebuild(root, host, dual_config(pkgs), "activate-at-boot") == 0
    assert generations.current(root) == 1
    starts = host.systemctl("start")
    assert starts == [["systemctl", "start", "--no-block", "--", "nginx.service", "ollama@11434.service",
                       "ollama@11435.service"]]
    (root / "run/current-system").unlink()  # /run is a tmpfs
    host.clear()
    assert rebuild(root, host, None, "activate-at-boot") == 0
    assert (root / "run/current-system").readlink() == Path("/nix/var/nix/profiles/system-1-link")
    assert [c[0] for c in host.calls] == ["iptables-restore", "iptables"]
    assert generations.numbers(root) == [1]


def test_install_writes_the_double_wrapper_config_and_boot_unit(tmp_path: Path, pkgs: dict[str, dict]) -> None:
    root = tmp_path / "newhost"
    written = install(root, "/usr/local/lib/hydra-nixos/eval")
    assert "/usr/local/sbin/nixos-rebuild" in written and (root / "etc/NIXOS").exists()
    assert json.loads((root / "etc/hydra-nixos/double.json").read_text()) == {
        "lib": "/usr/local/lib/hydra-nixos/eval", "pkgs": "/etc/hydra-nixos/pkgs.json"}
    unit = parse_unit((root / "etc/systemd/system/nixos-activation.service").read_text())
    assert ("Type", "oneshot") in unit["Service"] and ("RemainAfterExit", "yes") in unit["Service"]
    assert ("Before", "multi-user.target") in unit["Unit"] and ("After", "local-fs.target") in unit["Unit"]
    link = root / "etc/systemd/system/multi-user.target.wants/nixos-activation.service"
    assert str(link.readlink()) == "/etc/systemd/system/nixos-activation.service"
    wrapper = root / "usr/local/sbin/nixos-rebuild"
    assert wrapper.stat().st_mode & 0o111
    # the installed copy runs stand-alone with the system python (stdlib only)
    copy_dir = root / "usr/local/lib/hydra-nixos"
    script = wrapper.read_text().replace("/usr/local/lib/hydra-nixos", str(copy_dir))
    (tmp_path / "wrapper").write_text(script)
    result = subprocess.run(["sh", str(tmp_path / "wrapper"), "--help"], capture_output=True, text=True, check=False,
                            cwd=tmp_path)
    assert result.returncode == 0 and "list-generations" in result.stdout, result.stderr
    bad = subprocess.run(["sh", str(tmp_path / "wrapper"), "frobnicate"], capture_output=True, text=True, check=False,
                         cwd=tmp_path)
    assert bad.returncode == 1 and "error: unknown command frobnicate" in bad.stderr
