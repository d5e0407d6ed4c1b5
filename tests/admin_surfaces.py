"""Every listening socket of every host, and what another host of the cluster gets when it sends the admin calls
to each one it can reach: the table issue 21 asks for. The ports a host may offer to other hosts come from the
validated group data (each with the call that must be refused there); anything else listening on a non-loopback
address is a finding."""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

from devcluster.local.cluster import Cluster
from hydra_ops.services import compute
from hydra_ops.services.storage import storage
from hydra_ops.services.tabbyapi.options import roles
from hydra_ops.targets import load_inventory

#: (method, path, JSON body): the Ollama calls that change a host (pull, push, create, copy, delete)
OLLAMA_ADMIN = [("POST", "/api/pull", {"model": "x"}), ("POST", "/api/push", {"model": "x"}),
                ("POST", "/api/create", {"model": "x"}), ("POST", "/api/copy", {"source": "a", "destination": "b"}),
                ("DELETE", "/api/delete", {"model": "x"})]
#: services of the operator's own on a host of a flavour, which hydra-ops does not manage: still probed (the
#: table shows what they answer), not a finding of hydra-ops'
OPERATORS = {("seeds", "hydra-ai", 11434): ("the operator's services.ollama (seed 002; not hydra-ops')", OLLAMA_ADMIN)}
#: ports every host may offer: SSH (keys only) and the exporters (read-only metrics)
EVERY_HOST = {22: ("sshd", []), 9100: ("node exporter (read-only)", []), 9835: ("gpu exporter (read-only)", [])}

PROBE = r"""
import json, socket, sys, urllib.request
out = []
for addr, port, kind, calls in json.loads(sys.argv[1]):
    try:
        socket.create_connection((addr, port), timeout=5).close()
    except OSError as exc:
        out.append([addr, port, "unreachable: " + type(exc).__name__]); continue
    answers = []
    for method, path, body in calls:
        if kind == "redis":
            s = socket.create_connection((addr, port), timeout=5)
            s.sendall(b"CONFIG GET dir\r\n")
            answers.append("CONFIG GET: " + s.recv(200).decode(errors="replace").split("\r\n")[0]); s.close()
            continue
        req = urllib.request.Request(f"http://{addr}:{port}{path}", method=method,
                                     data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                answers.append(f"{method} {path}: {r.status}")
        except urllib.error.HTTPError as exc:
            answers.append(f"{method} {path}: {exc.code}")
        except OSError as exc:
            answers.append(f"{method} {path}: {type(exc).__name__}")
    out.append([addr, port, "; ".join(answers) or "reachable"])
print(json.dumps(out))
"""


def allowed(cluster: Cluster) -> dict[str, dict[int, tuple[str, list[Any]]]]:
    """Per host, the ports it may offer to other hosts: what listens there and the admin calls to send."""
    inventory, _ = load_inventory(cluster.inventory)
    out: dict[str, dict[int, tuple[str, list[Any]]]] = {}
    for host in inventory:
        data, groups, ports = host.data.dict(), set(host.groups), dict(EVERY_HOST)
        if "compute" in groups:
            c = compute(data, host.name)
            ports[c.lb.lb_port] = ("nginx LB", OLLAMA_ADMIN)
            ports.update({port: (f"nginx, instance {port}", OLLAMA_ADMIN) for port, _ in c.ollama.fronts})
        if "ai" in groups:
            stable, canary = roles(data, host.name)
            load_call = [("POST", "/v1/model/load", {"name": "x"}), ("POST", "/v1/model/unload", {})]
            ports[stable.tabby_port] = ("TabbyAPI", load_call)
            if canary is not None:
                ports[canary.tabby_port] = ("TabbyAPI canary", load_call)
        if "storage" in groups:
            s = storage(data, host.name)
            o = s.monitoring
            ports[s.litellm.litellm_port] = ("LiteLLM", [("POST", "/key/generate", {}), ("GET", "/key/list", {})])
            ports[s.redis.redis_port] = ("Redis", [("", "", {})])
            ports[o.n8n_port] = ("n8n", [("POST", "/rest/owner/setup", {"email": "x@y.z", "password": "Xx1xxxxxxx",
                                                                       "firstName": "x", "lastName": "y"})])
            ports[o.uptime_kuma_port] = ("Uptime Kuma (claimed: login required)", [])
            ports.update(_not_ours(cluster, host.name, s, o.activity_api_url))
        ports.update({p: what for (flavour, name, p), what in OPERATORS.items()
                      if flavour == cluster.flavour and name == host.name})
        out[host.name] = ports
    return out


