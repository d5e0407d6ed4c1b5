"""From the audit's state to G1 + G2 closed, idempotently, usable by the official Ollama client."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable

import ollama
import pytest
import requests

from devcluster.local.cluster import Cluster
from hydra_ops.audit import audit
from hydra_ops.runner import DeployResult
from tests.integration.conftest import COMPUTE

LB = "http://10.213.7.11:11400"


def test_first_run_converges_and_closes_g1_g2(first_deploy: DeployResult, compute_before: Cluster) -> None:
    assert first_deploy.ok, first_deploy.errors()
    assert any("stop and disable the single ollama.service" in name for name in first_deploy.changed)
    found = {(r.gap, r.status) for r in audit(compute_before.inventory, ["G1", "G2"])}
    assert found == {("G1", "closed"), ("G2", "closed")}


def test_second_run_reports_zero_changes(first_deploy: DeployResult, deploy: Callable[..., DeployResult]) -> None:
    again = deploy()
    assert again.ok, again.errors()
    assert again.no_op, again.changed


def test_hydra_fix_runs_only_its_bundle_and_changes_nothing_now(
    first_deploy: DeployResult, deploy: Callable[..., DeployResult],
) -> None:
    result = deploy(target="deploys/gap.py", data=["hydra_gap=G2"])
    assert result.ok, result.errors()
    assert result.no_op, result.changed
    assert "G2 nginx LB" in result.stdout and "G1 dual Ollama" not in result.stdout


def test_official_client_streams_a_chat_through_the_lb(first_deploy: DeployResult) -> None:
    client = ollama.Client(host=LB, timeout=60)
    parts = list(client.chat(model="qwen2.5:7b", messages=[{"role": "user", "content": "hello"}], stream=True))
    assert len(parts) >= 2 and parts[-1].done and not parts[0].done
    assert "".join(p.message.content for p in parts).strip()
    assert {m.model for m in client.list().models} >= {"qwen2.5:7b", "nomic-embed-text:latest"}


def test_unit_hardening_exposure_is_low(first_deploy: DeployResult, compute_before: Cluster) -> None:
    out = compute_before.ssh(COMPUTE, "systemd-analyze security --no-pager ollama@11434.service").stdout
    exposure = float(out.strip().splitlines()[-1].split("level for ollama@11434.service:")[1].split()[0])
    assert exposure <= 2.0, out[-500:]



def test_nginx_is_sandboxed_and_has_no_default_site(first_deploy: DeployResult, compute_before: Cluster) -> None:
    out = compute_before.ssh(COMPUTE, "systemd-analyze security --no-pager nginx.service").stdout
    exposure = float(out.strip().splitlines()[-1].split("level for nginx.service:")[1].split()[0])
    assert exposure <= 3.0, out[-800:]
    assert compute_before.ssh(COMPUTE, "systemctl is-active nginx").stdout.strip() == "active"
    host = LB.split("//")[1].split(":")[0]
    with pytest.raises(requests.ConnectionError):  # Debian's default site on :80 is gone
        requests.get(f"http://{host}:80/", timeout=5)


PROBE = """import sys, urllib.error, urllib.request
req = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), method="POST")
try:
    print(urllib.request.urlopen(req, timeout=60).status)
except urllib.error.HTTPError as exc:
    print(exc.code)
except urllib.error.URLError:
    print("refused")
"""


def _status_from_storage(cluster: Cluster, path: str, model: str, port: int = 11400) -> str:
    """POST from hydra-storage (no curl there: its python3) to a port on hydra-compute; the HTTP status."""
    body = json.dumps({"model": model, "prompt": "hi", "stream": False})
    args = " ".join(shlex.quote(a) for a in (PROBE, f"http://hydra-compute:{port}{path}", body))
    return cluster.ssh("hydra-storage", f"python3 -c {args}").stdout.strip()


def test_model_management_is_refused_from_another_host(first_deploy: DeployResult, compute_before: Cluster) -> None:
    """Through the LB and through each instance's own port: management 403, inference 200; the instances
    themselves listen on loopback only, so their internal ports refuse connections from the network."""
    for port in (11400, 11434, 11435):
        codes = {path: _status_from_storage(compute_before, path, "x", port)
                 for path in ("/api/pull", "/api/delete", "/api/create", "/api/copy", "/api/push", "/api/blobs/x")}
        assert set(codes.values()) == {"403"}, (port, codes)
        assert _status_from_storage(compute_before, "/api/generate", "qwen2.5:7b", port) == "200", port
    for internal in (21434, 21435):
        assert _status_from_storage(compute_before, "/api/pull", "x", internal) == "refused", internal
