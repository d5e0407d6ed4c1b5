"""A fact base for config files read whole and reduced to the few values a detector needs."""

from __future__ import annotations

from typing import Any

from pyinfra.api import FactBase


class FileSummary(FactBase[dict[str, Any] | None]):
    """Subclasses set `summarize` (text -> dict); the fact is None when the file does not exist."""

    summarize: Any = None

    def command(self, path: str) -> str:
        return f"test -f {path} && cat {path} || echo __absent__"

    def process(self, output: list[str]) -> dict[str, Any] | None:
        if output == ["__absent__"]:
            return None
        return type(self).summarize("\n".join(output))
