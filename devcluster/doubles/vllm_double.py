#!/usr/bin/env python3
"""A stand-in for vLLM's OpenAI-compatible server (`vllm serve`, seed 004's spark hosts), which needs a GPU and
model weights: the same command-line flags the compose services pass, the same endpoints and JSON shapes
(/health, /v1/models, /v1/embeddings, /v1/chat/completions), vLLM's refusals (unknown model, wrong runner, bad
input), a configurable per-request latency and a bounded number of requests served at once (--max-num-seqs; the
rest wait). Embeddings are hashed bags of words and character trigrams, L2-normalised, so texts that share words
score higher than unrelated ones. Standard library only: it runs on a host as the image's binary would."""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DIMENSIONS = 768  # ModernBERT-base's hidden size
MAX_BODY = 4 << 20
_WORD = re.compile(r"[a-z0-9]+")


def embed(text: str, dimensions: int = DIMENSIONS) -> list[float]:
    """A unit vector for text: words weigh 1, character trigrams 0.3 (so spelling variants stay close)."""
    vec = [0.0] * dimensions
    words = _WORD.findall(text.lower())
    features = [(w, 1.0) for w in words]
    features += [(f"#{w[i:i + 3]}", 0.3) for w in words for i in range(max(1, len(w) - 2))]
    for feature, weight in features:
        digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
        index = int.from_bytes(digest[:4], "little") % dimensions
        vec[index] += weight if digest[4] & 1 else -weight
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    return [v / norm for v in vec]


