"""G3 on a live host, read-only: every secret file the host should have exists, 0600, with its owner, and no file
listed in secret_plaintext_sources still holds a plaintext value (read over SFTP: the content never reaches
pyinfra's output). The repository side is `hydra secrets check`."""

from __future__ import annotations

from pyinfra.api import Host
from pyinfra.facts.files import File

from hydra_ops.detectors import CLOSED, OPEN, UNKNOWN, Finding
from hydra_ops.services.secrets.options import options
from hydra_ops.validation import ValidationError


def detect(host: Host) -> Finding:
    """Open, closed or unknown (group data that does not validate), with the evidence for it."""
    try:
        o = options(host.data.dict(), host.name)
    except ValidationError as exc:
        return Finding(UNKNOWN, [str(exc)])
    evidence, closed = plaintext(host, o.secret_plaintext_sources)
    if not o.secret_files:
        return Finding(CLOSED if closed else OPEN, [*evidence, "no secret files configured for this host"])
    for item in o.secret_files:
        stat = host.get_fact(File, path=f"{o.secret_dir}/{item.secret}")
        ok = bool(stat) and stat.get("mode") == 600 and stat.get("user") == item.owner
        closed &= ok
        evidence.append(f"{item.secret}: " + (f"{stat.get('mode')} {stat.get('user')}" if stat else "absent"))
    return Finding(CLOSED if closed else OPEN, evidence)


def plaintext(host: Host, sources: dict[str, dict[str, str]]) -> tuple[list[str], bool]:
    """Evidence per listed file (key names only), and whether none still holds a plaintext value."""
    from hydra_ops.remote import Unreadable, read_file
    from hydra_ops.secrets_audit import scan
    from hydra_ops.services.secrets.options import is_dotenv

    evidence, clean = [], True
    for path, keys in sources.items():
        try:
            content = read_file(host, path)
        except Unreadable:
            evidence.append(f"{path}: unreadable")
            clean = False
            continue
        if content is None:
            evidence.append(f"{path}: absent")
            continue
        found = scan(content.decode(errors="replace"), keys, is_dotenv(path))
        clean &= not found.values and not found.problems
        evidence.append(f"{path}: " + (f"plaintext at {', '.join(sorted(found.values))}" if found.values
                                       else "; ".join(found.problems) or "references only"))
    return evidence, clean
