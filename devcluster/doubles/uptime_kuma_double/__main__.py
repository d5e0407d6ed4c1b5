"""`python -m devcluster.doubles.uptime_kuma_double --host H --port P --data-dir D`: run the Uptime Kuma double.

Defaults follow the real server (port 3001, ./data, interval >= 20 s). Two test knobs keep tests fast without
changing what the API accepts from the real client: --interval-scale multiplies every check period (0.05 makes a
20 s monitor check every second), --min-interval lowers the smallest interval the server accepts (down to 1 s).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from aiohttp import web

from devcluster.doubles.uptime_kuma_double.server import KumaDouble
from devcluster.doubles.uptime_kuma_double.store import Store


def _bounded(low: float, high: float, kind: type = float) -> object:
    def parse(text: str) -> float:
        value = kind(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
        return value
    return parse


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="uptime_kuma_double", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=_bounded(1, 65535, int), default=3001, help="port (default 3001)")
    parser.add_argument("--data-dir", type=Path, default=Path("data"), help="users.json/monitors.json (./data)")
    parser.add_argument("--min-interval", type=_bounded(1, 20, int), default=20,
                        help="smallest monitor interval accepted, seconds (default 20 like Uptime Kuma)")
    parser.add_argument("--interval-scale", type=_bounded(0.001, 1.0), default=1.0,
                        help="multiply check periods by this (tests; default 1.0); periods never go below 0.5 s")
    parser.add_argument("--max-monitors", type=_bounded(1, 10000, int), default=500,
                        help="refuse `add` beyond this many monitors (default 500)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser.parse_args(argv)


def make_app(double: KumaDouble) -> web.Application:
    """The aiohttp app: Socket.IO at /socket.io/, a 200 page at / for health checks, monitors run on startup."""
    app = web.Application()
    double.sio.attach(app)

    async def index(_: web.Request) -> web.Response:
        return web.Response(text="<!doctype html><title>Uptime Kuma</title><p>Uptime Kuma double</p>",
                            content_type="text/html")

    async def on_startup(_: web.Application) -> None:
        double.runner.start_all()

    async def on_cleanup(_: web.Application) -> None:
        await double.runner.close()

    app.router.add_get("/", index)
    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    for noisy in ("aiohttp.access", "socketio", "engineio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    double = KumaDouble(Store(args.data_dir), min_interval=args.min_interval,
                        interval_scale=args.interval_scale, max_monitors=args.max_monitors)
    logging.getLogger("uptime_kuma_double").info("Uptime Kuma double listening on %s:%s, data in %s",
                                                 args.host, args.port, args.data_dir)
    web.run_app(make_app(double), host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
