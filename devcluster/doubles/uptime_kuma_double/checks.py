"""One check of one monitor against its own target: HTTP(S)/keyword via aiohttp, TCP port via a connect.

Each check is bounded by a timeout and reads at most BODY_LIMIT bytes of a response. The messages follow what the
real server (Node.js, axios, tcp-ping) reports, e.g. "200 - OK", "Request failed with status code 503",
"connect ECONNREFUSED 127.0.0.1:9", so a dashboard or a test reads the same text from either server.
"""

from __future__ import annotations

import asyncio
import errno
import re
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import aiohttp

UP, DOWN, PENDING = 1, 0, 2
BODY_LIMIT = 1 << 20


@dataclass
class Result:
    """What one check found: status UP/DOWN/PENDING, the message and the round trip in ms (None if none)."""

    status: int
    msg: str
    ping: int | None = None


class CheckError(Exception):
    """The target answered wrong or not at all; str() is the message the heartbeat carries."""


def status_accepted(code: int, accepted: Any) -> bool:
    """Whether code matches one of the accepted_statuscodes entries ("200-299" ranges or single codes)."""
    for entry in accepted or ["200-299"]:
        text = str(entry)
        if "-" in text:
            low, _, high = text.partition("-")
            if low.isdigit() and high.isdigit() and int(low) <= code <= int(high):
                return True
        elif text.isdigit() and int(text) == code:
            return True
    return False


def _errno_name(exc: OSError) -> str:
    return errno.errorcode.get(exc.errno or 0, "ECONNREFUSED")


def _connect_error(exc: BaseException, host: str, port: int) -> str:
    """Node's wording for a failed connect: "connect ECONNREFUSED host:port", "getaddrinfo ENOTFOUND host"."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and cause.errno in (-2, -3, -5, -8):  # getaddrinfo failures
            return f"getaddrinfo ENOTFOUND {host}"
        if isinstance(cause, OSError) and cause.errno:
            return f"connect {_errno_name(cause)} {host}:{port}"
        cause = getattr(cause, "os_error", None) or cause.__cause__
    return f"connect ECONNREFUSED {host}:{port}"


def _snippet(text: str) -> str:
    text = re.sub(r"<[^>]*>?|[\n\r]|\s+", " ", text)
    return text[:47] + "..." if len(text) > 50 else text


async def check_http(mon: dict[str, Any], timeout: float) -> Result:
    """GET (or mon["method"]) mon["url"]; UP when the status is accepted (and, for keyword, the keyword matches)."""
    url = str(mon.get("url") or "")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CheckError(f"Invalid URL: {url}")
    host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    headers = {"User-Agent": "Uptime-Kuma/1.23.16", "Accept": "*/*"}
    auth = None
    if mon.get("basic_auth_user"):
        auth = aiohttp.BasicAuth(str(mon["basic_auth_user"]), str(mon.get("basic_auth_pass") or ""))
    redirects = int(mon.get("maxredirects") or 0)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    started = time.monotonic()
    try:
        async with aiohttp.ClientSession(timeout=client_timeout, trust_env=False) as session, session.request(
                str(mon.get("method") or "GET").upper(), url, headers=headers, auth=auth,
                allow_redirects=redirects > 0, max_redirects=max(redirects, 1),
                ssl=not mon.get("ignoreTls")) as resp:
            body = await resp.content.read(BODY_LIMIT) if mon.get("type") == "keyword" else b""
            code = resp.status
    except TimeoutError as exc:
        raise CheckError(f"timeout of {int(timeout * 1000)}ms exceeded") from exc
    except aiohttp.TooManyRedirects as exc:
        raise CheckError("Maximum number of redirects exceeded") from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise CheckError(_connect_error(exc, host, port)) from exc
    ping = round((time.monotonic() - started) * 1000)
    if not status_accepted(code, mon.get("accepted_statuscodes")):
        raise CheckError(f"Request failed with status code {code}")
    try:
        reason = HTTPStatus(code).phrase
    except ValueError:
        reason = ""
    msg = f"{code} - {reason}"
    if mon.get("type") == "keyword":
        text = body.decode("utf-8", "replace")
        found = str(mon.get("keyword") or "") in text
        if found != bool(mon.get("invertKeyword")):
            return Result(UP, msg + (", keyword is found" if found else ", keyword not found"), ping)
        where = "present" if found else "not"
        raise CheckError(f"{msg}, but keyword is {where} in [{_snippet(text)}]")
    return Result(UP, msg, ping)


async def check_port(mon: dict[str, Any], timeout: float) -> Result:
    """TCP connect to mon["hostname"]:mon["port"]; UP with the connect time as ping."""
    host, port = str(mon.get("hostname") or ""), mon.get("port")
    if not host or not isinstance(port, int) or not 0 < port < 65536:
        raise CheckError(f"Invalid hostname or port: {host}:{port}")
    started = time.monotonic()
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except TimeoutError as exc:
        raise CheckError(f"connect ETIMEDOUT {host}:{port}") from exc
    except OSError as exc:
        raise CheckError(_connect_error(exc, host, port)) from exc
    ping = round((time.monotonic() - started) * 1000)
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), 1)
    except (TimeoutError, OSError):
        pass
    return Result(UP, "", ping)


async def run_check(mon: dict[str, Any], timeout: float) -> Result:
    """One check by type; a type the double does not probe stays PENDING, as the real one does for unknown types."""
    kind = mon.get("type")
    if kind in ("http", "keyword"):
        return await check_http(mon, timeout)
    if kind == "port":
        return await check_port(mon, timeout)
    return Result(PENDING, f"Unknown Monitor Type ({kind}): not probed by the Uptime Kuma double")
