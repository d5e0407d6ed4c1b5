"""services.prometheus.exporters.node and the nvidia driver's package: declared for the real evaluator, realised by
the nixos-rebuild double (unit, account, firewall port, sw/bin), and provided by the NixOS-shaped guest image."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devcluster.local import nixos_host
from devcluster.nixos import evaluate
from devcluster.nixos.rebuild import generations, make_store, modules, realise
from devcluster.nixos.rebuild.units import parse_unit, render_service
from tests.unit.nixos_eval_helpers import BEFORE, _error
from tests.unit.nixos_rebuild_helpers import FakeHost, rebuild

UNIT = "prometheus-node-exporter"
NODE_ON = "services.prometheus.exporters.node = { enable = true; port = 9100; openFirewall = true; };"
HARDENING = {
    "Restart": "always", "PrivateTmp": "true", "WorkingDirectory": "/tmp", "CapabilityBoundingSet": "",
    "DeviceAllow": "", "LockPersonality": "true", "MemoryDenyWriteExecute": "true", "NoNewPrivileges": "true",
    "PrivateDevices": "true", "ProtectControlGroups": "true", "ProtectHome": "true", "ProtectHostname": "true",
    "ProtectKernelLogs": "true", "ProtectKernelModules": "true", "ProtectKernelTunables": "true",
    "ProtectSystem": "strict", "RemoveIPC": "true", "RestrictNamespaces": "true", "RestrictRealtime": "true",
    "RestrictSUIDSGID": "true", "SystemCallArchitectures": "native", "UMask": "0077",
}


def _store(root: Path, *, node: bool = True, nvidia: bool = True) -> dict[str, dict]:
    """The double's store in `root`, with the exporter and the driver unless told otherwise."""
    packages: dict[str, dict] = {"ollama": {"version": "0.8.0", "bin": {"ollama": "/usr/bin/true"}},
                                 "curl": {"version": "8.1.2", "bin": {"curl": "/usr/bin/curl"}}}
    if node:
        packages["prometheus-node-exporter"] = {"version": "1.5.0",
                                                "bin": {"node_exporter": "/usr/bin/prometheus-node-exporter"}}
    if nvidia:
        packages["nvidia_x11"] = {"version": "565.77", "bin": {"nvidia-smi": "/usr/bin/nvidia-smi"}}
    return make_store(root, packages)


def _evaluate(root: Path, tmp: Path, body: str) -> dict[str, Any]:
    """Evaluate `{ <body> }` with the real evaluator against the store's pkgs.json in `root`."""
    config = tmp / "cfg" / "configuration.nix"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"{{ pkgs, ... }}: {{\n  {body}\n  system.stateVersion = \"24.11\";\n}}\n")
    return evaluate(config, root / "etc/hydra-nixos/pkgs.json")


def _service(unit_text: str) -> dict[str, list[str]]:
    """The [Service] section as {key: [values in order]}."""
    found: dict[str, list[str]] = {}
    for key, value in parse_unit(unit_text)["Service"]:
        found.setdefault(key, []).append(value)
    return found


# --- declarations -----------------------------------------------------------------------------------------------


def test_node_exporter_options_evaluate_with_nixpkgs_defaults(root: Path, tmp_path: Path) -> None:
    _store(root)
    node = _evaluate(root, tmp_path, NODE_ON)["services"]["prometheus"]["exporters"]["node"]
    assert node == {"enable": True, "port": 9100, "listenAddress": "0.0.0.0", "extraFlags": [],
                    "openFirewall": True, "firewallFilter": None, "firewallRules": None, "user": "node-exporter",
                    "group": "node-exporter", "enabledCollectors": [], "disabledCollectors": []}
    off = _evaluate(root, tmp_path, "")["services"]["prometheus"]["exporters"]["node"]
    assert (off["enable"], off["port"], off["openFirewall"]) == (False, 9100, False)


