"""Smoke checks for hydra-compute (audit Part 7 checklist + more): G1 dual Ollama, G2 nginx LB.

Run against the local cluster (default) or the real one: `hydra verify --cluster real`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from hydra_ops.facts.gpus import QUERY, parse_gpu_csv
from hydra_ops.facts.nginx import LIVE_CONFIG, summarize

from .conftest import unit_state

TIMEOUT = 30


class TestOllamaInstances:
    """G1: one Ollama instance per GPU."""

    def test_each_instance_answers_api_version(self, compute: list[Any]) -> None:
        for target, cfg, _ in compute:
            for inst in cfg.ollama.instances:
                resp = requests.get(f"http://{target.address}:{inst.port}/api/version", timeout=TIMEOUT)
                assert resp.status_code == 200, f"{target.name}:{inst.port} answered {resp.status_code}"
                assert resp.json().get("version"), f"{target.name}:{inst.port} gave no version"

    def test_each_unit_is_loaded_active_and_enabled(self, compute: list[Any]) -> None:
        for _, cfg, host in compute:
            for inst in cfg.ollama.instances:
                state = unit_state(host, inst.unit)
                assert (state["LoadState"], state["ActiveState"], state["SubState"], state["UnitFileState"]) == (
                    "loaded", "active", "running", "enabled"), f"{inst.unit}: {state}"

    def test_each_instance_is_pinned_to_its_own_gpu(self, compute: list[Any]) -> None:
        for _, cfg, host in compute:
            gpus = {g["index"]: g for g in parse_gpu_csv(host.check_output(
                f"nvidia-smi --query-gpu={QUERY} --format=csv,noheader,nounits").splitlines())}
            for inst in cfg.ollama.instances:
                state = unit_state(host, inst.unit)
                environ = host.check_output(f"tr '\\0' '\\n' < /proc/{state['MainPID']}/environ").splitlines()
                assert f"CUDA_VISIBLE_DEVICES={inst.gpu}" in environ, f"{inst.unit} is not pinned to GPU {inst.gpu}"
                assert "CUDA_DEVICE_ORDER=PCI_BUS_ID" in environ, f"{inst.unit}: CUDA may number GPUs differently"
                # What the running instance itself reported at startup: the GPU(s) it discovered.
                log = host.check_output(f"journalctl --no-pager -o cat _SYSTEMD_INVOCATION_ID={state['InvocationID']}")
                seen = {g["uuid"] for g in gpus.values() if f"id={g['uuid']}" in log}
                assert seen == {gpus[inst.gpu]["uuid"]}, f"{inst.unit} discovered {seen or 'no GPU'}"

    def test_the_single_legacy_instance_is_retired(self, compute: list[Any]) -> None:
        for _, cfg, host in compute:
            state = unit_state(host, cfg.ollama.ollama_legacy_unit)
            assert state["ActiveState"] != "active", f"{cfg.ollama.ollama_legacy_unit} still runs"
            assert state["UnitFileState"] != "enabled", f"{cfg.ollama.ollama_legacy_unit} still enabled"

    def test_every_instance_sees_the_shared_models(self, compute: list[Any]) -> None:
        for target, cfg, _ in compute:
            wanted = {m if ":" in m else f"{m}:latest" for m in cfg.ollama.ollama_models}
            for inst in cfg.ollama.instances:
                tags = requests.get(f"http://{target.address}:{inst.port}/api/tags", timeout=TIMEOUT).json()
                assert wanted <= {m["name"] for m in tags["models"]}, f":{inst.port} lacks models"


class TestLoadBalancer:
    """G2: nginx least_conn in front of the instances."""

    def test_lb_answers_api_version(self, compute: list[Any]) -> None:
        for target, cfg, _ in compute:
            resp = requests.get(f"http://{target.address}:{cfg.lb.lb_port}/api/version", timeout=TIMEOUT)
            assert resp.status_code == 200 and resp.json().get("version"), f"LB :{cfg.lb.lb_port} {resp.status_code}"

    def test_nginx_runs_with_a_valid_config(self, compute: list[Any]) -> None:
        for _, _, host in compute:
            state = unit_state(host, "nginx.service")
            assert (state["ActiveState"], state["UnitFileState"]) == ("active", "enabled"), state
            assert host.run(LIVE_CONFIG.replace("nginx -T", "nginx -t")).rc == 0  # the file nginx runs with

    def test_lb_config_matches_group_data(self, compute: list[Any]) -> None:
        for _, cfg, host in compute:
            summary = summarize(host.check_output(LIVE_CONFIG))
            assert cfg.lb.lb_port in summary["listen"]
            servers = [f"127.0.0.1:{internal}" for _, internal in cfg.ollama.fronts]
            assert {port for port, _ in cfg.ollama.fronts} <= set(summary["listen"])
            assert {"method": cfg.lb.lb_method, "servers": servers} in list(summary["upstreams"].values())

    def test_lb_spreads_requests_over_every_instance(self, compute: list[Any]) -> None:
        """Counted in each instance's own log (the LB does not tell clients which instance served)."""
        for target, cfg, host in compute:
            model = cfg.ollama.ollama_models[0]
            body = {"model": model, "prompt": "ping", "stream": False, "options": {"num_predict": 1}}
            count = 4 * len(cfg.ollama.instances)
            before = generate_calls(host, cfg.ollama.instances)

            def ask(_: int, url: str = f"http://{target.address}:{cfg.lb.lb_port}/api/generate",
                    body: dict[str, Any] = body) -> None:
                requests.post(url, json=body, timeout=120).raise_for_status()

            with ThreadPoolExecutor(count) as pool:
                list(pool.map(ask, range(count)))
            after = generate_calls(host, cfg.ollama.instances)
            grown = {port: after[port] - before[port] for port in after}
            assert sum(grown.values()) >= count and all(n > 0 for n in grown.values()), grown

    def test_model_management_is_refused_through_the_lb(self, compute: list[Any]) -> None:
        for target, cfg, _ in compute:
            base = f"http://{target.address}:{cfg.lb.lb_port}"
            for method, path in (("POST", "/api/pull"), ("POST", "/api/push"), ("DELETE", "/api/delete"),
                                 ("POST", "/api/create"), ("POST", "/api/copy"), ("POST", "/api/blobs/sha256:00"),
                                 ("HEAD", "/api/blobs/sha256:00")):
                resp = requests.request(method, base + path, json={"model": "x"}, timeout=TIMEOUT)
                assert resp.status_code == 403, f"{method} {path} through the LB: {resp.status_code}"
            assert requests.get(f"{base}/api/tags", timeout=TIMEOUT).ok  # reads still pass
            headers = requests.get(f"{base}/api/version", timeout=TIMEOUT).headers
            assert ("X-Hydra-Upstream" in headers) == cfg.lb.lb_debug_headers  # internal addresses only if asked
            assert "nginx/" not in requests.get(f"{base}/api/pull", timeout=TIMEOUT).headers.get("Server", "")


def generate_calls(host: Any, instances: Any) -> dict[int, int]:
    """How many generate requests each instance has logged (Ollama's and the double's log lines both match)."""
    return {i.port: int(host.check_output(f"journalctl -u {i.unit} -o cat --no-pager | grep -c 'POST.*/api/generate'"
                                          " || true") or 0) for i in instances}
