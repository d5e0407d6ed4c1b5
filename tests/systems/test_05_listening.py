"""What listens on the systems flavour's hosts, and what another host of the cluster gets from it (issue 21, item 3).

Every listening TCP socket of every host is listed (`ss -Hltnp` on the host). One bound beyond loopback must be a
port the group data publishes: sshd, each SOLLOL node's Ollama ports and LB port (nginx), the SOLLOL gateway's
sollol_port, each spark host's vLLM services and Traefik's entry point. Then a peer host connects to every
listening port at the host's LAN address: an unpublished port (SOLLOL's local Ray: GCS, raylet, agents, workers,
metrics; Ollama's own instance port; Traefik's API) must refuse the connection, a published one must refuse the
admin calls its service has (Ollama's model management, the Traefik API, vLLM's dev and LoRA endpoints) while a
read still passes. The table of what answered is printed (`pytest -s`) so it can be quoted.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

import pytest

from devcluster.local.cluster import Cluster
from hydra_ops.services.lb.options import LbOptions
from hydra_ops.services.ollama.options import OllamaOptions
from hydra_ops.services.sollol import inventory_nodes, sollol
from hydra_ops.services.spark.options import cluster
from hydra_ops.settings import load
from hydra_ops.targets import Target, inventory_path, load_inventory, targets

#: the inventory groups of the two systems
SYSTEMS = frozenset({"sollol", "spark"})
#: an HTTP call: (method, path)
Call = tuple[str, str]
#: what a refused admin call may answer: no such route (404/405), forbidden (401/403), switched off (503)
REFUSED = frozenset({401, 403, 404, 405, 503})
#: Ollama's model management, which hydra-ops' nginx allow-list keeps off the network (403)
OLLAMA_ADMIN: tuple[Call, ...] = (("POST", "/api/pull"), ("POST", "/api/push"), ("DELETE", "/api/delete"),
                                  ("POST", "/api/create"), ("POST", "/api/copy"), ("POST", "/api/blobs/sha256:00"))
#: SOLLOL 0.9.66's gateway has no model management; its batch jobs are off (SOLLOL_BATCH_PROCESSING=false)
GATEWAY_ADMIN: tuple[Call, ...] = (("POST", "/api/pull"), ("DELETE", "/api/delete"),
                                   ("DELETE", "/api/batch/jobs/x"))
#: vLLM's runtime LoRA loading and its dev-mode endpoints (sleep, cache reset, collective RPC into the workers)
VLLM_ADMIN: tuple[Call, ...] = (("POST", "/v1/load_lora_adapter"), ("POST", "/sleep?level=1"),
                                ("POST", "/reset_prefix_cache"), ("POST", "/collective_rpc"))
#: Traefik's API (served on its loopback entry point only); on the web entry point it must not answer
TRAEFIK_ADMIN: tuple[Call, ...] = (("GET", "/api/rawdata"), ("GET", "/api/http/routers"), ("GET", "/ping"))

#: run on the peer host (python3 is on every host): JSON [[address, port, admin, reads, ssh], ...] on stdin ->
#: one JSON answer per port: "refused", or what the accepted connection answered
PROBE = r"""
import http.client, json, socket, sys

