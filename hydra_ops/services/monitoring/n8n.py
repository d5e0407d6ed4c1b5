"""n8n's REST API as its owner (G6): set the owner account up on a new instance (as n8n's first-run page does),
log in, change the password after a rotation, and read a workflow's last run. The session cookie is sent only to
the address it came from; no password appears in an error."""

from __future__ import annotations

import json
import re
from typing import Any

import requests

from hydra_ops.validation import ValidationError

COOKIE = "n8n-auth"
#: n8n's own rule for account passwords (8-64 characters, a digit and an upper-case letter)
PASSWORD = re.compile(r"(?=.*[0-9])(?=.*[A-Z]).{8,64}", re.S)


class NotRunning(Exception):
    """Nothing answers at n8n's address (yet), or it is still starting (its REST API not served yet)."""


class N8nError(Exception):
    """n8n answered with an error (a refused login among them)."""


class NoOwner(N8nError):
    """n8n runs but nobody has set up its owner account yet."""


class N8n:
    """A logged-in owner session (see connect)."""

    def __init__(self, url: str, timeout: float = 15) -> None:
        self.url, self.timeout, self.cookie = url.rstrip("/"), timeout, ""

    def call(self, method: str, path: str, body: dict[str, Any] | None = None, **params: str) -> Any:
        """One REST call with the session cookie; the answer's `data`."""
        headers = {"Cookie": f"{COOKIE}={self.cookie}"} if self.cookie else {}
        try:
            reply = requests.request(method, self.url + path, json=body, params=params or None, headers=headers,
                                     timeout=self.timeout)
        except requests.ConnectionError:
            raise NotRunning(self.url) from None
        if reply.status_code in (404, 502, 503) and path == "/rest/settings":  # up, REST routes not yet
            raise NotRunning(self.url)
        if reply.status_code >= 400:
            raise N8nError(f"{method} {self.url}{path}: HTTP {reply.status_code}: {_message(reply)}")
        if COOKIE in reply.cookies:  # login and setup hand out the session (marked Secure: kept by hand on http)
            self.cookie = reply.cookies[COOKIE]
        return reply.json().get("data")

    def needs_setup(self) -> bool:
        """Whether nobody has set up the owner account yet (n8n's public settings say so; no login needed)."""
        return bool(self.call("GET", "/rest/settings")["userManagement"]["showSetupOnFirstLoad"])

    def executions(self, workflow_id: str, limit: int = 20) -> list[dict[str, Any]]:
        """The workflow's newest runs, newest first (id, mode, status, startedAt, stoppedAt)."""
        found = self.call("GET", "/rest/executions", filter=json.dumps({"workflowId": workflow_id}),
                          limit=str(limit))
        return list(found.get("results") or [])

    def last_execution(self, workflow_id: str) -> dict[str, Any] | None:
        """The workflow's newest run, or None if it never ran."""
        return next(iter(self.executions(workflow_id, 1)), None)

    def change_password(self, current: str, new: str) -> None:
        """The logged-in owner's password, from current to new."""
        self.call("PATCH", "/rest/me/password", {"currentPassword": current, "newPassword": new})


def check_password(password: str, host: str) -> None:
    """Refuse a value n8n would refuse, before any change (the secret's value is never shown)."""
    if not PASSWORD.fullmatch(password):
        raise ValidationError(host, ["n8n_owner_password: n8n needs 8-64 characters with a digit and an upper-case "
                                     "letter; give it a new value with 'hydra secrets rotate n8n_owner_password' "
                                     "or 'hydra secrets edit'"])


def connect(url: str, email: str, password: str, setup: bool = False) -> N8n:
    """An owner session. A new instance (no owner yet) is set up with these credentials only when setup is set,
    as n8n's first-run page does; otherwise it is an N8nError ("no owner yet"), so planning and audits change
    nothing. NotRunning when nothing answers; a refused login is an N8nError."""
    api = N8n(url)
    if api.needs_setup():
        if not setup:
            raise NoOwner(f"{url}: n8n has no owner account yet")
        api.call("POST", "/rest/owner/setup", {"email": email, "firstName": "hydra-ops", "lastName": "owner",
                                               "password": password})
        return api
    try:
        api.call("POST", "/rest/login", {"email": email, "password": password})
    except N8nError as exc:
        raise N8nError(f"{url}: login as {email} refused ({str(exc).rsplit(': ', 1)[-1]})") from None
    return api


def wait_until_serving(url: str, timeout: float = 120) -> None:
    """Poll (bounded) until n8n serves its REST API: its readiness check passes before the routes exist."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            N8n(url).needs_setup()
            return
        except NotRunning:
            if time.monotonic() > deadline:
                raise N8nError(f"{url}: n8n did not serve its REST API within {timeout:.0f}s") from None
            time.sleep(0.5)


def _message(reply: requests.Response) -> str:
    try:
        return str(reply.json().get("message", ""))[:200]
    except ValueError:
        return reply.text[:200]
