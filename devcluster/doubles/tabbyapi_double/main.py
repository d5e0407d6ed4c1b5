"""Test double for TabbyAPI's `main.py`: same start-up contract and HTTP API, no GPU, no model weights.

Run like TabbyAPI (`python main.py` in its directory): reads config.yml and api_tokens.yml from the working
directory (generating and logging keys when api_tokens.yml is missing, as TabbyAPI does), loads
model.model_name from model.model_dir at start-up when set. Endpoints: /health, /v1/models, /v1/model (503 until a
model is loaded), /v1/model/load and /v1/model/unload (admin key), /v1/chat/completions and /v1/completions (api
key; `stream: true` sends server-sent events). Double-only: TABBY_DOUBLE_TOKEN_DELAY_MS (default 10).
At start it loads libstdc++.so.6 and libz.so.1 by soname, as torch's and exllamav2's extension modules do, and exits
with the dynamic loader's error when one cannot be found (on NixOS only the unit's LD_LIBRARY_PATH leads there).
"""

from __future__ import annotations

import ctypes
import json
import os
import secrets
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml  # TabbyAPI's own dependency; installed into its venv from the requirements in group data

#: Host libraries pip's wheels link by soname (torch, numpy, exllamav2) and none of them bundles.
NATIVE_LIBS = ("libstdc++.so.6", "libz.so.1")
WORDS = "hydra answers from a seventy billion parameter model split across two cards".split()


def log(level: str, message: str) -> None:
    sys.stderr.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {level}:     {message}\n")
    sys.stderr.flush()


