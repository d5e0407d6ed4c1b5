"""The compose project as it is on the host, read before any change: its compose file (fetched over SFTP, so
its content never passes through pyinfra's output, whatever the verbosity) parsed for adoption."""

from __future__ import annotations

from typing import Any

import yaml
from pyinfra import host

from hydra_ops.remote import Unreadable, read_file
from hydra_ops.services.stack.adopt import ComposeError, check


def existing_compose(path: str) -> dict[str, Any] | None:
    """The parsed compose file at path, None when there is none; ComposeError when it cannot be adopted."""
    try:
        content = read_file(host, path)
    except Unreadable as exc:
        raise ComposeError(str(exc)) from None
    if content is None:
        return None
    try:
        doc = yaml.safe_load(content.decode())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ComposeError(f"{path}: not valid YAML{where}; fix it by hand, nothing was changed") from None
    return check(doc, path) if doc is not None else None
