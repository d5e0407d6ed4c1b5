"""G3 on a live host, read-only: every secret file the host should have exists, 0600, with its owner, and no file
listed in secret_plaintext_sources still holds a plaintext value, nor does any copy of a replaced file kept under
<stack_dir>/.hydra-ops-backups (a compose file with credentials in a service's environment, a listed file's old
version). Files are read over SFTP: the content never reaches pyinfra's output. The repository side is
`hydra secrets check`."""

from __future__ import annotations

from pyinfra.api import Host
from pyinfra.facts.files import Directory, File, FindFiles

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
    kept, clean = backups(host, o.secret_plaintext_sources)
    evidence, closed = evidence + kept, closed and clean
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


def backups(host: Host, sources: dict[str, dict[str, str]]) -> tuple[list[str], bool]:
    """Evidence for the replaced files a deploy kept under <stack_dir>/.hydra-ops-backups (names only), and
    whether none holds a plaintext secret: a moved secret's old copy is still a leak until the backup goes."""
    import yaml

    from hydra_ops.operations.backup import BACKUP_DIR
    from hydra_ops.remote import Unreadable, read_file
    from hydra_ops.secrets_audit import scan
    from hydra_ops.services.secrets.options import is_dotenv
    from hydra_ops.services.stack.adopt import plaintext_credentials
    from hydra_ops.services.stack.options import StackOptions

    stack_dir = str(host.data.dict().get("stack_dir") or StackOptions.model_fields["stack_dir"].default).rstrip("/")
    root = f"{stack_dir}/{BACKUP_DIR}"
    if not host.get_fact(Directory, path=root):
        return [], True
    evidence, clean, read = [], True, 0
    for path in sorted(host.get_fact(FindFiles, path=root) or []):
        rel = path[len(root) + 1:].partition("/")[2]  # <stamp>/<path under stack_dir>
        keys, compose = sources.get(f"{stack_dir}/{rel}"), rel.rsplit("/", 1)[-1] in COMPOSE_NAMES
        if not (keys or compose):
            continue
        try:
            content = read_file(host, path)
        except Unreadable:
            evidence.append(f"{path}: unreadable")
            clean = False
            continue
        read += 1
        text = (content or b"").decode(errors="replace")
        found = sorted(scan(text, keys, is_dotenv(path)).values) if keys else []
        if compose:
            try:
                found += plaintext_credentials(yaml.safe_load(text) or {})
            except yaml.YAMLError:
                evidence.append(f"{path}: not valid YAML, check it by hand")
                clean = False
        if found:
            clean = False
            evidence.append(f"{path}: plaintext at {', '.join(found)} (a replaced file: delete it once the store "
                            "holds these values)")
    if clean:
        evidence.append(f"{root}: no plaintext secret in the {read} kept compose and listed files")
    return evidence, clean


#: the file names docker compose reads a project from
COMPOSE_NAMES = ("docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml")