def test_wrong_port_type_is_refused_with_the_option_name(tmp_path: Path, pkgs_file: Path) -> None:
    msg = _error(tmp_path, pkgs_file, {"configuration.nix": '{ services.prometheus.exporters.node.port = "x"; }'})
    assert msg.startswith("A definition for option `services.prometheus.exporters.node.port' is not of type "
                          "`16 bit unsigned integer; between 0 and 65535 (both inclusive)'.")
    assert f'- In `{tmp_path}/configuration.nix\': "x"' in msg
    msg = _error(tmp_path, pkgs_file, {"configuration.nix": "{ services.prometheus.exporters.node.port = 70000; }"})
    assert "`services.prometheus.exporters.node.port' is not of type `16 bit unsigned integer" in msg
    msg = _error(tmp_path, pkgs_file, {"configuration.nix": "{ services.prometheus.exporters.node.collectors = []; }"})
    assert msg.startswith("The option `services.prometheus.exporters.node.collectors' does not exist.")


# --- the double -------------------------------------------------------------------------------------------------


def test_switch_realises_unit_account_port_and_nvidia_smi(root: Path, tmp_path: Path) -> None:
    pkgs = _store(root)
    config = _evaluate(root, tmp_path, NODE_ON + '\n  services.xserver.videoDrivers = [ "nvidia" ];')
    host = FakeHost()
    assert rebuild(root, host, config, "switch") == 0
    gen = generations.path(root, 1)
    text = (gen / f"etc/systemd/system/{UNIT}.service").read_text()
    service = _service(text)
    node_bin = f"{pkgs['prometheus-node-exporter']['outPath']}/bin/node_exporter"
    assert service["ExecStart"] == [f"{node_bin} --web.listen-address 0.0.0.0:9100"]
    assert (service["User"], service["Group"], service["DynamicUser"]) == (["node-exporter"], ["node-exporter"],
                                                                           ["false"])
    assert {k: service[k] for k in HARDENING} == {k: [v] for k, v in HARDENING.items()}
    assert service["RestrictAddressFamilies"] == ["AF_INET", "AF_INET6", "AF_NETLINK"]
    assert service["ProtectClock"] == ["false"]  # timex stays on, so node.nix lets it read the clock
    assert service["RuntimeDirectory"] == ["prometheus-node-exporter"]
    assert dict(parse_unit(text)["Unit"])["After"] == "network.target"
    assert parse_unit(text)["Install"] == [("WantedBy", "multi-user.target")]
    accounts = json.loads((gen / "users.json").read_text())
    assert accounts["users"]["node-exporter"]["isSystemUser"] is True
    assert accounts["users"]["node-exporter"]["group"] == "node-exporter"
    assert "node-exporter" in accounts["groups"]
    assert ["groupadd", "-r", "node-exporter"] in host.calls
    useradd = next(c for c in host.calls if c[0] == "useradd" and c[-1] == "node-exporter")
    assert useradd[:4] == ["useradd", "-r", "-g", "node-exporter"] and "/usr/sbin/nologin" in useradd
    restore = host.inputs[host.calls.index(["iptables-restore", "-w", "--noflush"])]
    assert "-p tcp -m tcp --dport 9100 -j ACCEPT" in restore
    assert any(c[:2] == ["systemctl", "start"] and f"{UNIT}.service" in c for c in host.calls)
    smi = gen / "sw/bin/nvidia-smi"
    assert str(smi.readlink()) == f"{pkgs['nvidia_x11']['outPath']}/bin/nvidia-smi"
    assert not (gen / "sw/bin/node_exporter").exists()  # nixpkgs' module does not put it on the system path


def test_collectors_flags_and_a_declared_unit_merge(root: Path, tmp_path: Path) -> None:
    pkgs = _store(root)
    config = _evaluate(root, tmp_path, """
  services.prometheus.exporters.node = {
    enable = true; listenAddress = "127.0.0.1"; port = 9101;
    enabledCollectors = [ "systemd" "processes" ]; disabledCollectors = [ "netdev" "timex" ];
    extraFlags = [ "--collector.textfile.directory=/run/metrics" ];
  };
  systemd.services.prometheus-node-exporter = {
    after = [ "mnt-models.mount" ];
    serviceConfig.LimitNOFILE = 4096;
    serviceConfig.RestrictAddressFamilies = [ "AF_PACKET" ];
  };""")
    want = modules.expand(root, config)
    service = _service(render_service(root, UNIT, want["services"][UNIT]))
    node_bin = f"{pkgs['prometheus-node-exporter']['outPath']}/bin/node_exporter"
    assert service["ExecStart"] == [f"{node_bin} --collector.systemd --collector.processes --no-collector.netdev "
                                    "--no-collector.timex --web.listen-address 127.0.0.1:9101 "
                                    "--collector.textfile.directory=/run/metrics"]
    # systemd needs AF_UNIX, netdev off drops AF_NETLINK; the declared list adds to the module's
    assert service["RestrictAddressFamilies"] == ["AF_INET", "AF_INET6", "AF_UNIX", "AF_PACKET"]
    assert service["ProtectClock"] == ["true"] and service["LimitNOFILE"] == ["4096"]
    assert want["services"][UNIT]["after"] == ["network.target", "mnt-models.mount"]
    assert want["tcp_ports"] == []  # openFirewall left off


