"""A stand-in for the operator's hydra-tools-api (seed 001: `POST http://<hydra-storage>:8700/activity`): it records
every JSON body POSTed to /activity, one line each, and serves them back on GET /activity so tests can read what
arrived. The real service is the operator's own; hydra-ops only sends to it. Stdlib only (it runs on a host)."""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MAX_BODY = 1 << 20  # an alert batch is a few KiB; refuse anything absurd
KEEP = 1000  # entries served back (the log file keeps everything)


class Handler(BaseHTTPRequestHandler):
    """POST /activity records; GET /activity lists; anything else is 404."""

    server: ActivityServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if self.path.split("?")[0] != "/activity":
            return self._send(404, {"error": "not found"})
        if not 0 < length <= MAX_BODY:
            return self._send(413 if length else 400, {"error": "body required, at most 1 MiB"})
        try:
            body = json.loads(self.rfile.read(length))
        except ValueError:
            return self._send(400, {"error": "body is not JSON"})
        self.server.record(body)
        self._send(201, {"ok": True})

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/activity":
            return self._send(200, {"received": self.server.entries()})
        self._send(200 if self.path == "/" else 404, {"service": "activity-api-double"})

    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:  # the journal gets one line per request from record()
        return


class ActivityServer(ThreadingHTTPServer):
    """Appends each received body, with its arrival time, to a JSON-lines file."""

    def __init__(self, address: tuple[str, int], log: Path) -> None:
        super().__init__(address, Handler)
        self.log, self.lock = log, threading.Lock()
        log.parent.mkdir(parents=True, exist_ok=True)

    def record(self, body: object) -> None:
        with self.lock, self.log.open("a") as f:
            f.write(json.dumps({"received_at": time.time(), "body": body}) + "\n")

    def entries(self) -> list[object]:
        with self.lock:
            lines = self.log.read_text().splitlines() if self.log.exists() else []
        return [json.loads(line) for line in lines[-KEEP:]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listen", default="0.0.0.0:8700")
    parser.add_argument("--log", default="/var/lib/hydra-activity/received.jsonl")
    args = parser.parse_args()
    host, _, port = args.listen.rpartition(":")
    ActivityServer((host, int(port)), Path(args.log)).serve_forever()


if __name__ == "__main__":
    main()
