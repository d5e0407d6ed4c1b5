"""Agent runtime for the CrewAI (G7) and LangGraph (G8) services: imports the framework, lists the crew/graph
definitions mounted at HYDRA_AGENT_DIR and serves /health on :8000 with LiteLLM's reachability.

`python3 agent_worker.py --check` is the container's healthcheck (exit 0 when /health says ok).
Runs with the standard library only, beside whichever framework the image installed.
"""

import importlib
import importlib.metadata
import json
import os
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = 8000


def status() -> dict:
    framework = os.environ["HYDRA_AGENT_FRAMEWORK"]
    importlib.import_module(framework)  # the container fails loudly if the framework is not installed
    folder = os.environ.get("HYDRA_AGENT_DIR", "/app")
    definitions = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    base = os.environ.get("OPENAI_API_BASE", "").rstrip("/").removesuffix("/v1")
    try:
        with urllib.request.urlopen(f"{base}/health/liveliness", timeout=3) as r:
            llm = r.status == 200
    except OSError:
        llm = False
    return {"ok": True, "framework": framework, "version": importlib.metadata.version(framework),
            "definitions": definitions, "llm_gateway": base, "llm_reachable": llm}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        code, body = (200, status()) if self.path == "/health" else (404, {"error": "not found"})
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def check() -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/health", timeout=4) as r:
        return 0 if json.load(r).get("ok") else 1


if __name__ == "__main__":
    if "--check" in sys.argv:
        sys.exit(check())
    status()  # import errors surface at start, not at the first health check
    ThreadingHTTPServer(("0.0.0.0", PORT), Handler).serve_forever()
