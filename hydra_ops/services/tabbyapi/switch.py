"""`hydra tabby promote|rollback` (G10): seed 002's V3 migration and rollback, made safe and repeatable.

The choice is recorded in group data (tabby_serving), so a later plain deploy keeps it; the switch itself is the
normal idempotent ai deploy, which backs up the outgoing config first. Promote refuses an unhealthy canary.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import requests

from hydra_ops.runner import run_deploy
from hydra_ops.secrets import SecretStore
from hydra_ops.services.tabbyapi.options import options
from hydra_ops.targets import Target
from hydra_ops.validation import ValidationError

MARK = "# set by hydra tabby"


class TabbyError(Exception):
    """A promote/rollback that was refused or did not verify; says what to look at."""


def record_serving(group_data_file: Path, role: str) -> None:
    """Set tabby_serving in a group data file (replacing an earlier line this command wrote)."""
    text = group_data_file.read_text() if group_data_file.exists() else ""
    text = re.sub(rf"^tabby_serving = .*{re.escape(MARK)}.*\n", "", text, flags=re.M)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    group_data_file.write_text(text + f'tabby_serving = "{role}"  {MARK} on {stamp}\n')


def _model_loaded(base: str, key: str) -> bool:
    try:
        return requests.get(f"{base}/v1/model", headers={"x-api-key": key}, timeout=30).status_code == 200
    except requests.RequestException:
        return False


def switch(role: str, inventory: Path, group_data_file: Path, ai_hosts: list[Target],
           log: Callable[[str], object] = print) -> None:
    """Make `role` ("canary" or "stable") the install on tabby_port on every ai host, then verify it."""
    ports = {}
    for target in ai_hosts:
        try:
            o = options(target.data, target.name)
        except ValidationError as exc:
            raise TabbyError(str(exc)) from None
        if not o.tabby_canary.overrides():
            raise TabbyError(f"{target.name}: no canary configured (tabby_canary is empty)")
        ports[target.name] = o.tabby_port
        key = SecretStore.from_data(target.data).read()["tabby_api_key"]
        canary = f"http://{target.address}:{o.tabby_canary.port}"
        if role == "canary" and not _model_loaded(canary, key):
            raise TabbyError(f"{target.name}: the canary at {canary} is not serving a model; not promoting")
    previous = "stable" if role == "canary" else "canary"
    record_serving(group_data_file, role)
    log(f"tabby_serving = {role!r} recorded in {group_data_file}; deploying")
    result = run_deploy(inventory, "deploys/ai.py")
    if not result.ok:
        record_serving(group_data_file, previous)
        raise TabbyError(f"the deploy failed; tabby_serving set back to {previous!r}. pyinfra said:\n"
                         + result.stderr[-2000:])
    for target in ai_hosts:
        key = SecretStore.from_data(target.data).read()["tabby_api_key"]
        if not _model_loaded(f"http://{target.address}:{ports[target.name]}", key):
            raise TabbyError(f"{target.name}: :{ports[target.name]} serves no model after the switch")
    log(f"{role} now serves on :{ports[ai_hosts[0].name]} ({len(result.changed)} operations changed)")