def listening(cluster: Cluster, host: str) -> list[tuple[str, int]]:
    """(address, port) of every listening TCP socket on the host."""
    out = []
    for line in cluster.ssh(host, "ss -Hltn").stdout.splitlines():
        local = line.split()[3]
        addr, _, port = local.rpartition(":")
        out.append((addr.strip("[]").split("%")[0], int(port)))
    return sorted(set(out))


def loopback(addr: str) -> bool:
    return addr.startswith("127.") or addr == "::1"


def survey(cluster: Cluster) -> tuple[list[str], list[str]]:
    """(table rows 'host address:port what: answers (from other)', findings). Each host is probed from the next."""
    names = [h.name for h in cluster.spec.hosts]
    permitted, rows, findings = allowed(cluster), [], []
    for i, host in enumerate(names):
        other, address, ports = names[(i + 1) % len(names)], cluster.host(host).address, permitted[host]
        exposed = sorted({(address if a in ("0.0.0.0", "*", "::") else a, p)
                          for a, p in listening(cluster, host) if not loopback(a)})
        findings += [f"{host}: {a}:{p} listens beyond loopback and is none of the host's services"
                     for a, p in exposed if p not in ports]
        todo = [[a, p, "redis" if ports.get(p, ("", []))[0] == "Redis" else "http", ports.get(p, ("", []))[1]]
                for a, p in exposed]
        answers = json.loads(cluster.ssh(other, f"python3 - {shlex.quote(json.dumps(todo))}", input=PROBE).stdout)
        for a, p, said in answers:
            rows.append(f"{host} {a}:{p} {ports.get(p, ('?',))[0]}: {said} (from {other})")
            findings += [f"{host} {a}:{p}: {call} was not refused (from {other})" for call in said.split("; ")
                         if ports.get(p, ("", []))[1] and not refused(call)
                         and (cluster.flavour, host, p) not in OPERATORS]
    return rows, findings


def refused(answer: str) -> bool:
    """An admin call's answer that changed nothing: an HTTP 4xx, or Redis asking for its password."""
    return re.search(r": 4[0-9][0-9]$", answer) is not None or "NOAUTH" in answer


def _not_ours(cluster: Cluster, host: str, cfg: Any, activity_api_url: str | None) -> dict[int, tuple[str, list]]:
    """Ports of what hydra-ops does not manage on a storage host: the operator's Activity API (when it lives
    there) and the services of the adopted compose project that group data does not name (kept verbatim)."""
    from urllib.parse import urlsplit

    import yaml

    from hydra_ops.services.stack.adopt import managed
    from hydra_ops.services.stack.state import COMPOSE_FILE

    out: dict[int, tuple[str, list]] = {}
    api = urlsplit(activity_api_url or "")
    if api.hostname == cluster.host(host).address and api.port:
        out[api.port] = ("the operator's Activity API (a double here; not hydra-ops')", [])
    path = shlex.quote(f"{cfg.stack.stack_dir}/{COMPOSE_FILE}")
    doc = yaml.safe_load(cluster.ssh(host, f"if [ -e {path} ]; then cat {path}; fi").stdout) or {}
    for name, spec in (doc.get("services") or {}).items():
        if not managed(spec):
            out.update({int(str(p).split(":")[-2]): (f"the operator's {name} (not managed, kept as adopted)", [])
                        for p in spec.get("ports") or [] if str(p).count(":") >= 1})
    return out
