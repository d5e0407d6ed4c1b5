"""The TabbyAPI double: start-up contract (config.yml, api_tokens.yml from cwd) and the HTTP API with auth."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from tests.doubles import free_port, wait_serving

MAIN = Path(__file__).resolve().parents[2] / "devcluster" / "doubles" / "tabbyapi_double" / "main.py"
KEYS = {"api_key": "k-api-" + "1" * 20, "admin_key": "k-admin-" + "2" * 20}


def start(workdir: Path, model_name: str | None, tokens: bool = True) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    (workdir / "models/Llama-3.3-70B").mkdir(parents=True, exist_ok=True)
    (workdir / "models/Llama-3.3-70B/config.json").write_text("{}")
    config = {"network": {"host": "127.0.0.1", "port": port},
              "model": {"model_dir": str(workdir / "models"), "model_name": model_name, "backend": "exllamav2",
                        "tensor_parallel": True, "max_seq_len": 32768}}
    (workdir / "config.yml").write_text(yaml.safe_dump(config))
    if tokens:
        (workdir / "api_tokens.yml").write_text(yaml.safe_dump(KEYS))
    proc = subprocess.Popen([sys.executable, str(MAIN)], cwd=workdir, stderr=subprocess.PIPE,
                            env={"TABBY_DOUBLE_TOKEN_DELAY_MS": "1", "PATH": "/usr/bin:/bin"})
    base = f"http://127.0.0.1:{port}"
    wait_serving(proc, f"{base}/health")
    return proc, base


@pytest.fixture
def tabby(tmp_path: Path) -> Iterator[str]:
    proc, base = start(tmp_path, None)
    yield base
    proc.terminate()
    proc.wait(5)


def api(key: str = KEYS["api_key"]) -> dict[str, str]:
    return {"x-api-key": key}


def test_health_without_model_and_model_503_until_loaded(tabby: str) -> None:
    assert requests.get(f"{tabby}/health", timeout=5).json() == {"status": "healthy", "issues": []}
    assert requests.get(f"{tabby}/v1/model", headers=api(), timeout=5).status_code == 503
    assert [m["id"] for m in requests.get(f"{tabby}/v1/models", headers=api(), timeout=5).json()["data"]] == [
        "Llama-3.3-70B"]


def test_keys_are_enforced_and_load_needs_the_admin_key(tabby: str) -> None:
    assert requests.get(f"{tabby}/v1/models", timeout=5).status_code == 401
    assert requests.get(f"{tabby}/v1/models", headers=api("wrong"), timeout=5).status_code == 401
    body = {"model_name": "Llama-3.3-70B"}
    assert requests.post(f"{tabby}/v1/model/load", json=body, headers=api(), timeout=5).status_code == 401
    ok = requests.post(f"{tabby}/v1/model/load", json=body, headers={"x-admin-key": KEYS["admin_key"]}, timeout=5)
    assert ok.status_code == 200
    assert requests.get(f"{tabby}/v1/model", headers={"Authorization": f"Bearer {KEYS['api_key']}"},
                        timeout=5).json()["id"] == "Llama-3.3-70B"
    missing = requests.post(f"{tabby}/v1/model/load", json={"model_name": "nope"},
                            headers={"x-admin-key": KEYS["admin_key"]}, timeout=5)
    assert missing.status_code == 400 and "does not exist" in missing.json()["detail"]
    requests.post(f"{tabby}/v1/model/unload", headers={"x-admin-key": KEYS["admin_key"]}, timeout=5)
    assert requests.get(f"{tabby}/v1/model", headers=api(), timeout=5).status_code == 503


def test_chat_streams_server_sent_events_and_completions_answer(tmp_path: Path) -> None:
    proc, base = start(tmp_path, "Llama-3.3-70B")
    try:
        resp = requests.post(f"{base}/v1/chat/completions", headers=api(), stream=True, timeout=10,
                             json={"model": "x", "stream": True, "max_tokens": 4,
                                   "messages": [{"role": "user", "content": "hi"}]})
        events = [line.removeprefix(b"data: ") for line in resp.iter_lines() if line.startswith(b"data: ")]
        assert events[-1] == b"[DONE]"
        chunks = [json.loads(e) for e in events[:-1]]
        assert len(chunks) == 5 and chunks[0]["choices"][0]["delta"]["role"] == "assistant"
        assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
        plain = requests.post(f"{base}/v1/completions", headers=api(), json={"prompt": "x", "max_tokens": 3},
                              timeout=10).json()
        assert plain["object"] == "text_completion" and plain["usage"]["completion_tokens"] == 3
    finally:
        proc.terminate()
        proc.wait(5)


def test_without_api_tokens_it_invents_keys_and_logs_them(tmp_path: Path) -> None:
    """The behaviour hydra-ops must prevent by always writing api_tokens.yml."""
    proc, _ = start(tmp_path, None, tokens=False)
    proc.terminate()
    _, err = proc.communicate(timeout=5)
    keys = yaml.safe_load((tmp_path / "api_tokens.yml").read_text())
    assert keys["api_key"] in err.decode() and keys["admin_key"] in err.decode()
