"""Smoke checks for the vLLM cluster (seed 004): every vLLM service on every spark host answers, embeddings rank a
related text above an unrelated one, and Traefik on :8000 spreads the embeddings over both hosts.

Run against the local cluster's systems flavour or the real one: `hydra verify` (with the spark group present).
"""

from __future__ import annotations

import math
import re
from typing import Any

import requests

from ..smoke.conftest import unit_state

TIMEOUT = 30
_SERVED = re.compile(r'^vllm:request_success_total\{[^}]*\}\s+([0-9.e+]+)$', re.M)


def served(address: str, port: int) -> float:
    """vLLM's own count of finished requests on one service (its Prometheus /metrics)."""
    text = requests.get(f"http://{address}:{port}/metrics", timeout=TIMEOUT).text
    return sum(float(v) for v in _SERVED.findall(text))


def embed(base: str, model: str, texts: list[str]) -> list[list[float]]:
    resp = requests.post(f"{base}/v1/embeddings", json={"model": model, "input": texts}, timeout=TIMEOUT)
    assert resp.status_code == 200, resp.text[:300]
    return [d["embedding"] for d in sorted(resp.json()["data"], key=lambda d: d["index"])]


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (math.hypot(*a) * math.hypot(*b))


class TestSpark:
    """seed 004: the vLLM stack on each spark host, Traefik balancing the embeddings."""

    def test_every_service_answers_health_and_serves_its_model(self, spark_cluster: Any) -> None:
        for m in spark_cluster.members:
            for name, svc in m.options.spark_services.items():
                base = f"http://{m.address}:{svc.port}"
                assert requests.get(f"{base}/health", timeout=TIMEOUT).status_code == 200, (m.name, name)
                models = [d["id"] for d in requests.get(f"{base}/v1/models", timeout=TIMEOUT).json()["data"]]
                assert svc.model in models, (m.name, name, models)

    def test_generation_services_answer_a_chat(self, spark_cluster: Any) -> None:
        for m in spark_cluster.members:
            for name, svc in m.options.spark_services.items():
                if svc.runner != "generate":
                    continue
                resp = requests.post(f"http://{m.address}:{svc.port}/v1/chat/completions", timeout=TIMEOUT,
                                     json={"model": svc.model, "messages": [{"role": "user", "content": "hi"}]})
                assert resp.status_code == 200 and resp.json()["choices"][0]["message"]["content"], (m.name, name)

    def test_embeddings_rank_a_related_text_above_an_unrelated_one(self, spark_cluster: Any) -> None:
        m = spark_cluster.traefik
        svc = m.options.balanced
        query, related, unrelated = embed(f"http://{m.address}:{m.options.traefik_port}", svc.model, [
            "How do I renew a passport?", "Passport renewal: how to renew your passport online",
            "Tomatoes need full sun and regular watering"])
        assert cosine(query, related) > cosine(query, unrelated) + 0.1

    def test_traefik_spreads_embeddings_over_both_sparks(self, spark_cluster: Any) -> None:
        lb = spark_cluster.traefik
        svc = lb.options.balanced
        before = {m.name: served(m.address, m.options.balanced.port) for m in spark_cluster.members}
        for i in range(20):
            embed(f"http://{lb.address}:{lb.options.traefik_port}", svc.model, [f"spread check {i}"])
        after = {m.name: served(m.address, m.options.balanced.port) for m in spark_cluster.members}
        share = {name: after[name] - before[name] for name in after}
        assert sum(share.values()) == 20 and all(n >= 5 for n in share.values()), share

    def test_traefik_runs_unprivileged_and_sees_every_server_up(self, spark_cluster: Any) -> None:
        lb = spark_cluster.traefik
        host = spark_cluster.hosts[lb.name]
        state = unit_state(host, "traefik.service")
        assert (state["ActiveState"], state["UnitFileState"]) == ("active", "enabled"), state
        assert host.check_output("ps -o user= -p %s", state["MainPID"]).strip() == lb.options.traefik_user
        api = host.check_output("curl -fsS http://127.0.0.1:%s/api/http/services/%s@file",
                                str(lb.options.traefik_api_port), lb.options.traefik_balanced_service)
        for m in spark_cluster.members:
            assert f'"http://{m.address}:{m.options.balanced.port}":"UP"' in api.replace(" ", ""), api

    def test_services_run_with_their_gpu_share_cores_and_memory_cap(self, spark_cluster: Any) -> None:
        for m in spark_cluster.members:
            host = spark_cluster.hosts[m.name]
            for name, svc in m.options.spark_services.items():
                cid = host.check_output("docker ps -q --filter label=com.docker.compose.project=%s "
                                        "--filter label=com.docker.compose.service=%s",
                                        m.options.spark_compose_project, name)
                assert cid, (m.name, name)
                args = host.check_output("docker inspect -f '{{json .Args}} {{.HostConfig.CpusetCpus}} "
                                         "{{.HostConfig.Memory}}' %s", cid)
                assert f'"--gpu-memory-utilization","{svc.gpu_memory_utilization}"' in args, args
                assert f" {svc.cpuset} " in args and not args.endswith(" 0"), args