class Tabby:
    """Loaded configuration, keys and model state."""

    def __init__(self, workdir: Path) -> None:
        self.config: dict[str, Any] = yaml.safe_load((workdir / "config.yml").read_text()) or {}
        self.network = self.config.get("network") or {}
        self.model_cfg = self.config.get("model") or {}
        self.model_dir = Path(self.model_cfg.get("model_dir") or "models")
        self.lock = threading.Lock()
        self.loaded: str | None = None
        self.delay = float(os.environ.get("TABBY_DOUBLE_TOKEN_DELAY_MS", "10")) / 1000
        tokens = workdir / "api_tokens.yml"
        if tokens.exists():
            keys = yaml.safe_load(tokens.read_text()) or {}
        else:  # TabbyAPI's behaviour: invent keys, save them and print them to the log
            keys = {"api_key": secrets.token_hex(16), "admin_key": secrets.token_hex(16)}
            tokens.write_text(yaml.safe_dump(keys))
            log("INFO", f"Your API key is: {keys['api_key']}")
            log("INFO", f"Your admin key is: {keys['admin_key']}")
        self.api_key, self.admin_key = str(keys.get("api_key")), str(keys.get("admin_key"))
        name = self.model_cfg.get("model_name")
        if name:
            error = self.load(str(name))
            if error:
                log("ERROR", error)

    def load(self, name: str) -> str | None:
        path = self.model_dir / name
        if not (path / "config.json").is_file():
            return f"Model path {path} does not exist or has no config.json"
        with self.lock:
            self.loaded = name
        log("INFO", f"Loading model: {path} (backend {self.model_cfg.get('backend', 'exllamav2')}, "
                    f"tensor_parallel={self.model_cfg.get('tensor_parallel', False)})")
        log("INFO", "Model successfully loaded.")
        return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    tabby: Tabby

    def log_message(self, fmt: str, *args: Any) -> None:
        log("INFO", f'{self.client_address[0]} - "{self.command} {self.path}" {args[1] if len(args) > 1 else ""}')

    def _send(self, code: int, body: Any, ctype: str = "application/json") -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _key(self, *names: str) -> str:
        for name in names:
            if self.headers.get(name):
                return self.headers[name]
        auth = self.headers.get("Authorization", "")
        return auth.split(" ", 1)[1] if auth.lower().startswith("bearer ") else ""

    def _authorized(self, admin: bool) -> bool:
        if (self.tabby.network.get("disable_auth")) is True:
            return True
        given = self._key("x-admin-key") if admin else self._key("x-api-key", "x-admin-key")
        wanted = [self.tabby.admin_key] if admin else [self.tabby.api_key, self.tabby.admin_key]
        if any(secrets.compare_digest(given, w) for w in wanted if given):
            return True
        self._send(401, {"detail": "Invalid " + ("admin" if admin else "API") + " key"})
        return False

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}") if length else {}

    def do_GET(self) -> None:
        if self.path == "/health":
            self._send(200, {"status": "healthy", "issues": []})
        elif self.path == "/v1/models" and self._authorized(admin=False):
            names = sorted(p.name for p in self.tabby.model_dir.iterdir() if p.is_dir()) \
                if self.tabby.model_dir.is_dir() else []
            self._send(200, {"object": "list", "data": [{"id": n, "object": "model", "owned_by": "tabbyAPI"}
                                                        for n in names]})
        elif self.path == "/v1/model" and self._authorized(admin=False):
            if self.tabby.loaded is None:
                self._send(503, {"detail": "No models are currently loaded."})
            else:
                self._send(200, {"id": self.tabby.loaded, "object": "model", "owned_by": "tabbyAPI",
                                 "parameters": {"max_seq_len": self.tabby.model_cfg.get("max_seq_len"),
                                                "cache_mode": self.tabby.model_cfg.get("cache_mode", "FP16")}})
        elif self.path not in ("/v1/models", "/v1/model"):
            self._send(404, {"detail": "Not Found"})

    def do_POST(self) -> None:
        try:
            body = self._body()
        except json.JSONDecodeError:
            self._send(422, {"detail": "invalid JSON"})
            return
        if self.path == "/v1/model/load" and self._authorized(admin=True):
            error = self.tabby.load(str(body.get("model_name") or body.get("name") or ""))
            self._send(400, {"detail": error}) if error else self._send(200, {"status": "success"})
        elif self.path == "/v1/model/unload" and self._authorized(admin=True):
            with self.tabby.lock:
                self.tabby.loaded = None
            self._send(200, {"status": "success"})
        elif self.path in ("/v1/chat/completions", "/v1/completions") and self._authorized(admin=False):
            self._complete(body, chat=self.path.endswith("chat/completions"))
        elif self.path not in ("/v1/model/load", "/v1/model/unload", "/v1/chat/completions", "/v1/completions"):
            self._send(404, {"detail": "Not Found"})

    def _complete(self, body: dict[str, Any], chat: bool) -> None:
        if self.tabby.loaded is None:
            self._send(503, {"detail": "No models are currently loaded."})
            return
        n = max(1, min(int(body.get("max_tokens") or 8), 32))
        rid, created = f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex}", int(time.time())
        kind = "chat.completion" if chat else "text_completion"
        words = [WORDS[i % len(WORDS)] + (" " if i < n - 1 else "") for i in range(n)]
        if not body.get("stream"):
            time.sleep(self.tabby.delay * n)
            text = "".join(words)
            choice = {"index": 0, "finish_reason": "stop"}
            choice.update({"message": {"role": "assistant", "content": text}} if chat else {"text": text})
            self._send(200, {"id": rid, "object": kind, "created": created, "model": self.tabby.loaded,
                             "choices": [choice], "usage": {"prompt_tokens": 8, "completion_tokens": n,
                                                            "total_tokens": 8 + n}})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i, word in enumerate([*words, None]):
            if word is not None:
                time.sleep(self.tabby.delay)
            choice: dict[str, Any] = {"index": 0, "finish_reason": None if word is not None else "stop"}
            if chat:
                choice["delta"] = {"content": word} if word is not None else {}
                if i == 0:
                    choice["delta"]["role"] = "assistant"
            else:
                choice["text"] = word or ""
            event = {"id": rid, "object": f"{kind}.chunk" if chat else kind, "created": created,
                     "model": self.tabby.loaded, "choices": [choice]}
            self._chunk(f"data: {json.dumps(event)}\n\n")
        self._chunk("data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")

    def _chunk(self, text: str) -> None:
        data = text.encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


def load_native_libs() -> None:
    """Load NATIVE_LIBS as `import torch` does; fail with the loader's message (ImportError) when one is missing."""
    for soname in NATIVE_LIBS:
        try:
            ctypes.CDLL(soname)
        except OSError as exc:
            log("ERROR", f"ImportError: {exc}")
            raise SystemExit(1) from None


def main() -> int:
    load_native_libs()
    tabby = Tabby(Path.cwd())
    host, port = str(tabby.network.get("host", "127.0.0.1")), int(tabby.network.get("port", 5000))
    gpus = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    log("INFO", f"Starting TabbyAPI (double) on {host}:{port}, CUDA_VISIBLE_DEVICES={gpus or 'all'}")
    server = ThreadingHTTPServer((host, port), type("Bound", (Handler,), {"tabby": tabby}))
    server.daemon_threads = True
    log("INFO", f"Uvicorn running on http://{host}:{port} (Press CTRL+C to quit)")
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
