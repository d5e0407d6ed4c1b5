"""The Ollama double speaks Ollama's HTTP API faithfully enough for the official client and nginx."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import ollama
import pytest
import requests

from tests.doubles import free_port, wait_serving

DOUBLE = Path(__file__).resolve().parents[2] / "devcluster" / "doubles" / "ollama_double.py"


def start(tmp_path: Path, **env: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    full = dict(os.environ, OLLAMA_HOST=f"127.0.0.1:{port}", OLLAMA_MODELS=str(tmp_path / "models"),
                PATH="/nonexistent", **env)  # PATH without nvidia-smi: a GPU-less host
    proc = subprocess.Popen([sys.executable, str(DOUBLE), "serve"], env=full, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    wait_serving(proc, base)
    return proc, base


@pytest.fixture
def double(tmp_path: Path) -> Iterator[str]:
    proc, base = start(tmp_path, OLLAMA_DOUBLE_TOKEN_DELAY_MS="1", CUDA_VISIBLE_DEVICES="1", OLLAMA_NUM_PARALLEL="2")
    requests.post(f"{base}/api/pull", json={"model": "qwen2.5:7b", "stream": False}, timeout=5).raise_for_status()
    yield base
    proc.terminate()
    proc.wait(5)


def test_root_and_version(double: str) -> None:
    root = requests.get(double, timeout=5)
    assert root.status_code == 200 and root.text == "Ollama is running"
    version = requests.get(f"{double}/api/version", timeout=5)
    assert version.json() == {"version": "0.8.0"}
    assert version.headers["X-Ollama-Instance"].endswith(f":{double.rsplit(':', 1)[1]}")
    assert version.headers["X-Ollama-Visible-Devices"] == "1"


def test_pulled_model_is_listed_and_unknown_model_is_404(double: str) -> None:
    names = [m["name"] for m in requests.get(f"{double}/api/tags", timeout=5).json()["models"]]
    assert names == ["qwen2.5:7b"]
    missing = requests.post(f"{double}/api/generate", json={"model": "nope:1b", "prompt": "x"}, timeout=5)
    assert missing.status_code == 404
    assert missing.json() == {"error": "model 'nope:1b' not found"}


def test_generate_streams_ndjson_until_done(double: str) -> None:
    resp = requests.post(f"{double}/api/generate", json={"model": "qwen2.5:7b", "prompt": "hi"}, stream=True,
                         timeout=10)
    assert resp.headers["Content-Type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in resp.iter_lines() if line]
    assert len(lines) == 9 and all(not x["done"] for x in lines[:-1]) and lines[-1]["done"]
    assert lines[-1]["eval_count"] == 8 and "context" in lines[-1]
    assert "".join(x["response"] for x in lines).startswith("the quick brown")


def test_chat_without_stream_returns_one_object(double: str) -> None:
    resp = requests.post(f"{double}/api/chat", json={"model": "qwen2.5:7b", "stream": False,
                                                     "messages": [{"role": "user", "content": "hi"}]}, timeout=10)
    body = resp.json()
    assert body["done"] is True and body["message"]["role"] == "assistant" and body["message"]["content"]


def test_official_client_chat_stream_embed_and_ps(double: str) -> None:
    client = ollama.Client(host=double)
    parts = list(client.chat(model="qwen2.5:7b", messages=[{"role": "user", "content": "hi"}], stream=True))
    assert len(parts) == 9 and parts[-1].done and "".join(p.message.content for p in parts)
    embed = client.embed(model="qwen2.5:7b", input=["a", "b"])
    assert len(embed.embeddings) == 2 and embed.embeddings[0] != embed.embeddings[1]
    assert [m.model for m in client.ps().models] == ["qwen2.5:7b"]
    assert [m.model for m in client.list().models] == ["qwen2.5:7b"]


def test_loopback_listener_rejects_foreign_host_header(double: str) -> None:
    assert requests.get(f"{double}/api/version", headers={"Host": "ollama_backend"}, timeout=5).status_code == 403
    for ok in ("localhost", "127.0.0.1:1234", "10.1.2.3", "box.local"):
        assert requests.get(f"{double}/api/version", headers={"Host": ok}, timeout=5).status_code == 200, ok


def test_per_token_delay_and_parallel_slots(tmp_path: Path) -> None:
    """With 50 ms/token, 8 tokens take >= 0.4 s; NUM_PARALLEL=1 serialises two requests (>= 0.8 s)."""
    proc, base = start(tmp_path, OLLAMA_DOUBLE_TOKEN_DELAY_MS="50", OLLAMA_NUM_PARALLEL="1")
    try:
        requests.post(f"{base}/api/pull", json={"model": "m:1", "stream": False}, timeout=5)
        from concurrent.futures import ThreadPoolExecutor

        started = time.monotonic()
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda _: requests.post(
                f"{base}/api/generate", json={"model": "m:1", "prompt": "x", "stream": False}, timeout=10), [0, 1]))
        elapsed = time.monotonic() - started
        assert all(r.json()["done"] for r in results)
        assert elapsed >= 0.8, elapsed
    finally:
        proc.terminate()
        proc.wait(5)


def test_cli_version_and_pull(double: str, tmp_path: Path) -> None:
    env = dict(os.environ, OLLAMA_HOST=double.removeprefix("http://"))
    out = subprocess.run([sys.executable, str(DOUBLE), "-v"], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "ollama version is 0.8.0"
    pulled = subprocess.run([sys.executable, str(DOUBLE), "pull", "llama3.2"], env=env, capture_output=True,
                            text=True, check=True).stdout
    assert pulled.strip().splitlines()[-1] == "success"
    listed = subprocess.run([sys.executable, str(DOUBLE), "list"], env=env, capture_output=True, text=True,
                            check=True).stdout
    assert "llama3.2:latest" in listed and "qwen2.5:7b" in listed