def test_custom_user_is_not_created_and_declared_account_keeps_the_module_s(root: Path, tmp_path: Path) -> None:
    _store(root)
    config = _evaluate(root, tmp_path, 'services.prometheus.exporters.node = { enable = true; user = "nobody"; };')
    want = modules.expand(root, config)
    assert "node-exporter" not in want["users"] and "node-exporter" in want["groups"]
    assert want["services"][UNIT]["serviceConfig"]["User"] == "nobody"
    config = _evaluate(root, tmp_path, NODE_ON + '\n  users.users.node-exporter.extraGroups = [ "video" ];')
    account = modules.expand(root, config)["users"]["node-exporter"]
    assert (account["isSystemUser"], account["group"], account["extraGroups"]) == (True, "node-exporter", ["video"])


def test_missing_exporter_package_fails_the_build(root: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    _store(root, node=False)
    config = _evaluate(root, tmp_path, NODE_ON)
    with pytest.raises(realise.BuildError, match="'prometheus-node-exporter' missing"):
        modules.expand(root, config)
    assert rebuild(root, FakeHost(), config, "switch") == 1
    assert "error: attribute 'prometheus-node-exporter' missing" in capsys.readouterr().err
    assert generations.numbers(root) == []


def test_nvidia_package_only_with_the_nvidia_video_driver(root: Path, tmp_path: Path) -> None:
    pkgs = _store(root)
    nvidia = pkgs["nvidia_x11"]["outPath"]
    config = _evaluate(root, tmp_path, "")
    assert config["hardware"]["nvidia"]["package"] == nvidia  # the default, from the package set
    assert nvidia not in modules.expand(root, config)["packages"]
    config = _evaluate(root, tmp_path, 'services.xserver.videoDrivers = [ "nvidia" ];')
    assert modules.expand(root, config)["packages"].count(nvidia) == 1
    _store(root, nvidia=False)  # a package set without the driver: nothing to add, nothing to fail
    config = _evaluate(root, tmp_path, 'services.xserver.videoDrivers = [ "nvidia" ];')
    assert "package" not in config["hardware"]["nvidia"]
    assert modules.expand(root, config)["packages"] == []


def test_seed_configuration_gets_nvidia_smi_from_the_guest_store(root: Path, tmp_path: Path) -> None:
    pkgs = make_store(root, nixos_host.store_packages("/opt/hydra-nixos-src/ollama"))
    config = evaluate(BEFORE / "compute" / "configuration.nix", root / "etc/hydra-nixos/pkgs.json")
    made = realise.build(root, tmp_path / "gen", config, "0" * 64, FakeHost())
    assert "sw/bin/nvidia-smi" in made
    assert str((tmp_path / "gen/sw/bin/nvidia-smi").readlink()) == f"{pkgs['nvidia_x11']['outPath']}/bin/nvidia-smi"
    assert not (tmp_path / "gen/etc/systemd/system" / f"{UNIT}.service").exists()  # the seeds run no exporter


# --- the guest image --------------------------------------------------------------------------------------------


def test_guest_image_provides_the_exporter_and_driver(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "prometheus-node-exporter" in nixos_host.PACKAGES and nixos_host.IMAGE_VERSION == 3
    packages = nixos_host.store_packages("/opt/ollama")
    assert packages["prometheus-node-exporter"]["bin"] == {"node_exporter": "/usr/bin/prometheus-node-exporter"}
    assert packages["nvidia_x11"]["bin"] == {"nvidia-smi": "/usr/bin/nvidia-smi"}
    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(nixos_host, "run", lambda *argv: calls.append(argv))
    nixos_host._finish(root)
    assert ("chroot", str(root), "systemctl", "disable", "prometheus-node-exporter.service") in calls
    assert ("chroot", str(root), "systemctl", "disable", "nginx.service") in calls
