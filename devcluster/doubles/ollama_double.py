#!/usr/bin/env python3
"""Test double for the `ollama` binary: same CLI entry points and HTTP API, no GPU, stdlib only.

Packed as bin/ollama inside an ollama-linux-amd64.tgz lookalike so deploys install it exactly like the real release.
Honours OLLAMA_HOST, OLLAMA_MODELS, OLLAMA_NUM_PARALLEL and CUDA_VISIBLE_DEVICES. Double-only knobs:
OLLAMA_DOUBLE_TOKEN_DELAY_MS (per generated token, default 20) and OLLAMA_DOUBLE_TOKENS (tokens per answer, 8).
Every response carries X-Ollama-Instance (host:port) and X-Ollama-Visible-Devices so tests see who served.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

VERSION = "0.8.0"
REGISTRY = "registry.ollama.ai"
WORDS = "the quick brown fox jumps over the lazy dog while hydra serves tokens".split()


def parse_host(value: str | None) -> tuple[str, int]:
    """Parse OLLAMA_HOST the way Ollama does: [scheme://]host[:port], default 127.0.0.1:11434."""
    value = (value or "").strip()
    if "://" in value:
        value = value.split("://", 1)[1]
    value = value.rstrip("/")
    host, port = value, "11434"
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest.lstrip(":") or port
    elif value.count(":") == 1:
        host, port = value.split(":")
    return host or "127.0.0.1", int(port or 11434)


def models_dir() -> Path:
    return Path(os.environ.get("OLLAMA_MODELS") or Path.home() / ".ollama" / "models")


def split_name(name: str) -> tuple[str, str]:
    """'qwen2.5:7b' -> ('qwen2.5', '7b'); a missing tag is 'latest'."""
    base, _, tag = name.partition(":")
    return base, tag or "latest"


def manifest_path(name: str) -> Path:
    base, tag = split_name(name)
    return models_dir() / "manifests" / REGISTRY / "library" / base / tag


def installed_models() -> list[dict[str, Any]]:
    root = models_dir() / "manifests" / REGISTRY / "library"
    out = []
    for path in sorted(root.glob("*/*")) if root.is_dir() else []:
        data = path.read_bytes()
        stat = path.stat()
        out.append(
            {
                "name": f"{path.parent.name}:{path.name}",
                "model": f"{path.parent.name}:{path.name}",
                "modified_at": datetime.fromtimestamp(stat.st_mtime, UTC).isoformat(),
                "size": len(data),
                "digest": hashlib.sha256(data).hexdigest(),
                "details": {"format": "gguf", "family": "llama", "parameter_size": "7B",
                            "quantization_level": "Q4_K_M"},
            }
        )
    return out


def visible_gpus() -> list[dict[str, str]]:
    """GPUs this process may use: nvidia-smi's list filtered by CUDA_VISIBLE_DEVICES, like the CUDA runtime."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return []
    try:
        out = subprocess.run(
            [smi, "--query-gpu=index,uuid,name,memory.total,memory.free", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout
    except (subprocess.SubprocessError, OSError):
        return []
    gpus = []
    for line in out.strip().splitlines():
        index, uuid, name, total, free = (f.strip() for f in line.split(","))
        gpus.append({"index": index, "uuid": uuid, "name": name, "total": total, "free": free})
    wanted = os.environ.get("CUDA_VISIBLE_DEVICES")
    if wanted is None:
        return gpus
    picked = []
    for item in (w.strip() for w in wanted.split(",") if w.strip()):
        picked += [g for g in gpus if item in (g["index"], g["uuid"])]
    return picked


class State:
    """Server-wide state: loaded models and the per-instance parallel slots."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.instance = f"{socket.gethostname()}:{port}"
        self.slots = threading.Semaphore(max(1, int(os.environ.get("OLLAMA_NUM_PARALLEL") or 1)))
        self.delay = float(os.environ.get("OLLAMA_DOUBLE_TOKEN_DELAY_MS", "20")) / 1000.0
        self.tokens = int(os.environ.get("OLLAMA_DOUBLE_TOKENS", "8"))
        self.loaded: dict[str, float] = {}
        self.lock = threading.Lock()
        self.gpus = visible_gpus()
        try:
            self.loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            self.loopback = host == "localhost"


def host_allowed(header: str) -> bool:
    """Ollama's allowedHostsMiddleware for loopback listeners: local names and local IPs only."""
    host = header.strip().lower()
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.split(":")[0]
    if host in ("", "localhost", socket.gethostname().lower()):
        return True
    try:
        ip = ipaddress.ip_address(host)
        return ip.is_loopback or ip.is_private or ip.is_unspecified
    except ValueError:
        return any(host.endswith("." + tld) for tld in ("localhost", "local", "internal"))


class Handler(BaseHTTPRequestHandler):
    server_version = "ollama-double"
    protocol_version = "HTTP/1.1"
    # Go's net package (and so Ollama) sets TCP_NODELAY; without it small writes stall 40 ms on delayed ACKs.
    disable_nagle_algorithm = True
    state: State

    def log_message(self, fmt: str, *args: Any) -> None:
        status = args[1] if len(args) > 1 else ""
        sys.stderr.write(f'time={_now()} level=INFO msg="{self.command} {self.path}" status={status}\n')

    # -- plumbing --------------------------------------------------------------------------------------------
    def _headers(self, code: int, ctype: str, length: int | None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("X-Ollama-Instance", self.state.instance)
        self.send_header("X-Ollama-Visible-Devices", os.environ.get("CUDA_VISIBLE_DEVICES", ""))
        if length is None:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def _json(self, code: int, body: Any) -> None:
        data = json.dumps(body, separators=(",", ":")).encode()
        self._headers(code, "application/json; charset=utf-8", len(data))
        self.wfile.write(data)

    def _text(self, code: int, text: str) -> None:
        data = text.encode()
        self._headers(code, "text/plain; charset=utf-8", len(data))
        if self.command != "HEAD":
            self.wfile.write(data)

    def _chunk(self, obj: Any) -> None:
        data = (json.dumps(obj, separators=(",", ":")) + "\n").encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw or b"{}")

    def _guard(self) -> bool:
        if self.state.loopback and not host_allowed(self.headers.get("Host", "")):
            self._headers(403, "text/plain", 0)
            return False
        return True

    # -- routes ----------------------------------------------------------------------------------------------
    def do_HEAD(self) -> None:
        if self._guard():
            self._text(200, "Ollama is running") if self.path in ("/", "") else self._text(404, "")

    def do_GET(self) -> None:
        if not self._guard():
            return
        if self.path in ("/", ""):
            self._text(200, "Ollama is running")
        elif self.path == "/api/version":
            self._json(200, {"version": VERSION})
        elif self.path == "/api/tags":
            self._json(200, {"models": installed_models()})
        elif self.path == "/api/ps":
            self._json(200, {"models": self._ps()})
        else:
            self._text(404, "404 page not found")

    def do_POST(self) -> None:
        if not self._guard():
            return
        try:
            body = self._body()
        except json.JSONDecodeError as exc:
            self._json(400, {"error": f"invalid JSON: {exc}"})
            return
        routes = {"/api/generate": self._generate, "/api/chat": self._chat, "/api/embed": self._embed,
                  "/api/pull": self._pull, "/api/show": self._show}
        route = routes.get(self.path)
        if route is None:
            self._text(404, "404 page not found")
            return
        route(body)

    # -- API -------------------------------------------------------------------------------------------------
    def _ps(self) -> list[dict[str, Any]]:
        with self.state.lock:
            loaded = dict(self.state.loaded)
        vram = 4_700_000_000 if self.state.gpus else 0
        return [{"name": m, "model": m, "size": 4_700_000_000, "size_vram": vram,
                 "expires_at": datetime.fromtimestamp(t, UTC).isoformat()} for m, t in loaded.items()]

    def _require_model(self, body: dict[str, Any]) -> str | None:
        name = body.get("model") or body.get("name") or ""
        if not name:
            self._json(400, {"error": "model is required"})
            return None
        if ":" not in name:
            name += ":latest"
        if not manifest_path(name).is_file():
            self._json(404, {"error": f"model '{name}' not found"})
            return None
        with self.state.lock:
            self.state.loaded[name] = time.time() + 300
        return name

    def _stream(self, body: dict[str, Any], name: str, chat: bool) -> None:
        stream = body.get("stream", True)
        options = body.get("options") or {}
        n = int(options.get("num_predict") or self.state.tokens)
        n = max(1, min(n, self.state.tokens))
        started = time.monotonic_ns()
        with self.state.slots:
            if stream:
                self._headers(200, "application/x-ndjson", None)
            words = []
            for i in range(n):
                time.sleep(self.state.delay)
                word = WORDS[i % len(WORDS)] + (" " if i < n - 1 else "")
                words.append(word)
                if stream:
                    self._chunk(self._piece(name, word, chat, done=False))
            final = self._piece(name, "" if stream else "".join(words), chat, done=True)
            final.update({"done_reason": "stop", "total_duration": time.monotonic_ns() - started,
                          "load_duration": 0, "prompt_eval_count": 8, "prompt_eval_duration": 1000,
                          "eval_count": n, "eval_duration": time.monotonic_ns() - started})
            if not chat:
                final["context"] = [1, 2, 3]
            if stream:
                self._chunk(final)
                self.wfile.write(b"0\r\n\r\n")
            else:
                self._json(200, final)

    def _piece(self, name: str, text: str, chat: bool, done: bool) -> dict[str, Any]:
        piece: dict[str, Any] = {"model": name, "created_at": _now(), "done": done}
        if chat:
            piece["message"] = {"role": "assistant", "content": text}
        else:
            piece["response"] = text
        return piece

    def _generate(self, body: dict[str, Any]) -> None:
        name = self._require_model(body)
        if name:
            self._stream(body, name, chat=False)

    def _chat(self, body: dict[str, Any]) -> None:
        name = self._require_model(body)
        if name:
            self._stream(body, name, chat=True)

    def _embed(self, body: dict[str, Any]) -> None:
        name = self._require_model(body)
        if not name:
            return
        inputs = body.get("input", "")
        inputs = inputs if isinstance(inputs, list) else [inputs]
        vectors = []
        for text in inputs:
            digest = hashlib.sha256(str(text).encode()).digest()
            vectors.append([round((b - 128) / 128, 6) for b in digest[:16]])
        self._json(200, {"model": name, "embeddings": vectors, "total_duration": 1000,
                         "load_duration": 0, "prompt_eval_count": len(inputs)})

    def _show(self, body: dict[str, Any]) -> None:
        name = self._require_model(body)
        if name:
            self._json(200, {"modelfile": f"FROM {name}", "parameters": "", "template": "{{ .Prompt }}",
                             "details": {"format": "gguf", "family": "llama", "parameter_size": "7B"},
                             "model_info": {"general.architecture": "llama"}, "capabilities": ["completion"]})

    def _pull(self, body: dict[str, Any]) -> None:
        name = body.get("model") or body.get("name") or ""
        if not name:
            self._json(400, {"error": "model is required"})
            return
        if ":" not in name:
            name += ":latest"
        path = manifest_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                    "layers": [{"mediaType": "application/vnd.ollama.image.model",
                                "digest": "sha256:" + hashlib.sha256(name.encode()).hexdigest(), "size": 1}]}
        tmp = path.with_suffix(".partial")
        tmp.write_text(json.dumps(manifest))
        tmp.replace(path)
        statuses = [{"status": "pulling manifest"}, {"status": "verifying sha256 digest"},
                    {"status": "writing manifest"}, {"status": "success"}]
        if body.get("stream", True):
            self._headers(200, "application/x-ndjson", None)
            for status in statuses:
                self._chunk(status)
            self.wfile.write(b"0\r\n\r\n")
        else:
            self._json(200, statuses[-1])


