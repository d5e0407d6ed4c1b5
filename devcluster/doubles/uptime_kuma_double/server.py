"""The Socket.IO API of the Uptime Kuma double: the events `uptime-kuma-api` emits and the pushes it waits for.

Event names, argument order, the `{ok, msg}` acknowledgements and their messages follow Uptime Kuma 1.23's
server.js (e.g. "You are not logged in.", "Incorrect username or password.", "Added Successfully.", "Saved.").
After a login the double pushes what the client waits for before its calls work: `monitorList`, `info` with a
`version`, the (empty) notification/proxy/docker/maintenance/status-page/API-key lists, then per monitor
`heartbeatList`, `importantHeartbeatList`, `avgPing` and `uptime`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any

import socketio

from devcluster.doubles.uptime_kuma_double.monitors import Runner
from devcluster.doubles.uptime_kuma_double.store import Store, sign_token, verify_password, verify_token
from devcluster.doubles.uptime_kuma_double.wire import (
    INITIALIZED,
    LOGIN_LIMIT_PER_MINUTE,
    MAX_INTERVAL_SECOND,
    NOT_LOGGED_IN,
    VERSION,
    WEAK,
    monitor_json,
    too_weak,
)

log = logging.getLogger("uptime_kuma_double")
Ack = dict[str, Any]


class ApiError(Exception):
    """Refused call; becomes `{"ok": False, "msg": str(exc)}` like the real server's catch blocks."""


