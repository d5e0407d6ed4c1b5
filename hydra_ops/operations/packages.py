"""Debian packages from the host's own apt sources, with the index refreshed at most hourly and the whole operation
retried: a mirror that drops a connection once should not fail a deploy halfway (apt retries single downloads only
when told to)."""

from __future__ import annotations

from typing import Any

from pyinfra.operations import apt

#: attempts after the first failed one, and the seconds between them
RETRIES, RETRY_DELAY = 2, 10


def debian_packages(name: str, packages: list[str], *, no_recommends: bool = False) -> Any:
    """apt.packages for `packages`, `apt-get update` first when the index is older than an hour."""
    return apt.packages(name=name, packages=packages, no_recommends=no_recommends, update=True, cache_time=3600,
                        _retries=RETRIES, _retry_delay=RETRY_DELAY)
