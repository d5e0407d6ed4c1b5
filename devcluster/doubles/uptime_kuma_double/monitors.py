"""The check loop of the Uptime Kuma double: one asyncio task per active monitor, beats kept in bounded deques.

Each beat follows the real server's rules (Uptime Kuma 1.23 Monitor.start): a failed check is PENDING while retries
are left (then retried after retryInterval), DOWN after; upsideDown flips UP/DOWN; a beat is "important" on the first
beat and on UP->DOWN, DOWN->UP and PENDING->DOWN. Every beat is pushed as a `heartbeat` event to the owner's room,
followed by `avgPing` and `uptime` (24 h and 720 h), like Monitor.sendStats.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from devcluster.doubles.uptime_kuma_double.checks import DOWN, PENDING, UP, CheckError, Result, run_check
from devcluster.doubles.uptime_kuma_double.store import Store

KEEP_BEATS = 100  # per monitor, like the 100 the real server sends in heartbeatList
MIN_PERIOD = 0.5  # seconds: the floor of any check period, whatever --interval-scale says
MAX_CONCURRENT_CHECKS = 32
TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"

log = logging.getLogger("uptime_kuma_double")
Emit = Callable[[str, Any, str], Awaitable[None]]


def now_text() -> str:
    """UTC now as the real server stores heartbeat times: "YYYY-MM-DD HH:MM:SS.mmm"."""
    return datetime.now(UTC).strftime(TIME_FORMAT)[:-3]


def is_important(first: bool, previous: int | None, current: int) -> bool:
    return first or (previous, current) in ((UP, DOWN), (DOWN, UP), (PENDING, DOWN))


class Runner:
    """Starts/stops monitor tasks and keeps their last KEEP_BEATS beats (and important beats) in memory."""

    def __init__(self, store: Store, emit: Emit, interval_scale: float = 1.0) -> None:
        self.store = store
        self.emit = emit
        self.scale = interval_scale
        self.beats: dict[int, deque[dict[str, Any]]] = {}
        self.important: dict[int, deque[dict[str, Any]]] = {}
        self.tasks: dict[int, asyncio.Task[None]] = {}
        for monitor_id, kept in store.load_beats().items():
            self.beats[monitor_id] = deque(kept, maxlen=KEEP_BEATS)
            self.important[monitor_id] = deque((b for b in reversed(kept) if b["important"]), maxlen=KEEP_BEATS)
        self._next_beat_id = 1 + max((b["id"] for kept in self.beats.values() for b in kept), default=0)
        self._checks = asyncio.Semaphore(MAX_CONCURRENT_CHECKS)

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def period(self, seconds: Any) -> float:
        """The real wait between checks for an interval in seconds: scaled for tests, never below MIN_PERIOD."""
        try:
            value = float(seconds)
        except (TypeError, ValueError):
            value = 60.0
        return max(MIN_PERIOD, value * self.scale)

    def start(self, monitor_id: int) -> None:
        """(Re)start the check loop of monitor_id; its first check runs at once, like the real server's."""
        self.stop(monitor_id)
        self.tasks[monitor_id] = asyncio.get_running_loop().create_task(self._loop(monitor_id))

    def stop(self, monitor_id: int) -> None:
        task = self.tasks.pop(monitor_id, None)
        if task is not None:
            task.cancel()

    def forget(self, monitor_id: int) -> None:
        """Stop monitor_id and drop its beats (deleteMonitor)."""
        self.stop(monitor_id)
        self.beats.pop(monitor_id, None)
        self.important.pop(monitor_id, None)

    def start_all(self) -> None:
        for monitor_id, mon in self.store.monitors.items():
            if mon.get("active", True):
                self.start(monitor_id)

    async def close(self) -> None:
        tasks = list(self.tasks.values())
        self.tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.store.save_beats({k: list(v) for k, v in self.beats.items()})

    # -- the loop ----------------------------------------------------------------------------------------------
    async def _loop(self, monitor_id: int) -> None:
        retries = 0
        while True:
            mon = self.store.monitors.get(monitor_id)
            if mon is None or not mon.get("active", True):
                return
            period = self.period(mon.get("interval"))
            timeout = max(MIN_PERIOD, min(self.period(mon.get("timeout") or 0.8 * float(mon.get("interval") or 60)),
                                          0.8 * period))
            async with self._checks:
                try:
                    result = await run_check(mon, timeout)
                except CheckError as exc:
                    result = Result(DOWN, str(exc))
                except Exception as exc:  # a bug in a check must not end the loop
                    log.exception("monitor %s: check failed", monitor_id)
                    result = Result(DOWN, f"check error: {type(exc).__name__}")
            if mon.get("upsideDown") and result.status in (UP, DOWN):
                flipped = DOWN if result.status == UP else UP
                result = Result(flipped, "Flip UP to DOWN" if flipped == DOWN else result.msg, result.ping)
            if result.status == UP:
                retries = 0
            elif result.status == DOWN and retries < int(mon.get("maxretries") or 0):
                retries += 1
                result.status = PENDING
            await self._record(mon, result)
            if result.status == PENDING and mon.get("retryInterval"):
                period = self.period(mon["retryInterval"])
            await asyncio.sleep(period)

    async def _record(self, mon: dict[str, Any], result: Result) -> None:
        monitor_id = mon["id"]
        beats = self.beats.setdefault(monitor_id, deque(maxlen=KEEP_BEATS))
        previous = beats[-1] if beats else None
        time_text = now_text()
        duration = 0
        if previous is not None:
            then = datetime.strptime(previous["time"], TIME_FORMAT).replace(tzinfo=UTC)
            duration = int((datetime.now(UTC) - then).total_seconds())
        important = is_important(previous is None, previous["status"] if previous else None, result.status)
        beat = {"id": self._next_beat_id, "monitor_id": monitor_id, "status": result.status, "msg": result.msg,
                "time": time_text, "ping": result.ping, "duration": duration, "down_count": 0,
                "important": int(important)}
        self._next_beat_id += 1
        beats.append(beat)
        if important:
            self.important.setdefault(monitor_id, deque(maxlen=KEEP_BEATS)).appendleft(beat)
            log.info("monitor %s '%s' is now %s: %s", monitor_id, mon.get("name"),
                     {UP: "UP", DOWN: "DOWN", PENDING: "PENDING"}[result.status], result.msg)
        room = str(mon["user_id"])
        await self.emit("heartbeat", heartbeat_event(beat), room)
        for event, args in self.stats(monitor_id, monitor_id):
            await self.emit(event, args, room)

    # -- views -------------------------------------------------------------------------------------------------
    def beats_since(self, monitor_id: int, hours: float) -> list[dict[str, Any]]:
        """The kept beats of monitor_id newer than `hours` ago, oldest first (getMonitorBeats)."""
        cutoff = (datetime.now(UTC) - timedelta(hours=hours)).strftime(TIME_FORMAT)[:-3]
        return [dict(b) for b in self.beats.get(monitor_id, ()) if b["time"] > cutoff]

    def stats(self, monitor_id: int, wire_id: int | str) -> list[tuple[str, tuple[Any, ...]]]:
        """avgPing and uptime events for monitor_id; wire_id is the id as the real server sends it there."""
        events: list[tuple[str, tuple[Any, ...]]] = []
        day = self.beats_since(monitor_id, 24)
        pings = [b["ping"] for b in day if b["ping"] is not None]
        events.append(("avgPing", (wire_id, int(sum(pings) / len(pings)) if pings else None)))
        for hours in (24, 720):
            window = day if hours == 24 else self.beats_since(monitor_id, hours)
            counted = [b for b in window if b["status"] in (UP, DOWN)]
            uptime = sum(b["status"] == UP for b in counted) / len(counted) if counted else 0
            events.append(("uptime", (wire_id, hours, uptime)))
        return events


def heartbeat_event(beat: dict[str, Any]) -> dict[str, Any]:
    """A stored beat in the shape of the `heartbeat` event (the real Heartbeat.toJSON)."""
    return {"monitorID": beat["monitor_id"], "status": beat["status"], "time": beat["time"], "msg": beat["msg"],
            "ping": beat["ping"], "important": bool(beat["important"]), "duration": beat["duration"]}