class KumaDouble:
    """Socket.IO handlers over a Store and a Runner; one instance per process."""

    def __init__(self, store: Store, min_interval: int = 20, interval_scale: float = 1.0,
                 max_monitors: int = 500) -> None:
        self.store = store
        self.min_interval = min_interval
        self.max_monitors = max_monitors
        self.sio = socketio.AsyncServer(async_mode="aiohttp", always_connect=True, logger=False,
                                        engineio_logger=False)
        self.runner = Runner(store, self._emit, interval_scale)
        self.user_of: dict[str, int] = {}
        self.lock = asyncio.Lock()
        self.logins: deque[float] = deque(maxlen=LOGIN_LIMIT_PER_MINUTE)
        self.sio.on("connect", self.on_connect)
        self.sio.on("disconnect", self.on_disconnect)
        public = {"needSetup": self.need_setup, "setup": self.setup, "login": self.login,
                  "loginByToken": self.login_by_token, "logout": self.logout}
        for event, handler in public.items():
            self.sio.on(event, handler)
        guarded = {"add": self.add, "editMonitor": self.edit, "deleteMonitor": self.delete,
                   "getMonitor": self.get_monitor, "getMonitorList": self.get_monitor_list,
                   "getMonitorBeats": self.get_beats, "pauseMonitor": self.pause, "resumeMonitor": self.resume,
                   "clearHeartbeats": self.clear_heartbeats, "getTags": self.get_tags,
                   "changePassword": self.change_password}
        for event, handler in guarded.items():
            self.sio.on(event, self._guard(handler))

    # -- plumbing ----------------------------------------------------------------------------------------------
    async def _emit(self, event: str, data: Any, to: str) -> None:
        await self.sio.emit(event, data, to=to)

    def _guard(self, handler: Any) -> Any:
        """Wrap an auth-only handler: refuse before login, turn ApiError into the {ok: false, msg} ack."""
        async def wrapped(sid: str, *args: Any) -> Ack:
            try:
                if sid not in self.user_of:
                    raise ApiError(NOT_LOGGED_IN)
                return await handler(sid, self.user_of[sid], *args)
            except ApiError as exc:
                return {"ok": False, "msg": str(exc)}
            except Exception as exc:  # the real handlers answer every error with {ok: false, msg}
                log.exception("%s failed", getattr(handler, "__name__", "handler"))
                return {"ok": False, "msg": str(exc) or type(exc).__name__}
        return wrapped

    def _owned(self, user_id: int, monitor_id: Any) -> dict[str, Any]:
        try:
            mon = self.store.monitors.get(int(monitor_id))
        except (TypeError, ValueError):
            mon = None
        if mon is None or mon["user_id"] != user_id:
            raise ApiError("You do not own this monitor.")
        return mon

    def _validate(self, fields: Any) -> dict[str, Any]:
        if not isinstance(fields, dict):
            raise ApiError("Cannot read properties of undefined (reading 'notificationIDList')")
        interval = fields.get("interval")
        if not isinstance(interval, int | float) or isinstance(interval, bool) or interval < self.min_interval:
            raise ApiError(f"Interval cannot be less than {self.min_interval} seconds")
        if interval > MAX_INTERVAL_SECOND:
            raise ApiError(f"Interval cannot be more than {MAX_INTERVAL_SECOND} seconds")
        return fields

    async def send_monitor_list(self, user_id: int) -> dict[str, Any]:
        mons = [m for m in self.store.monitors.values() if m["user_id"] == user_id]
        mons.sort(key=lambda m: (-int(m.get("weight") or 2000), str(m.get("name"))))
        listing = {str(m["id"]): monitor_json(m) for m in mons}
        await self.sio.emit("monitorList", listing, to=str(user_id))
        return listing

    async def send_info(self, sid: str, with_version: bool) -> None:
        """The real server hides the version until login; the client waits for the `info` that has it."""
        info: dict[str, Any] = {"primaryBaseURL": None, "serverTimezone": "UTC", "serverTimezoneOffset": "+00:00"}
        if with_version:
            info.update(version=VERSION, latestVersion=VERSION, isContainer=False, dbType="sqlite")
        await self.sio.emit("info", info, to=sid)

    # -- connection and auth -----------------------------------------------------------------------------------
    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        await self.send_info(sid, with_version=False)
        if not self.store.users:
            await self.sio.emit("setup", to=sid)

    async def on_disconnect(self, sid: str, *_: Any) -> None:
        self.user_of.pop(sid, None)

    async def need_setup(self, sid: str, *_: Any) -> bool:
        return not self.store.users

    async def setup(self, sid: str, username: Any = None, password: Any = None, *_: Any) -> Ack:
        if too_weak(password):
            return {"ok": False, "msg": WEAK}
        async with self.lock:
            if self.store.users:
                return {"ok": False, "msg": INITIALIZED}
            await asyncio.to_thread(self.store.add_user, str(username), password)
        log.info("setup: created user %s", username)
        return {"ok": True, "msg": "Added Successfully."}

    def _rate_limited(self) -> bool:
        now = time.monotonic()
        if len(self.logins) == self.logins.maxlen and now - self.logins[0] < 60:
            return True
        self.logins.append(now)
        return False

    async def login(self, sid: str, data: Any = None, *_: Any) -> Ack:
        if self._rate_limited():
            return {"ok": False, "msg": "Too frequently, try again later."}
        data = data if isinstance(data, dict) else {}
        user = await asyncio.to_thread(self.store.check_login, data.get("username"), data.get("password"))
        if user is None:
            log.warning("login refused for user %s", data.get("username"))
            return {"ok": False, "msg": "Incorrect username or password."}
        await self.after_login(sid, user)
        return {"ok": True, "token": sign_token(user["username"], self.store.jwt_secret)}

    async def login_by_token(self, sid: str, token: Any = None, *_: Any) -> Ack:
        username = verify_token(token, self.store.jwt_secret)
        if username is None:
            return {"ok": False, "msg": "Invalid token."}
        user = self.store.find_user(username)
        if user is None:
            return {"ok": False, "msg": "The user is inactive or deleted."}
        await self.after_login(sid, user)
        return {"ok": True}

    async def change_password(self, sid: str, user_id: int, data: Any = None, *_: Any) -> Ack:
        """The real server's checks: the current password, then the new one's strength."""
        data = data if isinstance(data, dict) else {}
        user = self.store.user_by_id(user_id)
        current, new = data.get("currentPassword"), data.get("newPassword")
        if user is None or not isinstance(current, str) or \
                not await asyncio.to_thread(verify_password, current, user["password"]):
            raise ApiError("Incorrect current password")
        if too_weak(new):
            raise ApiError("Password is too weak. It should contain alphabetic and numeric characters. "
                           "It must be at least 6 characters in length.")
        await asyncio.to_thread(self.store.set_password, user_id, new)
        return {"ok": True, "msg": "Password has been updated successfully."}

    async def logout(self, sid: str, *_: Any) -> None:
        user_id = self.user_of.pop(sid, None)
        if user_id is not None:
            await self.sio.leave_room(sid, str(user_id))

    async def after_login(self, sid: str, user: dict[str, Any]) -> None:
        """Join the user's room and push what the real afterLogin pushes, in its order."""
        self.user_of[sid] = user["id"]
        await self.sio.enter_room(sid, str(user["id"]))
        listing = await self.send_monitor_list(user["id"])
        await self.send_info(sid, with_version=True)
        for event, empty in (("maintenanceList", {}), ("notificationList", []), ("proxyList", []),
                             ("dockerHostList", []), ("apiKeyList", []), ("statusPageList", {})):
            await self.sio.emit(event, empty, to=sid)
        for key in listing:
            beats = self.runner.beats_since(int(key), 24 * 365)
            await self.sio.emit("heartbeatList", (key, beats, False), to=sid)
        for key in listing:
            important = [dict(b) for b in self.runner.important.get(int(key), ())]
            await self.sio.emit("importantHeartbeatList", (key, important, False), to=sid)
        for key in listing:
            for event, args in self.runner.stats(int(key), key):
                await self.sio.emit(event, args, to=sid)

    # -- monitors (auth only) ----------------------------------------------------------------------------------
    async def add(self, sid: str, user_id: int, fields: Any = None, *_: Any) -> Ack:
        fields = self._validate(fields)
        async with self.lock:
            if len(self.store.monitors) >= self.max_monitors:
                raise ApiError(f"The Uptime Kuma double keeps at most {self.max_monitors} monitors.")
            mon = self.store.add_monitor(fields, user_id)
        await self.send_monitor_list(user_id)
        self.runner.start(mon["id"])
        log.info("added monitor %s '%s' (%s)", mon["id"], mon.get("name"), mon.get("type"))
        return {"ok": True, "msg": "Added Successfully.", "monitorID": mon["id"]}

    async def edit(self, sid: str, user_id: int, fields: Any = None, *_: Any) -> Ack:
        try:
            mon = self.store.monitors.get(int(fields["id"])) if isinstance(fields, dict) else None
        except (KeyError, TypeError, ValueError):
            mon = None
        if mon is None:
            raise ApiError("Cannot read properties of null (reading 'user_id')")
        if mon["user_id"] != user_id:
            raise ApiError("Permission denied.")
        fields = self._validate(fields)
        async with self.lock:
            mon = self.store.replace_monitor(mon["id"], fields)
        if mon.get("active", True):
            self.runner.start(mon["id"])
        await self.send_monitor_list(user_id)
        log.info("edited monitor %s '%s'", mon["id"], mon.get("name"))
        return {"ok": True, "msg": "Saved.", "monitorID": mon["id"]}

    async def delete(self, sid: str, user_id: int, monitor_id: Any = None, *_: Any) -> Ack:
        try:
            key = int(monitor_id)
        except (TypeError, ValueError):
            key = -1
        mon = self.store.monitors.get(key)
        if mon is not None and mon["user_id"] == user_id:
            self.runner.forget(key)
            async with self.lock:
                self.store.delete_monitor(key)
            log.info("deleted monitor %s '%s'", key, mon.get("name"))

        async def push_after_ack() -> None:  # the real server acks first, then sends the new list
            await self.send_monitor_list(user_id)
            await self.sio.emit("importantHeartbeatList", (monitor_id, [], True), to=str(user_id))
        self.sio.start_background_task(push_after_ack)
        return {"ok": True, "msg": "Deleted Successfully."}

    async def get_monitor(self, sid: str, user_id: int, monitor_id: Any = None, *_: Any) -> Ack:
        try:
            mon = self.store.monitors.get(int(monitor_id))
        except (TypeError, ValueError):
            mon = None
        if mon is None or mon["user_id"] != user_id:
            raise ApiError("Cannot read properties of null (reading 'toJSON')")
        return {"ok": True, "monitor": monitor_json(mon)}

    async def get_monitor_list(self, sid: str, user_id: int, *_: Any) -> Ack:
        await self.send_monitor_list(user_id)
        return {"ok": True}

    async def get_beats(self, sid: str, user_id: int, monitor_id: Any = None, period: Any = None, *_: Any) -> Ack:
        if period is None:
            raise ApiError("Invalid period.")
        try:
            key, hours = int(monitor_id), float(period)
        except (TypeError, ValueError):
            return {"ok": True, "data": []}
        return {"ok": True, "data": self.runner.beats_since(key, hours)}

    async def pause(self, sid: str, user_id: int, monitor_id: Any = None, *_: Any) -> Ack:
        mon = self._owned(user_id, monitor_id)
        async with self.lock:
            self.store.set_active(mon["id"], False)
        self.runner.stop(mon["id"])
        await self.send_monitor_list(user_id)
        return {"ok": True, "msg": "Paused Successfully."}

    async def resume(self, sid: str, user_id: int, monitor_id: Any = None, *_: Any) -> Ack:
        mon = self._owned(user_id, monitor_id)
        async with self.lock:
            self.store.set_active(mon["id"], True)
        self.runner.start(mon["id"])
        await self.send_monitor_list(user_id)
        return {"ok": True, "msg": "Resumed Successfully."}

    async def clear_heartbeats(self, sid: str, user_id: int, monitor_id: Any = None, *_: Any) -> Ack:
        mon = self._owned(user_id, monitor_id)
        self.runner.beats.pop(mon["id"], None)
        await self.sio.emit("heartbeatList", (mon["id"], [], True), to=str(user_id))
        return {"ok": True}

    async def get_tags(self, sid: str, user_id: int, *_: Any) -> Ack:
        return {"ok": True, "tags": []}

