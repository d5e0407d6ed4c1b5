"""Put an nginx config in place only if `nginx -t` accepts it; a rejected config never replaces a good one."""

from __future__ import annotations

import hashlib
import shlex
from io import StringIO

from pyinfra import host
from pyinfra.api import operation
from pyinfra.facts.files import Sha256File
from pyinfra.operations import files


@operation()
def checked_config(content: str, dest: str):
    """Install content at dest after `nginx -t` passes with it, then reload nginx; on failure restore the old file.

    + content: the full config text
    + dest: the live path nginx includes (e.g. /etc/nginx/conf.d/ollama-lb.conf)

    Changes are detected by hash, so an unchanged config does nothing; a config that failed its test stays
    "changed" and fails again on the next run instead of being reported as applied.
    """
    if host.get_fact(Sha256File, path=dest) == hashlib.sha256(content.encode()).hexdigest():
        host.noop(f"{dest} is up to date")
        return
    staged = f"{dest}.hydra-new"
    yield from files.put._inner(src=StringIO(content), dest=staged, mode="644")
    q = shlex.quote
    yield (
        "set -u; "
        f"live={q(dest)}; new={q(staged)}; backup=$(mktemp); had=0; "
        "if [ -e \"$live\" ]; then cp -p \"$live\" \"$backup\"; had=1; fi; "
        "mv -f \"$new\" \"$live\"; "
        "if ! out=$(nginx -t 2>&1); then "
        "  if [ $had = 1 ]; then cp -p \"$backup\" \"$live\"; else rm -f \"$live\"; fi; rm -f \"$backup\"; "
        "  echo \"nginx -t rejected the new config; the previous one is still in place and serving:\" >&2; "
        "  echo \"$out\" >&2; exit 1; "
        "fi; rm -f \"$backup\"; "
        "if systemctl is-active --quiet nginx; then systemctl reload nginx; else systemctl start nginx; fi"
    )
