"""Faults: an instance killed under load, a bad LB setting, and N instances instead of two."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from devcluster.local.cluster import Cluster
from hydra_ops.runner import DeployResult
from tests.integration.conftest import COMPUTE, wait_for

ADDR = "10.213.7.11"
LB = f"http://{ADDR}:11400"


def main_pid(cluster: Cluster, unit: str) -> int:
    return int(cluster.ssh(COMPUTE, f"systemctl show -p MainPID --value {unit}").stdout.strip() or 0)


def test_kill9_of_an_instance_under_load_loses_no_request(first_deploy: DeployResult,
                                                          compute_before: Cluster) -> None:
    """200 requests at concurrency 8 through the LB; one instance is SIGKILLed mid-way; all 200 succeed."""
    victim = "ollama@11434.service"
    old_pid = main_pid(compute_before, victim)
    body = {"model": "qwen2.5:7b", "prompt": "load", "stream": False}
    done: list[int] = []

    def one(n: int) -> tuple[int, bool, str]:
        resp = requests.post(f"{LB}/api/generate", json=body, timeout=120)
        done.append(n)
        ok = resp.status_code == 200 and resp.json().get("done") is True
        return resp.status_code, ok, resp.headers.get("X-Hydra-Upstream", "")

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(one, n) for n in range(200)]
        wait_for(lambda: len(done) >= 30, 60, "30 requests to complete before the kill")
        compute_before.ssh(COMPUTE, f"kill -9 {old_pid}")
        results = [f.result(timeout=180) for f in futures]

    failed = [r for r in results if not r[1]]
    assert failed == [], f"{len(failed)} of 200 requests failed: {failed[:5]}"
    wait_for(lambda: main_pid(compute_before, victim) not in (0, old_pid), 30, f"systemd to restart {victim}")
    wait_for(lambda: _answers(11434), 30, "the restarted instance to answer")
    assert compute_before.ssh(COMPUTE, f"systemctl is-active {victim}").stdout.strip() == "active"


def _answers(port: int) -> bool:
    try:
        return requests.get(f"http://{ADDR}:{port}/api/version", timeout=2).ok
    except requests.RequestException:
        return False


def test_invalid_lb_setting_fails_before_reload_and_the_lb_keeps_serving(
    first_deploy: DeployResult, compute_before: Cluster, deploy: Callable[..., DeployResult], tmp_path: Path,
) -> None:
    conf = "/etc/nginx/conf.d/ollama-lb.conf"
    live_before = compute_before.ssh(COMPUTE, f"sha256sum {conf}").stdout.split()[0]
    nginx_pid = main_pid(compute_before, "nginx.service")
    bad = 'lb_extra_directives = ["proxy_buffering maybe;"]'  # an allowed directive, a value nginx refuses
    for attempt in range(2):  # a rejected config must fail again, never be reported as applied
        result = deploy(bad, tmp_path)
        output = result.stdout + result.stderr
        assert not result.ok, f"attempt {attempt}: deploy with a bad directive succeeded"
        assert "nginx -t rejected the new config" in output and "proxy_buffering" in output
        assert compute_before.ssh(COMPUTE, f"sha256sum {conf}").stdout.split()[0] == live_before
        assert requests.get(f"{LB}/api/version", timeout=10).ok
    assert main_pid(compute_before, "nginx.service") == nginx_pid
    assert compute_before.ssh(COMPUTE, "nginx -t", check=False).returncode == 0
    good = deploy()
    assert good.no_op


def test_n_instances_follow_group_data(first_deploy: DeployResult, compute_before: Cluster,
                                       deploy: Callable[..., DeployResult], tmp_path: Path) -> None:
    """A third GPU and a third instance: unit, LB upstream and traffic follow; removing it retires it."""
    spec = "/etc/hydra-ops/fake-gpus.json"
    original = compute_before.ssh(COMPUTE, f"cat {spec}").stdout
    gpus = json.loads(original)
    third = dict(gpus["gpus"][1], index=2, uuid="GPU-" + hashlib.md5(b"third").hexdigest(), bus_id="00000000:03:00.0")
    compute_before.ssh(COMPUTE, f"cat > {spec}", input=json.dumps({"gpus": [*gpus["gpus"], third]}))
    three = 'ollama_instances = [{"gpu": 0, "port": 11434}, {"gpu": 1, "port": 11435}, {"gpu": 2, "port": 11436}]'
    try:
        result = deploy(three, tmp_path)
        assert result.ok, result.errors()
        assert requests.get(f"http://{ADDR}:11436/api/version", timeout=10).headers["X-Ollama-Visible-Devices"] == "2"
        body = {"model": "qwen2.5:7b", "prompt": "x", "stream": False, "options": {"num_predict": 1}}
        with ThreadPoolExecutor(12) as pool:
            served = set(pool.map(lambda _: requests.post(f"{LB}/api/generate", json=body, timeout=60)
                                  .headers["X-Hydra-Upstream"], range(12)))
        assert served == {"127.0.0.1:21434", "127.0.0.1:21435", "127.0.0.1:21436"}  # the instances' loopback ports
        assert deploy(three, tmp_path).no_op
    finally:
        compute_before.ssh(COMPUTE, f"cat > {spec}", input=original)
        back = deploy()  # also restores two instances when an assertion above failed
    assert back.ok, back.errors()
    assert any("retire instance on port 11436" in name for name in back.changed)
    state = compute_before.ssh(COMPUTE, "systemctl is-active ollama@11436; systemctl is-enabled ollama@11436; "
                                        "test -e /etc/ollama/11436.env && echo present || echo absent",
                               check=False).stdout.split()
    assert state == ["inactive", "disabled", "absent"]
    assert deploy().no_op
