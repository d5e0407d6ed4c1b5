"""Files a deploy replaces under a directory it adopts, each old version kept first under
<root>/.hydra-ops-backups/<UTC timestamp of this run>/ (0700), so an operator can always see or restore it."""

from __future__ import annotations

import hashlib
import shlex
import time
from io import StringIO
from posixpath import dirname

from pyinfra import host
from pyinfra.api.operation import OperationMeta
from pyinfra.facts.files import Sha1File
from pyinfra.operations import files, server

BACKUP_DIR = ".hydra-ops-backups"
#: one timestamp per deploy run: every file replaced by the run lands in the same directory
STAMP = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def put(name: str, root: str, rel: str, text: str, mode: str) -> OperationMeta:
    """files.put of root/rel; when that replaces a file with other content, copy the old one aside first."""
    dest = f"{root}/{rel}"
    current = host.get_fact(Sha1File, path=dest)
    if current and current != hashlib.sha1(text.encode()).hexdigest():
        q = shlex.quote
        keep, backup = f"{root}/{BACKUP_DIR}", f"{root}/{BACKUP_DIR}/{STAMP}/{rel}"
        server.shell(name=f"{name}: keep the replaced file in {BACKUP_DIR}/{STAMP}",
                     commands=[f"install -d -m 700 {q(keep)} && mkdir -p {q(dirname(backup))} && "
                               f"cp -p {q(dest)} {q(backup)}"])
    return files.put(name=name, dest=dest, src=StringIO(text), mode=mode)


def put_back(root: str) -> str:
    """Shell that copies every file this run kept aside under root back in place, setting $restored to their
    number (0 when this run replaced none) and $dirs to the top-level directories they were in."""
    kept = shlex.quote(f"{root}/{BACKUP_DIR}/{STAMP}")
    return (f"restored=0; dirs=''; if [ -d {kept} ]; then restored=$(cd {kept} && find . -type f | wc -l); "
            f"dirs=$(cd {kept} && find . -mindepth 2 -type f | cut -d/ -f2 | sort -u); "
            f"(cd {kept} && find . -type f -exec cp -p --parents {{}} {shlex.quote(root)}/ \\;); fi")