class Engine:
    """What one `vllm serve` process holds: its model, runner, latency and the slots requests run in."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.model, self.names = args.model, args.served_model_name or [args.model]
        self.runner, self.latency, self.max_model_len = args.runner, args.latency_ms / 1000, args.max_model_len
        self.slots = threading.BoundedSemaphore(args.max_num_seqs)
        self.created, self.served, self.lock = int(time.time()), 0, threading.Lock()
        self.active = self.peak = 0  # requests holding a slot now, and the most ever at once

    def run(self, work: Any) -> Any:
        """Hold a slot for the configured latency (waiting when all are busy), then answer."""
        with self.slots:
            with self.lock:
                self.active += 1
                self.peak = max(self.peak, self.active)
            try:
                time.sleep(self.latency)  # the double's stand-in for GPU time, by design
                return work()
            finally:
                with self.lock:
                    self.active -= 1
                    self.served += 1


class Handler(BaseHTTPRequestHandler):
    server: Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        engine = self.server.engine
        if self.path == "/health":
            return self._send(200, None)
        if self.path == "/v1/models":
            return self._send(200, {"object": "list", "data": [
                {"id": name, "object": "model", "created": engine.created, "owned_by": "vllm", "root": engine.model,
                 "parent": None, "max_model_len": engine.max_model_len, "permission": []} for name in engine.names]})
        if self.path == "/metrics":  # vLLM's Prometheus counter of finished requests, under its own name
            text = ("# TYPE vllm:request_success_total counter\n"
                    f'vllm:request_success_total{{finished_reason="stop",model_name="{engine.names[0]}"}} '
                    f"{float(engine.served)}\n")
            return self._send(200, text.encode(), "text/plain; version=0.0.4")
        self._error(404, "NotFoundError", f"{self.path} not found")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_BODY:
            return self._error(400, "BadRequestError", "a JSON body is required")
        try:
            body = json.loads(self.rfile.read(length))
        except ValueError:
            return self._error(400, "BadRequestError", "the body is not JSON")
        engine = self.server.engine
        if not isinstance(body, dict):
            return self._error(400, "BadRequestError", "the body must be a JSON object")
        if body.get("model") not in engine.names:
            return self._error(404, "NotFoundError", f"The model `{body.get('model')}` does not exist.")
        if self.path == "/v1/embeddings":
            return self._embeddings(engine, body)
        if self.path == "/v1/chat/completions":
            return self._chat(engine, body)
        self._error(404, "NotFoundError", f"{self.path} not found")

    def _embeddings(self, engine: Engine, body: dict[str, Any]) -> None:
        if engine.runner != "pooling":
            return self._error(400, "BadRequestError", "This model does not support the Embeddings API")
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else texts
        if not (isinstance(texts, list) and texts and all(isinstance(t, str) and t for t in texts)):
            return self._error(400, "BadRequestError", "input must be a non-empty string or list of strings")
        tokens = sum(len(_WORD.findall(t)) for t in texts)
        if max(len(_WORD.findall(t)) for t in texts) > engine.max_model_len:
            return self._error(400, "BadRequestError", f"input is longer than max_model_len {engine.max_model_len}")
        data = engine.run(lambda: [{"index": i, "object": "embedding", "embedding": embed(t)}
                                   for i, t in enumerate(texts)])
        self._send(200, {"id": f"embd-{engine.served}", "object": "list", "created": int(time.time()),
                         "model": body["model"], "data": data,
                         "usage": {"prompt_tokens": tokens, "total_tokens": tokens, "completion_tokens": 0}})

    def _chat(self, engine: Engine, body: dict[str, Any]) -> None:
        if engine.runner != "generate":
            return self._error(400, "BadRequestError", "This model does not support the Chat Completions API")
        messages = body.get("messages")
        if not (isinstance(messages, list) and messages and all(isinstance(m, dict) for m in messages)):
            return self._error(400, "BadRequestError", "messages must be a non-empty list of objects")
        if body.get("stream"):
            return self._error(400, "BadRequestError", "the double does not stream")
        last = str(messages[-1].get("content", ""))
        reply = engine.run(lambda: f"[{engine.names[0]}] {last[:200]}")
        words = len(_WORD.findall(" ".join(str(m.get("content", "")) for m in messages)))
        self._send(200, {"id": f"chatcmpl-{engine.served}", "object": "chat.completion", "created": int(time.time()),
                         "model": body["model"],
                         "choices": [{"index": 0, "message": {"role": "assistant", "content": reply},
                                      "finish_reason": "stop"}],
                         "usage": {"prompt_tokens": words, "completion_tokens": len(reply.split()),
                                   "total_tokens": words + len(reply.split())}})

    def _error(self, status: int, kind: str, message: str) -> None:
        self._send(status, {"object": "error", "message": message, "type": kind, "param": None, "code": status})

    def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        return


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], engine: Engine) -> None:
        super().__init__(address, Handler)
        self.engine = engine


def parser() -> argparse.ArgumentParser:
    """`vllm serve MODEL [flags]`: the flags seed 004's services use, with vLLM's defaults."""
    p = argparse.ArgumentParser(prog="vllm serve", description=__doc__.splitlines()[0])
    p.add_argument("model")
    p.add_argument("--host", default="0.0.0.0")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--served-model-name", nargs="+")
    p.add_argument("--runner", choices=["auto", "generate", "pooling"], default="auto")
    p.add_argument("--gpu-memory-utilization", type=float, default=0.92)
    p.add_argument("--max-model-len", type=int, default=8192)
    p.add_argument("--max-num-seqs", type=int, default=256)
    p.add_argument("--latency-ms", type=float, default=10.0, help="double only: time each request holds a slot")
    return p


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse as vLLM would, refusing what it refuses (utilisation outside (0, 1], an unknown runner). A leading
    `serve` is the subcommand (installed as `vllm`, the image runs `vllm serve MODEL ...` like vLLM's own)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["serve"]:
        argv = argv[1:]
    args = parser().parse_args(argv)
    if not 0 < args.gpu_memory_utilization <= 1:
        parser().error(f"--gpu-memory-utilization must be in (0, 1], got {args.gpu_memory_utilization}")
    if args.max_num_seqs < 1 or args.max_model_len < 1:
        parser().error("--max-num-seqs and --max-model-len must be positive")
    if args.runner == "auto":  # vLLM picks pooling for an embedding model; the double goes by the name
        args.runner = "pooling" if re.search(r"bert|embed", args.model, re.I) else "generate"
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    server = Server((args.host, args.port), Engine(args))
    print(f"vllm double: {args.model} ({args.runner}) on {args.host}:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