def status(addr, port, method, path):
    conn = http.client.HTTPConnection(addr, port, timeout=10)
    try:
        conn.request(method, path, body=b'{"model": "x", "name": "x"}' if method != "GET" else None,
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return [method, path, resp.status, resp.read(200).decode("latin-1")]
    except (OSError, http.client.HTTPException) as exc:
        return [method, path, None, type(exc).__name__]
    finally:
        conn.close()

out = []
for addr, port, admin, reads, ssh in json.load(sys.stdin):
    try:
        sock = socket.create_connection((addr, port), timeout=5)
    except ConnectionRefusedError:
        out.append({"connect": "refused"})
        continue
    except OSError as exc:
        out.append({"connect": type(exc).__name__})
        continue
    with sock:  # accepted: what does it say first (a banner), or to a plain HTTP request?
        sock.settimeout(2)
        try:
            if not ssh:
                sock.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
            first = sock.recv(80)
        except OSError as exc:
            first = type(exc).__name__.encode()
    calls = [status(addr, port, m, p) for m, p in admin] + [status(addr, port, m, p) for m, p in reads]
    out.append({"connect": "accepted", "first": first.decode("latin-1"), "admin": calls[:len(admin)],
                "reads": calls[len(admin):]})
print(json.dumps(out))
"""


@dataclass(frozen=True)
class Service:
    """A port the group data publishes: what serves it, its admin calls (each must be refused) and a read (must
    pass: the refusals come from a working service, not a dead port)."""

    what: str
    admin: tuple[Call, ...] = ()
    reads: tuple[Call, ...] = ()
    refused: frozenset[int] = REFUSED


@dataclass(frozen=True)
class Listener:
    """One listening TCP socket as `ss -Hltnp` shows it."""

    address: str
    port: int
    process: str

    @property
    def where(self) -> str:
        """address:port as written in a URL ([v6]:port)."""
        return f"[{self.address}]:{self.port}" if ":" in self.address else f"{self.address}:{self.port}"

    @property
    def loopback(self) -> bool:
        """Bound to a loopback address (127.0.0.0/8, ::1, ::ffff:127.x); `*`, 0.0.0.0 and :: are every interface."""
        if self.address in ("*", "0.0.0.0", "::"):
            return False
        ip = ipaddress.ip_address(self.address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return ip.is_loopback


@dataclass
class Host:
    """A host of the systems cluster: its LAN address, published ports (from its group data), its listening
    sockets and, per port, what the peer host got."""

    target: Target
    published: dict[int, Service]
    listeners: list[Listener] = field(default_factory=list)
    answers: dict[int, dict[str, Any]] = field(default_factory=dict)


def parse_ss(text: str) -> list[Listener]:
    """`ss -Hltnp` lines -> listeners (local address:port in column 4, `users:(("name",pid=..))` after it)."""
    out = []
    for line in text.splitlines():
        cols = line.split()
        if len(cols) < 4:
            continue
        address, port = cols[3].rsplit(":", 1)
        names = sorted(set(re.findall(r'\("([^"]+)",pid=', line)))
        out.append(Listener(address.strip("[]"), int(port), ",".join(names) or "?"))
    return out


def published_ports(t: Target, nodes: dict[str, tuple[str, int]], spark: list[Target]) -> dict[int, Service]:
    """Port -> service for every port this host's group data publishes (nothing here names a port itself)."""
    out = {int(t.data.get("ssh_port") or 22): Service("sshd")}
    if "sollol" in t.groups:
        ollama, lb = load(OllamaOptions, t.data, t.name), load(LbOptions, t.data, t.name)
        ollama_port = Service("Ollama (nginx allow-list)", OLLAMA_ADMIN, (("GET", "/api/tags"),), frozenset({403}))
        out |= {i.port: ollama_port for i in ollama.ollama_instances}
        out[lb.lb_port] = Service("Ollama LB (nginx allow-list)", OLLAMA_ADMIN, (("GET", "/api/tags"),),
                                  frozenset({403}))
        so = sollol(t.data, t.name, nodes)
        if t.name == so.sollol_gateway_host:
            out[so.sollol_port] = Service("SOLLOL gateway", GATEWAY_ADMIN, (("GET", "/api/health"),))
    if "spark" in t.groups:
        me = next(m for m in cluster([(s.name, s.data) for s in spark], t.name) if m.name == t.name)
        o = me.options
        out |= {s.port: Service(f"vLLM {name}", VLLM_ADMIN, (("GET", "/health"),))
                for name, s in o.spark_services.items()}
        if t.name == o.traefik_host:
            out[o.traefik_port] = Service("Traefik web", TRAEFIK_ADMIN, (("GET", "/health"),))
    return out


def peer(t: Target, hosts: list[Target]) -> Target:
    """The host that probes t: the first host of another group (a spark host probes the SOLLOL nodes and back)."""
    return next(h for h in hosts if not SYSTEMS & set(h.groups) & set(t.groups))


@pytest.fixture(scope="module")
def hosts(first_runs: Any, systems: Cluster) -> list[Host]:
    """Every systems host with its published ports and its listening sockets, read after both deploys ran."""
    every = [t for t in targets() if SYSTEMS & set(t.groups)]
    inventory, _ = load_inventory(inventory_path())
    nodes = inventory_nodes(inventory)
    spark = [t for t in every if "spark" in t.groups]
    out = [Host(t, published_ports(t, nodes, spark)) for t in every]
    for h in out:
        h.listeners = parse_ss(systems.ssh(h.target.name, "ss -Hltnp").stdout)
    return out


@pytest.fixture(scope="module")
def probed(hosts: list[Host], systems: Cluster) -> list[Host]:
    """Each host's listening ports (every address, each port once) probed from its peer at the LAN address."""
    targets_ = [h.target for h in hosts]
    for h in hosts:
        ports = sorted({lst.port for lst in h.listeners})
        asks = []
        for port in ports:
            svc = h.published.get(port)
            asks.append([h.target.address, port, svc.admin if svc else [], svc.reads if svc else [],
                         bool(svc and svc.what == "sshd")])
        proc = systems.ssh(peer(h.target, targets_).name, f"python3 -c {shlex.quote(PROBE)}",
                           input=json.dumps(asks), timeout=300)
        h.answers = dict(zip(ports, json.loads(proc.stdout), strict=True))
    print("\n" + table(hosts, targets_))
    return hosts


def answered(h: Host, port: int) -> str:
    """What the peer got from one port, in a few words."""
    got = h.answers.get(port, {})
    if got.get("connect") != "accepted":
        return got.get("connect", "?")
    if got["admin"] or got["reads"]:
        return ", ".join(f"{m} {p.split('?')[0]} {s}" for m, p, s, _ in got["admin"] + got["reads"])
    first = got["first"]
    if first.startswith("\x00\x00") and first[3:4] == "\x04":  # an HTTP/2 SETTINGS frame: a gRPC server
        return "accepted: gRPC (HTTP/2 SETTINGS)"
    first = first.split("\r\n", 1)[0].strip()
    return f"accepted: {first[:40]}" if first else "accepted (silent)"


def table(hosts: list[Host], every: list[Target]) -> str:
    """host | listening address:port | process | published as | what the peer got (one row per socket)."""
    rows = [("host", "listening on", "process", "published as", "from peer: answered")]
    for h in hosts:
        for lst in sorted(h.listeners, key=lambda x: (x.port, x.address)):
            svc = h.published.get(lst.port)
            what = svc.what if svc and not lst.loopback else "-"
            via = peer(h.target, every).name
            rows.append((h.target.name, lst.where, lst.process[:22], what,
                         f"{via} -> {h.target.address}:{lst.port}: {answered(h, lst.port)}"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join(" | ".join([*(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)), r[4]]) for r in rows)


def test_only_published_ports_listen_beyond_loopback(hosts: list[Host]) -> None:
    """A socket bound to anything but loopback is a port the group data publishes (SOLLOL's Ray binds none)."""
    extra = [f"{h.target.name} {lst.where} ({lst.process})" for h in hosts for lst in h.listeners
             if not lst.loopback and lst.port not in h.published]
    assert extra == [], "listening beyond loopback, published by no option:\n" + "\n".join(extra)
    gateway = next(h for h in hosts if any(s.what == "SOLLOL gateway" for s in h.published.values()))
    ray = [lst for lst in gateway.listeners if lst.process.startswith(("ray", "gcs_server", "raylet"))]
    assert ray and all(lst.loopback for lst in ray), ray  # Ray runs there, on loopback only


def test_from_a_peer_every_port_refuses_the_connection_or_the_admin_calls(probed: list[Host]) -> None:
    """Unpublished ports refuse the connection; published ones refuse every admin call and still serve a read."""
    problems = []
    for h in probed:
        for port, got in h.answers.items():
            where, svc = f"{h.target.name} :{port}", h.published.get(port)
            if svc is None:
                if got["connect"] != "refused":
                    problems.append(f"{where} (not published) {answered(h, port)}")
                continue
            if got["connect"] != "accepted":
                problems.append(f"{where} ({svc.what}) is published but {got['connect']}")
                continue
            problems += [f"{where} ({svc.what}) {m} {p}: {s} {body[:80]!r}" for m, p, s, body in got["admin"]
                         if s not in svc.refused]
            problems += [f"{where} ({svc.what}) read {m} {p}: {s}" for m, p, s, _ in got["reads"] if s != 200]
            if svc.what == "sshd" and not got["first"].startswith("SSH-2.0-"):
                problems.append(f"{where} sshd: no SSH banner ({got['first']!r})")
    assert problems == [], "\n".join(problems)
