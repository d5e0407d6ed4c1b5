"""G3 secrets: values from the sops+age encrypted file reach hosts only as 0600 files, never in clear in git.

options.py declares the settings every host has, detect.py checks the files on a live host; the store itself
(sops, age, rotation) is hydra_ops/secrets.py.
"""

from __future__ import annotations

from collections.abc import Collection
from functools import cache

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.api.operation import OperationMeta
from pyinfra.operations import files

from hydra_ops import config
from hydra_ops.operations.secret import secret_file
from hydra_ops.secrets import SecretsError, SecretStore
from hydra_ops.validation import ValidationError

PLATFORMS = ("debian", "nixos", "unraid")


@cache
def _decrypted(store: SecretStore) -> dict[str, str]:
    """Decrypt once per deploy process, in memory."""
    return store.read()


def host_secrets(names: list[str]) -> dict[str, str]:
    """The named secrets for the current host; a clear error (names only) before any change if one is missing."""
    store = SecretStore.from_data(config.host_config().secrets.model_dump())
    try:
        values = _decrypted(store)
    except SecretsError as exc:
        raise ValidationError(host.name, [str(exc)]) from None
    missing = sorted(set(names) - set(values))
    if missing:
        raise ValidationError(host.name, [f"{store.file} lacks secrets the deploy needs: {', '.join(missing)}"])
    return {n: values[n] for n in names}


@deploy("G3 secrets")
def secret_files(skip: Collection[str] = (), only: Collection[str] | None = None) -> dict[str, OperationMeta | None]:
    """Push this host's secret files (<secret_dir>/<name>, 0600) from the encrypted store; return each file's
    operation (None when already right) so services that read one can restart when it changes. skip/only: a
    password a service keeps itself is written after the service took the new value (its copy is the value in
    use until then)."""
    o = config.host_config().secrets
    items = [i for i in o.secret_files if i.secret not in skip and (only is None or i.secret in only)]
    if not items:
        return {}
    values = host_secrets(o.needed)
    files.directory(name="G3: secret directory", path=o.secret_dir, user="root", group="root", mode="700")
    return {item.secret: secret_file(
        name=f"G3: secret file {item.secret} (0600 {item.owner})", content=values[item.secret],
        dest=f"{o.secret_dir}/{item.secret}", user=item.owner, group=item.group) for item in items}