def _now() -> str:
    return datetime.now(UTC).isoformat()


def serve() -> int:
    host, port = parse_host(os.environ.get("OLLAMA_HOST"))
    state = State(host, port)
    sys.stderr.write(f'time={_now()} level=INFO source=routes.go msg="Listening on {host}:{port} '
                     f'(version {VERSION})"\n')
    for gpu in state.gpus:
        sys.stderr.write(
            f'time={_now()} level=INFO source=types.go msg="inference compute" id={gpu["uuid"]} library=cuda '
            f'name="{gpu["name"]}" total="{gpu["total"]} MiB" available="{gpu["free"]} MiB"\n'
        )
    if not state.gpus:
        sys.stderr.write(f'time={_now()} level=INFO source=gpu.go msg="no compatible GPUs were discovered"\n')
    sys.stderr.flush()
    handler = type("BoundHandler", (Handler,), {"state": state})
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server_cls = type("Server", (ThreadingHTTPServer,), {"address_family": family, "daemon_threads": True,
                                                          "request_queue_size": 128})
    server = server_cls((host, port), handler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def _client_url(path: str) -> str:
    host, port = parse_host(os.environ.get("OLLAMA_HOST"))
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"http://{host}:{port}{path}"


def _call(path: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body, separators=(",", ":")).encode() if body is not None else None
    req = urllib.request.Request(_client_url(path), data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        text = resp.read().decode()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print("Usage: ollama [serve|pull MODEL|list|ps|-v]")
        return 0
    cmd = argv[0]
    if cmd in ("-v", "--version", "version"):
        print(f"ollama version is {VERSION}")
        return 0
    if cmd == "serve":
        return serve()
    try:
        if cmd == "pull" and len(argv) == 2:
            for status in _call("/api/pull", {"model": argv[1]}):
                print(status.get("status", status))
            return 0
        if cmd in ("list", "ls"):
            print("NAME\tID\tSIZE\tMODIFIED")
            for model in _call("/api/tags")[0]["models"]:
                print(f'{model["name"]}\t{model["digest"][:12]}\t{model["size"]} B\t{model["modified_at"]}')
            return 0
        if cmd == "ps":
            for model in _call("/api/ps")[0]["models"]:
                print(model["name"])
            return 0
    except (urllib.error.URLError, OSError) as exc:
        print(f"Error: could not connect to ollama app, is it running? ({exc})", file=sys.stderr)
        return 1
    print(f"Error: unknown command {cmd!r}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
