"""networking.firewall as iptables rules: one `nixos-fw` chain hooked from INPUT, rebuilt atomically."""

from __future__ import annotations

from typing import Any

CHAIN = "nixos-fw"

FIREWALL_DEFAULTS: dict[str, Any] = {
    "enable": True, "allowedTCPPorts": [], "allowedUDPPorts": [], "allowedTCPPortRanges": [],
    "allowedUDPPortRanges": [], "allowPing": True, "trustedInterfaces": [], "rejectPackets": False,
    "interfaces": {}, "extraCommands": "",
}


def settings(config: dict[str, Any], extra_tcp: list[int] | None = None) -> dict[str, Any]:
    """networking.firewall with defaults, plus the ports modules open (openFirewall options, openssh)."""
    cfg = dict(FIREWALL_DEFAULTS)
    cfg.update({k: v for k, v in ((config.get("networking") or {}).get("firewall") or {}).items() if v is not None})
    tcp = list(cfg["allowedTCPPorts"])
    ssh = (config.get("services") or {}).get("openssh") or {}
    if ssh.get("enable") and ssh.get("openFirewall", True):
        tcp += list(ssh.get("ports") or [22])
    tcp += list(extra_tcp or [])
    cfg["allowedTCPPorts"] = sorted(set(tcp))
    return cfg


def _port_rules(proto: str, ports: list[int], ranges: list[dict[str, int]], iface: str | None) -> list[str]:
    match = f"-i {iface} " if iface else ""
    rules = [f"-A {CHAIN} {match}-p {proto} -m {proto} --dport {p} -j ACCEPT" for p in sorted(set(ports))]
    rules += [f"-A {CHAIN} {match}-p {proto} -m {proto} --dport {r['from']}:{r['to']} -j ACCEPT" for r in ranges]
    return rules


def rules(cfg: dict[str, Any]) -> str:
    """The iptables-restore input (for `--noflush`: declaring the chain flushes just that chain)."""
    lines = ["*filter", f":{CHAIN} - [0:0]"]
    lines += [f"-A {CHAIN} -i {iface} -j ACCEPT" for iface in ["lo", *cfg["trustedInterfaces"]]]
    lines.append(f"-A {CHAIN} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
    if cfg["allowPing"]:
        lines.append(f"-A {CHAIN} -p icmp -m icmp --icmp-type 8 -j ACCEPT")
    interfaces = {None: cfg}
    interfaces.update({(None if k == "default" else k): v or {} for k, v in (cfg["interfaces"] or {}).items()})
    for iface, spec in interfaces.items():
        lines += _port_rules("tcp", spec.get("allowedTCPPorts") or [], spec.get("allowedTCPPortRanges") or [], iface)
        lines += _port_rules("udp", spec.get("allowedUDPPorts") or [], spec.get("allowedUDPPortRanges") or [], iface)
    if cfg["rejectPackets"]:
        lines += [f"-A {CHAIN} -p tcp -j REJECT --reject-with tcp-reset",
                  f"-A {CHAIN} -j REJECT --reject-with icmp-port-unreachable"]
    else:
        lines.append(f"-A {CHAIN} -j DROP")
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def apply(run, rules_text: str | None, extra_commands: str = "") -> list[str]:
    """Load the chain and hook it from INPUT (rules_text None: unhook and delete it). Returns error messages."""
    errors: list[str] = []
    if rules_text is None:
        for _ in range(16):  # the hook may have been added more than once by hand
            if run(["iptables", "-w", "-C", "INPUT", "-j", CHAIN]).returncode != 0:
                break
            if run(["iptables", "-w", "-D", "INPUT", "-j", CHAIN]).returncode != 0:
                break
        run(["iptables", "-w", "-F", CHAIN])
        run(["iptables", "-w", "-X", CHAIN])
        return errors
    result = run(["iptables-restore", "-w", "--noflush"], input=rules_text)
    if result.returncode != 0:
        return [f"iptables-restore failed: {result.stderr.strip()}"]
    if run(["iptables", "-w", "-C", "INPUT", "-j", CHAIN]).returncode != 0:
        hooked = run(["iptables", "-w", "-A", "INPUT", "-j", CHAIN])
        if hooked.returncode != 0:
            errors.append(f"could not hook {CHAIN} into INPUT: {hooked.stderr.strip()}")
    if extra_commands.strip():
        extra = run(["/bin/sh", "-e", "-c", extra_commands])
        if extra.returncode != 0:
            errors.append(f"networking.firewall.extraCommands failed: {extra.stderr.strip()}")
    return errors
