"""The vLLM double (issue 13's spark hosts) speaks vLLM's OpenAI-compatible interface: shapes, refusals, a bounded
number of requests at once, and embeddings in which related texts score higher than unrelated ones."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from devcluster.doubles.vllm_double import Engine, Server, parse


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


@pytest.fixture
def serve() -> Iterator:
    servers = []

    def start(*argv: str) -> tuple[str, Engine]:
        engine = Engine(parse(["--host", "127.0.0.1", "--port", "0", *argv]))
        server = Server(("127.0.0.1", 0), engine)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}", engine
    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_embeddings_have_vllm_shape_and_related_texts_score_higher(serve) -> None:
    url, _ = serve("answerdotai/ModernBERT-base", "--served-model-name", "modernbert", "--latency-ms", "0")
    assert requests.get(f"{url}/health", timeout=5).status_code == 200
    models = requests.get(f"{url}/v1/models", timeout=5).json()
    assert models["object"] == "list" and [m["id"] for m in models["data"]] == ["modernbert"]
    texts = ["the court ruled on the contract dispute", "a contract dispute ruling by the court",
             "bananas ripen faster in a paper bag"]
    body = requests.post(f"{url}/v1/embeddings", json={"model": "modernbert", "input": texts}, timeout=5).json()
    assert body["object"] == "list" and [d["index"] for d in body["data"]] == [0, 1, 2]
    vectors = [d["embedding"] for d in body["data"]]
    assert all(len(v) == 768 and math.isclose(cosine(v, v), 1.0, rel_tol=1e-9) for v in vectors)
    assert cosine(vectors[0], vectors[1]) > 0.5 > cosine(vectors[0], vectors[2])
    assert body["usage"]["prompt_tokens"] == sum(len(t.split()) for t in texts)


def test_what_vllm_refuses_is_refused(serve) -> None:
    url, _ = serve("answerdotai/ModernBERT-base", "--latency-ms", "0", "--max-model-len", "4")
    unknown = requests.post(f"{url}/v1/embeddings", json={"model": "gpt-4", "input": "x"}, timeout=5)
    assert unknown.status_code == 404 and unknown.json()["type"] == "NotFoundError"
    chat = requests.post(f"{url}/v1/chat/completions", timeout=5,
                         json={"model": "answerdotai/ModernBERT-base", "messages": [{"role": "user", "content": "hi"}]})
    assert chat.status_code == 400 and "Chat Completions" in chat.json()["message"]
    long = requests.post(f"{url}/v1/embeddings", json={"model": "answerdotai/ModernBERT-base",
                                                       "input": "one two three four five"}, timeout=5)
    assert long.status_code == 400 and "max_model_len" in long.json()["message"]
    with pytest.raises(SystemExit):
        parse(["m", "--gpu-memory-utilization", "1.5"])


def test_chat_answers_on_a_generate_runner(serve) -> None:
    url, _ = serve("openai/gpt-oss-20b", "--served-model-name", "gpt-oss-20b", "--latency-ms", "0")
    reply = requests.post(f"{url}/v1/chat/completions", timeout=5, json={
        "model": "gpt-oss-20b", "messages": [{"role": "user", "content": "What is 2+2?"}]}).json()
    assert reply["object"] == "chat.completion" and reply["choices"][0]["finish_reason"] == "stop"
    assert "What is 2+2?" in reply["choices"][0]["message"]["content"]


def test_at_most_max_num_seqs_requests_run_at_once(serve) -> None:
    url, engine = serve("answerdotai/ModernBERT-base", "--max-num-seqs", "2", "--latency-ms", "150")
    with ThreadPoolExecutor(6) as pool:
        codes = list(pool.map(lambda i: requests.post(f"{url}/v1/embeddings", timeout=10, json={
            "model": "answerdotai/ModernBERT-base", "input": f"text {i}"}).status_code, range(6)))
    assert codes == [200] * 6 and engine.peak == 2 and engine.served == 6
