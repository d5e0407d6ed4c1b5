"""On-disk state of the Uptime Kuma double: the admin user, the monitors and their last beats, as JSON files.

The real server keeps both in SQLite (kuma.db); the double keeps `users.json` (salted scrypt hash, never the
password) and `monitors.json` (each monitor as the client sent it, plus the server-owned fields), both written
atomically with mode 0600 so a restart finds exactly what the last acknowledged call stored. The last beats go to
`heartbeats.json` on a clean shutdown (SIGTERM/SIGINT), so heartbeatList after a restart still shows them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

# Fields of a monitor that the server owns or derives; a client never sets them through add/editMonitor.
DERIVED = ("id", "tags", "pathName", "childrenIDs", "maintenance", "forceInactive", "includeSensitiveData",
           "screenshot", "user_id")

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    """A salted scrypt hash, `scrypt$N$r$p$salt$hash` (base64); the real server uses bcrypt, same purpose."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of password against a hash_password() string; False for anything malformed."""
    try:
        _, n, r, p, salt, digest = stored.split("$")
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), dklen=32, n=int(n), r=int(r), p=int(p))
        return hmac.compare_digest(got, base64.b64decode(digest))
    except (ValueError, TypeError):
        return False


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def sign_token(username: str, secret: str) -> str:
    """An HS256 JWT `{"username", "iat"}`, the shape the real server hands out from `login`."""
    head = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64url(json.dumps({"username": username, "iat": int(time.time())}, separators=(",", ":")).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64url(sig)}"


def verify_token(token: Any, secret: str) -> str | None:
    """The username inside a token signed with secret, or None if it is not one."""
    try:
        head, body, sig = str(token).split(".")
        want = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(_b64url(want), sig):
            return None
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        return str(payload["username"])
    except (ValueError, KeyError, TypeError):
        return None


def _write_json(path: Path, data: Any) -> None:
    """Write data to path atomically (temp file + rename), readable by the owner only."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _read_json(path: Path, default: Any) -> Any:
    return json.loads(path.read_text()) if path.exists() else default


class Store:
    """users.json + monitors.json under data_dir; every mutating method persists before it returns."""

    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        users = _read_json(self.dir / "users.json", {})
        self.users: list[dict[str, Any]] = users.get("users", [])
        self.jwt_secret: str = users.get("jwtSecret") or secrets.token_hex(32)
        mons = _read_json(self.dir / "monitors.json", {})
        self.monitors: dict[int, dict[str, Any]] = {int(k): v for k, v in mons.get("monitors", {}).items()}
        # Like SQLite AUTOINCREMENT: an id is never handed out twice, even after a delete and a restart.
        self.next_id: int = max([mons.get("nextId", 1), *(i + 1 for i in self.monitors)])

    # -- users -------------------------------------------------------------------------------------------------
    def _save_users(self) -> None:
        _write_json(self.dir / "users.json", {"users": self.users, "jwtSecret": self.jwt_secret})

    def add_user(self, username: str, password: str) -> dict[str, Any]:
        user = {"id": len(self.users) + 1, "username": username, "password": hash_password(password), "active": True}
        self.users.append(user)
        self._save_users()
        return user

    def set_password(self, user_id: int, password: str) -> None:
        """Replace a user's password (hashed, persisted before returning)."""
        user = self.user_by_id(user_id)
        if user is not None:
            user["password"] = hash_password(password)
            self._save_users()

    def check_login(self, username: Any, password: Any) -> dict[str, Any] | None:
        """The active user with this name and password, else None (the hash is computed either way)."""
        user = self.find_user(username)
        stored = user["password"] if user else hash_password(secrets.token_hex(8))
        ok = verify_password(str(password), stored) if isinstance(password, str) else False
        return user if ok and user else None

    def find_user(self, username: Any) -> dict[str, Any] | None:
        return next((u for u in self.users if u["username"] == username and u.get("active", True)), None)

    def user_by_id(self, user_id: int) -> dict[str, Any] | None:
        return next((u for u in self.users if u["id"] == user_id), None)

    # -- monitors ----------------------------------------------------------------------------------------------
    def _save_monitors(self) -> None:
        data = {"nextId": self.next_id, "monitors": {str(k): v for k, v in self.monitors.items()}}
        _write_json(self.dir / "monitors.json", data)

    def add_monitor(self, fields: dict[str, Any], user_id: int) -> dict[str, Any]:
        mon = {k: v for k, v in fields.items() if k not in DERIVED}
        mon.update(id=self.next_id, user_id=user_id, active=True)
        self.monitors[self.next_id] = mon
        self.next_id += 1
        self._save_monitors()
        return mon

    def replace_monitor(self, monitor_id: int, fields: dict[str, Any]) -> dict[str, Any]:
        """editMonitor: the new fields replace the old ones; id, owner and active/paused stay."""
        old = self.monitors[monitor_id]
        mon = {k: v for k, v in fields.items() if k not in DERIVED}
        mon.update(id=monitor_id, user_id=old["user_id"], active=old.get("active", True))
        self.monitors[monitor_id] = mon
        self._save_monitors()
        return mon

    def set_active(self, monitor_id: int, active: bool) -> None:
        self.monitors[monitor_id]["active"] = active
        self._save_monitors()

    # -- heartbeats (kept across a clean restart, like the real heartbeat table) -------------------------------
    def load_beats(self) -> dict[int, list[dict[str, Any]]]:
        beats = _read_json(self.dir / "heartbeats.json", {})
        return {int(k): v for k, v in beats.items() if int(k) in self.monitors}

    def save_beats(self, beats: dict[int, list[dict[str, Any]]]) -> None:
        _write_json(self.dir / "heartbeats.json", {str(k): v for k, v in beats.items() if k in self.monitors})

    def delete_monitor(self, monitor_id: int) -> None:
        if self.monitors.pop(monitor_id, None) is not None:
            self._save_monitors()
