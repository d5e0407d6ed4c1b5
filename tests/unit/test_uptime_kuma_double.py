"""The Uptime Kuma double, driven by the REAL `uptime_kuma_api.UptimeKumaApi` client over Socket.IO on loopback.

Setup/login and the real server's refusals, monitor add/list/edit/delete by name, persistence across a restart of
the process, and real checks: an HTTP and a port monitor go DOWN when their loopback target stops and UP again
when it comes back. The double runs with --interval-scale 0.05, so a 20 s monitor (the client's minimum) is
checked every second.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from uptime_kuma_api import MonitorStatus, MonitorType, UptimeKumaApi, UptimeKumaException

from tests.doubles import free_port, wait_serving

ROOT = Path(__file__).resolve().parents[2]
USER, PASSWORD = "admin", "s3cret-pass"
SCALE = 0.05  # the double's --interval-scale: interval 20 s -> a check every 1 s
PERIOD = 20 * SCALE


class Double:
    """The double as a subprocess on 127.0.0.1:port with data_dir; restartable on the same port and data."""

    def __init__(self, data_dir: Path, *extra: str) -> None:
        self.data_dir, self.extra, self.port = data_dir, extra, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cmd = [sys.executable, "-m", "devcluster.doubles.uptime_kuma_double", "--host", "127.0.0.1",
               "--port", str(self.port), "--data-dir", str(self.data_dir), "--interval-scale", str(SCALE),
               *self.extra]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE)
        wait_serving(self.proc, self.url + "/")

    def stop(self) -> str:
        """Stop the process; return what it logged."""
        assert self.proc is not None
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=10)
        self.proc = None
        return err.decode()

    def client(self) -> UptimeKumaApi:
        return UptimeKumaApi(self.url, timeout=5, wait_events=0.05)


class Target:
    """A loopback HTTP server (http.server) that can be stopped and started again on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        class Quiet(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = b"<html>kuma target ok</html>"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Quiet)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def wait_for(cond: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll cond until it returns something truthy; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def by_name(api: UptimeKumaApi) -> dict[str, dict[str, Any]]:
    return {m["name"]: m for m in api.get_monitors()}


@pytest.fixture
def double(tmp_path: Path) -> Iterator[Double]:
    d = Double(tmp_path / "kuma")
    d.start()
    yield d
    if d.proc is not None:
        d.stop()


@pytest.fixture
def target() -> Iterator[Target]:
    t = Target()
    t.start()
    yield t
    t.stop()


@pytest.fixture
def api(double: Double) -> Iterator[UptimeKumaApi]:
    client = double.client()
    client.setup(USER, PASSWORD)
    client.login(USER, PASSWORD)
    yield client
    client.disconnect()


def test_setup_login_and_what_is_refused(double: Double) -> None:
    with double.client() as api:
        assert api.need_setup() is True
        for call in (lambda: api.get_monitor(1), lambda: api.pause_monitor(1), lambda: api.get_monitor_beats(1, 1)):
            with pytest.raises(UptimeKumaException, match=r"^You are not logged in\.$"):
                call()
        with pytest.raises(UptimeKumaException, match="Password is too weak"):
            api.setup(USER, "abc")
        assert api.setup(USER, PASSWORD) == {"msg": "Added Successfully."}
        assert api.need_setup() is False
        with pytest.raises(UptimeKumaException, match="has been initialized"):
            api.setup("other", PASSWORD)
        with pytest.raises(UptimeKumaException, match=r"^Incorrect username or password\.$"):
            api.login(USER, "wrong-password1")
        with pytest.raises(UptimeKumaException, match=r"^Incorrect username or password\.$"):
            api.login("nobody", PASSWORD)
        assert api.login(USER, PASSWORD)["token"].count(".") == 2
        assert api.version == "1.23.16"
        assert api.get_monitors() == []
        # The server validates too (the client checks interval >= 20 itself; a raw call reaches the server).
        with pytest.raises(UptimeKumaException, match=r"^Interval cannot be less than 20 seconds$"):
            api._call("add", {"type": "http", "name": "x", "url": "http://127.0.0.1:1/", "interval": 5})
        api.logout()
        with pytest.raises(UptimeKumaException, match=r"^You are not logged in\.$"):
            api.get_monitor(1)
    users = (double.data_dir / "users.json").read_text()
    assert PASSWORD not in users and json.loads(users)["users"][0]["password"].startswith("scrypt$")
    assert (double.data_dir / "users.json").stat().st_mode & 0o077 == 0
    assert PASSWORD not in double.stop()


def test_monitors_add_list_edit_delete_and_survive_a_restart(double: Double, api: UptimeKumaApi,
                                                             target: Target) -> None:
    closed = free_port()
    web = api.add_monitor(type=MonitorType.HTTP, name="web", url=f"http://127.0.0.1:{target.port}/",
                          description="loopback http.server", maxretries=0)
    port = api.add_monitor(type=MonitorType.PORT, name="closed-port", hostname="127.0.0.1", port=closed,
                           maxretries=0)
    gone = api.add_monitor(type=MonitorType.KEYWORD, name="to-delete", url=f"http://127.0.0.1:{target.port}/",
                           keyword="kuma target")
    assert web == {"msg": "Added Successfully.", "monitorID": 1}
    assert (port["monitorID"], gone["monitorID"]) == (2, 3)

    mons = by_name(api)
    assert set(mons) == {"web", "closed-port", "to-delete"}
    assert mons["web"]["url"] == f"http://127.0.0.1:{target.port}/" and mons["web"]["active"] is True
    assert mons["web"]["accepted_statuscodes"] == ["200-299"] and mons["web"]["notificationIDList"] == []
    assert (mons["closed-port"]["hostname"], mons["closed-port"]["port"]) == ("127.0.0.1", closed)

    edited = api.edit_monitor(port["monitorID"], name="closed-port-2", interval=40, description="edited")
    assert edited == {"msg": "Saved.", "monitorID": port["monitorID"]}
    mon = api.get_monitor(port["monitorID"])
    assert (mon["id"], mon["name"], mon["interval"], mon["description"], mon["port"]) == (
        port["monitorID"], "closed-port-2", 40, "edited", closed)
    assert len(api.get_monitors()) == 3

    assert api.delete_monitor(gone["monitorID"]) == {"msg": "Deleted Successfully."}
    wait_for(lambda: "to-delete" not in by_name(api), 5, "the pushed monitorList without the deleted monitor")
    with pytest.raises(UptimeKumaException, match="monitor does not exist"):
        api.delete_monitor(gone["monitorID"])

    # Both monitors really run: the http one is UP, the closed port DOWN with Node's wording.
    wait_for(lambda: api.get_monitor_beats(web["monitorID"], 1), 5, "a beat of the http monitor")
    assert api.get_monitor_beats(web["monitorID"], 1)[-1]["status"] == MonitorStatus.UP
    beat = wait_for(lambda: api.get_monitor_beats(port["monitorID"], 1), 5, "a beat of the port monitor")[-1]
    assert beat["status"] == MonitorStatus.DOWN and beat["msg"] == f"connect ECONNREFUSED 127.0.0.1:{closed}"
    token = api.login(USER, PASSWORD)["token"]
    last_beat = api.get_monitor_beats(web["monitorID"], 1)[-1]["id"]
    api.disconnect()

    double.stop()
    stored = json.loads((double.data_dir / "monitors.json").read_text())["monitors"]
    assert sorted(m["name"] for m in stored.values()) == ["closed-port-2", "web"]
    double.start()
    with double.client() as again:
        assert again.need_setup() is False
        with pytest.raises(UptimeKumaException, match=r"^Incorrect username or password\.$"):
            again.login(USER, "not-the-password9")
        assert again.login_by_token(token) == {}
        mons = by_name(again)
        assert set(mons) == {"web", "closed-port-2"}
        assert mons["web"]["id"] == web["monitorID"] and mons["web"]["description"] == "loopback http.server"
        assert (mons["closed-port-2"]["interval"], mons["closed-port-2"]["id"]) == (40, port["monitorID"])
        # ids are never reused, like SQLite AUTOINCREMENT
        assert again.add_monitor(type=MonitorType.HTTP, name="new", url="http://127.0.0.1:1/")["monitorID"] == 4
        assert last_beat in [b["id"] for b in again.get_monitor_beats(web["monitorID"], 1)]  # beats kept too
        assert again.get_heartbeats()[web["monitorID"]]  # pushed as heartbeatList at login


def test_monitor_goes_down_when_its_target_stops_and_up_when_it_returns(api: UptimeKumaApi, target: Target) -> None:
    web = api.add_monitor(type=MonitorType.HTTP, name="web", url=f"http://127.0.0.1:{target.port}/",
                          interval=20, maxretries=0)["monitorID"]
    tcp = api.add_monitor(type=MonitorType.PORT, name="tcp", hostname="127.0.0.1", port=target.port,
                          interval=20, maxretries=0)["monitorID"]

    def latest(monitor_id: int, since: str) -> MonitorStatus | None:
        beats = [b for b in api.get_monitor_beats(monitor_id, 1) if b["time"] > since]
        return beats[-1]["status"] if beats else None

    def now() -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S.000", time.gmtime())

    start = now()
    for mid in (web, tcp):
        wait_for(lambda mid=mid: latest(mid, start) == MonitorStatus.UP, 5, f"monitor {mid} UP")
    assert api.get_monitor_status(web) == MonitorStatus.UP  # from the pushed heartbeat events

    target.stop()
    stopped, since = time.monotonic(), now()
    for mid in (web, tcp):
        wait_for(lambda mid=mid: latest(mid, since) == MonitorStatus.DOWN, 2 * PERIOD + 2, f"monitor {mid} DOWN")
    assert time.monotonic() - stopped <= 2 * PERIOD + 1.5
    wait_for(lambda: api.get_monitor_status(web) == MonitorStatus.DOWN, 3, "the pushed DOWN heartbeat")
    important = api.get_important_heartbeats()[web]
    assert important[0]["status"] == MonitorStatus.DOWN and important[0]["important"] is True

    target.start()
    since = now()
    for mid in (web, tcp):
        wait_for(lambda mid=mid: latest(mid, since) == MonitorStatus.UP, 2 * PERIOD + 2, f"monitor {mid} UP again")
    assert api.uptime()[web][24] > 0 and api.avg_ping()[web] is not None

    assert api.pause_monitor(web) == {"msg": "Paused Successfully."}
    assert by_name(api)["web"]["active"] is False
    assert api.resume_monitor(web) == {"msg": "Resumed Successfully."}


def test_min_interval_flag_lowers_the_interval_the_server_accepts(tmp_path: Path) -> None:
    fast = Double(tmp_path / "kuma", "--min-interval", "1")
    fast.start()
    try:
        with fast.client() as api:
            api.setup(USER, PASSWORD)
            api.login(USER, PASSWORD)
            monitor = {"type": "port", "name": "fast", "hostname": "127.0.0.1", "port": free_port(),
                       "maxretries": 0, "notificationIDList": {}, "accepted_statuscodes": ["200-299"]}
            # the client itself refuses interval < 20, so this goes straight through its Socket.IO call
            added = api._call("add", {**monitor, "interval": 1})
            assert added["msg"] == "Added Successfully."
            with pytest.raises(UptimeKumaException, match=r"^Interval cannot be less than 1 seconds$"):
                api._call("add", {**monitor, "interval": 0})
            assert api.get_monitor(added["monitorID"])["interval"] == 1
            wait_for(lambda: len(api.get_monitor_beats(added["monitorID"], 1)) >= 3, 5, "three 1 s beats")
    finally:
        fast.stop()


def test_last_status_asks_the_server_not_the_pushed_lists_a_login_race_corrupts(api: UptimeKumaApi,
                                                                                target: Target) -> None:
    """A live heartbeat that reaches uptime-kuma-api before the login's heartbeatList (overwrite false, as the real
    server sends it) makes the client nest the list in its own; get_monitor_status then fails. Replayed here in
    the order the server can deliver them; hydra-ops' kuma.last_status does not depend on it."""
    from hydra_ops.services.monitoring import kuma

    web = api.add_monitor(type=MonitorType.HTTP, name="web", url=f"http://127.0.0.1:{target.port}/",
                          interval=20, maxretries=0)["monitorID"]
    wait_for(lambda: kuma.last_status(api, web) == MonitorStatus.UP, 5, "monitor UP")
    beats = api.get_monitor_beats(web, 1)
    api._event_heartbeat(dict(beats[-1], monitorID=web))
    api._event_heartbeat_list(str(web), beats, False)
    with pytest.raises(TypeError):
        api.get_monitor_status(web)
    assert kuma.last_status(api, web) == MonitorStatus.UP


def test_a_read_only_connection_never_claims_an_unclaimed_instance(double: Double) -> None:
    """What audits and previews use: an instance without an admin stays without one (kuma.Unclaimed); only the
    deploy's apply step (setup=True) makes the admin."""
    from hydra_ops.services.monitoring import kuma

    with pytest.raises(kuma.Unclaimed):
        kuma.connect(double.url, USER, PASSWORD)
    with double.client() as probe:
        assert probe.need_setup() is True
    api = kuma.connect(double.url, USER, PASSWORD, setup=True)
    api.disconnect()
    kuma.connect(double.url, USER, PASSWORD).disconnect()  # claimed now: an ordinary login
