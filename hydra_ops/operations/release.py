"""Install a release tarball: download to a private temp dir, check its sha256, unpack, then move into place.

pyinfra's files.download checks the sum after moving the file into place, so a bad download would stay; here
nothing reaches the destination unless the checksum matched, and an existing destination is never touched.
"""

from __future__ import annotations

import shlex

from pyinfra import host
from pyinfra.api import operation
from pyinfra.facts.files import Directory


@operation()
def tarball(url: str, sha256: str, dest: str, timeout: int = 600, strip_components: int = 0):
    """Unpack the tarball at url (checked against sha256) into the directory dest, once.

    + url: http(s) URL of the tarball (gzip or zstd)
    + sha256: expected sha256 of the tarball
    + dest: directory the tarball's contents end up in; its existence means "installed"
    + timeout: seconds the download may take
    + strip_components: leading path parts to drop (1 for GitHub-style source archives with a top directory)
    """
    if host.get_fact(Directory, path=dest):
        host.noop(f"{dest} already installed")
        return
    q = shlex.quote
    yield (
        "set -eu; "
        f"tmp=$(mktemp -d {q(dest + '.tmp.XXXXXX')}); trap 'rm -rf \"$tmp\"' EXIT; "
        f"curl --fail --silent --show-error --location --max-time {int(timeout)} -o \"$tmp/release\" {q(url)}; "
        f"echo {q(sha256)}'  '\"$tmp/release\" | sha256sum --check --status "
        f"|| {{ echo {q('sha256 mismatch for ' + url)} >&2; exit 1; }}; "
        "mkdir \"$tmp/tree\"; "
        f"tar -C \"$tmp/tree\" --strip-components={int(strip_components)} -xf \"$tmp/release\"; "
        f"chmod 755 \"$tmp/tree\"; mv -T \"$tmp/tree\" {q(dest)}"
    )
