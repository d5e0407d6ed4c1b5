"""Host-side networking for the local cluster: a bridge, one network namespace + veth per host, NAT to apt."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


def run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command with captured output; raise with its stderr when it fails and check is set."""
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


@dataclass(frozen=True)
class Net:
    """The bridge and subnet every local host joins."""

    bridge: str
    gateway: str
    prefix: int

    @property
    def subnet(self) -> str:
        base = self.gateway.rsplit(".", 1)[0]
        return f"{base}.0/{self.prefix}"

    def nat_rule(self) -> list[str]:
        return ["POSTROUTING", "-s", self.subnet, "!", "-o", self.bridge, "-j", "MASQUERADE",
                "-m", "comment", "--comment", "hydra-ops"]

    def forward_rules(self) -> list[list[str]]:
        tag = ["-m", "comment", "--comment", "hydra-ops"]
        return [["FORWARD", "-i", self.bridge, "-j", "ACCEPT", *tag],
                ["FORWARD", "-o", self.bridge, "-j", "ACCEPT", *tag]]


def netns_name(net: Net, host: str) -> str:
    """The host's network namespace, named after its bridge too: two flavours' hydra-ai never share one."""
    return f"{net.bridge}-{host}"


def veth_name(net: Net, host: str) -> str:
    """Host-side veth name (at most 15 bytes): the bridge's number, then the host, e.g. v0-compute."""
    return (f"v{net.bridge.removeprefix('hydrabr')}-" + host.removeprefix("hydra-"))[:15]


def bridge_up(net: Net) -> None:
    if run("ip", "link", "show", net.bridge, check=False).returncode != 0:
        run("ip", "link", "add", net.bridge, "type", "bridge")
        run("ip", "addr", "add", f"{net.gateway}/{net.prefix}", "dev", net.bridge)
    run("ip", "link", "set", net.bridge, "up")
    Path("/proc/sys/net/ipv4/ip_forward").write_text("1\n")
    _ensure_rule("nat", net.nat_rule())
    for rule in net.forward_rules():
        _ensure_rule("filter", rule)


def _ensure_rule(table: str, rule: list[str]) -> None:
    if run("iptables", "-t", table, "-C", *rule, check=False).returncode != 0:
        run("iptables", "-t", table, "-A", *rule)


def host_up(net: Net, host: str, address: str) -> None:
    """Create the host's namespace and veth (idempotent) with its address and a default route via the bridge."""
    ns, veth = netns_name(net, host), veth_name(net, host)
    if not Path(f"/run/netns/{ns}").exists():
        run("ip", "netns", "add", ns)
    if run("ip", "link", "show", veth, check=False).returncode != 0:
        run("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
    run("ip", "link", "set", veth, "master", net.bridge, "up")
    have = run("ip", "-n", ns, "-o", "addr", "show", "dev", "eth0").stdout
    if f"{address}/" not in have:
        run("ip", "-n", ns, "addr", "add", f"{address}/{net.prefix}", "dev", "eth0")
    run("ip", "-n", ns, "link", "set", "eth0", "up")
    run("ip", "-n", ns, "link", "set", "lo", "up")
    run("ip", "-n", ns, "route", "replace", "default", "via", net.gateway)


def host_down(net: Net, host: str) -> None:
    """Delete the namespace (its eth0 goes with it, and so does the veth peer)."""
    run("ip", "netns", "del", netns_name(net, host), check=False)
    run("ip", "link", "del", veth_name(net, host), check=False)


def bridge_down(net: Net) -> None:
    run("ip", "link", "del", net.bridge, check=False)
    for table, rule in [("nat", net.nat_rule())] + [("filter", r) for r in net.forward_rules()]:
        while run("iptables", "-t", table, "-C", *rule, check=False).returncode == 0:
            run("iptables", "-t", table, "-D", *rule)


def leftovers(net: Net, hosts: list[str]) -> list[str]:
    """What `down` should have removed but is still there (empty when clean)."""
    found = []
    if run("ip", "link", "show", net.bridge, check=False).returncode == 0:
        found.append(f"bridge {net.bridge}")
    for host in hosts:
        if Path(f"/run/netns/{netns_name(net, host)}").exists():
            found.append(f"netns {host}")
        if run("ip", "link", "show", veth_name(net, host), check=False).returncode == 0:
            found.append(f"veth {veth_name(net, host)}")
    if run("iptables", "-t", "nat", "-C", *net.nat_rule(), check=False).returncode == 0:
        found.append("NAT rule")
    return found
