"""`hydra secrets ...`: the sops+age encrypted secrets (G3), registered on `hydra` by cli.py."""

from __future__ import annotations

import os
import subprocess
import sys

import click

from hydra_ops.cli_common import cluster_option, local_cluster


def _store(cluster_name: str | None):
    import runpy

    from hydra_ops.secrets import SecretStore
    from hydra_ops.targets import selected, site_dir

    if selected(cluster_name) == "local":
        return local_cluster().secrets
    return SecretStore.from_data(runpy.run_path(str(site_dir() / "group_data" / "all.py")))


def _secret_names() -> list[str]:
    import runpy

    from hydra_ops.services.secrets.options import SecretsOptions
    from hydra_ops.targets import site_dir

    return SecretsOptions.model_validate(runpy.run_path(str(site_dir() / "group_data" / "all.py"))).secret_names


@click.group()
def secrets() -> None:
    """G3: the cluster's sops+age encrypted secrets (values are never printed)."""


@secrets.command("init")
@cluster_option
def secrets_init(cluster_name: str | None) -> None:
    """Create the age key (outside the repo), .sops.yaml and the encrypted file with every secret_names entry."""
    store = _store(cluster_name)
    added = store.init(_secret_names())
    click.echo(f"{store.file}: {'generated ' + ', '.join(added) if added else 'already complete'}")
    click.echo(f"age key: {store.key_file} (keep it out of git; back it up)")


@secrets.command("edit")
@cluster_option
def secrets_edit(cluster_name: str | None) -> None:
    """Open the decrypted file in $EDITOR through sops (re-encrypted on save)."""
    from hydra_ops.secrets import sops_binary

    store = _store(cluster_name)
    env = dict(os.environ, SOPS_AGE_KEY_FILE=str(store.key_file), SOPS_DISABLE_VERSION_CHECK="1")
    sys.exit(subprocess.call([sops_binary(), "--config", str(store.config), "edit", str(store.file)], env=env))


@secrets.command("rotate")
@cluster_option
@click.argument("names", nargs=-1, required=True)
def secrets_rotate(cluster_name: str | None, names: tuple[str, ...]) -> None:
    """Give NAMES new random values; the next deploy rolls them out wherever they are used."""
    _store(cluster_name).rotate(list(names))
    click.echo(f"rotated {', '.join(names)}; now deploy to roll them out")


@secrets.command("migrate")
@cluster_option
@click.option("--host", "host", default=None, metavar="HOST",
              help="Migrate the files HOST's secret_plaintext_sources lists, over ssh (instead of local FILES).")
@click.option("--replace", is_flag=True,
              help="With --host: when the store holds another value for a name, store the one in use on the host.")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False))
def secrets_migrate(cluster_name: str | None, host: str | None, replace: bool, files: tuple[str, ...]) -> None:
    """Move plaintext secrets out of YAML config FILES into the encrypted file; leave os.environ/NAME behind.

    With --host: the files on that host listed in its secret_plaintext_sources (YAML values become
    os.environ/NAME, .env lines a comment), after the store holds and reads back every value.
    """
    from pathlib import Path

    from hydra_ops.secrets_audit import migrate

    if bool(host) == bool(files):
        raise click.UsageError("give either FILES (local YAML files) or --host HOST, not both or neither")
    if host:
        _migrate_host(cluster_name, host, replace)
        return
    if replace:
        raise click.UsageError("--replace only applies with --host")
    moved = migrate([Path(f) for f in files], _store(cluster_name))
    for path, names in moved.items():
        click.echo(f"{path}: moved {', '.join(names)}")
    if not moved:
        click.echo("no plaintext secrets found")


def _migrate_host(cluster_name: str | None, host: str, replace: bool) -> None:
    """`migrate --host`: hydra_ops.secrets_remote, its outcome as names and files (never values)."""
    from hydra_ops.secrets import SecretsError
    from hydra_ops.secrets_remote import migrate_host, remote
    from hydra_ops.services.secrets.options import is_dotenv
    from hydra_ops.validation import ValidationError

    try:
        target = remote(host, cluster_name)
        if not target.sources:
            click.echo(f"{host}: secret_plaintext_sources is empty; nothing to migrate")
            return
        done = migrate_host(target.host, target.sources, target.transport, target.store, replace)
    except (SecretsError, ValidationError, FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    for path, names in done.migrated.items():
        click.echo(f"{host}:{path}: already migrated: {', '.join(names)}")
    if done.noop:
        click.echo(f"{host}: nothing to do: every listed key is already a reference and {target.store.file} "
                   "holds each secret")
        return
    for path, names in done.moved.items():
        how = "lines commented out" if is_dotenv(path) else "now os.environ/NAME"
        click.echo(f"{host}:{path}: moved {', '.join(names)} ({how})")
    store = target.store.file
    if done.added:
        click.echo(f"{store}: added {', '.join(done.added)}")
    if done.kept:
        click.echo(f"{store}: already held {', '.join(done.kept)}")
    if done.replaced:
        click.echo(f"{store}: replaced {', '.join(done.replaced)} with the value in use on {host}; the next deploy "
                   "rolls it out everywhere it is used")
    click.echo(f"{store} is now the only copy of these values (verified; no plaintext backup is kept): keep it "
               "(commit it for the real cluster), then deploy")


def _recipient_change(cluster_name: str | None, pubkey: str, add: bool) -> None:
    from hydra_ops.secrets import SecretsError

    store = _store(cluster_name)
    try:
        changed = store.add_recipient(pubkey) if add else store.remove_recipient(pubkey)
        count = len(store.recipients())
    except SecretsError as exc:
        raise click.ClickException(str(exc)) from None
    key = pubkey.strip()  # checked to be an age public key by now
    if not changed:
        click.echo(f"{store.file}: {key} {'already is' if add else 'is not'} a recipient")
    elif add:
        click.echo(f"{store.file}: re-encrypted for {key} ({count} recipients); commit .sops.yaml and the file")
    else:
        click.echo(f"{store.file}: {key} removed, data key replaced ({count} recipients). Its holder knew the "
                   "values: `hydra secrets rotate NAME...`, deploy, then commit")


@secrets.command("add-recipient")
@cluster_option
@click.argument("age_pubkey")
def secrets_add_recipient(cluster_name: str | None, age_pubkey: str) -> None:
    """Let another operator's age public key (age1...) open the secrets: .sops.yaml + `sops updatekeys`."""
    _recipient_change(cluster_name, age_pubkey, add=True)


@secrets.command("remove-recipient")
@cluster_option
@click.argument("age_pubkey")
def secrets_remove_recipient(cluster_name: str | None, age_pubkey: str) -> None:
    """Stop an age public key from opening the secrets (updatekeys, then a new data key with `sops rotate`)."""
    _recipient_change(cluster_name, age_pubkey, add=False)


@secrets.command("check")
@cluster_option
@click.option("--no-decrypt", is_flag=True, help="Only check that secrets files are encrypted (no key needed).")
def secrets_check(cluster_name: str | None, no_decrypt: bool) -> None:
    """Fail if a tracked file holds a decrypted secret value or a secrets file is not encrypted (pre-commit, CI)."""
    from hydra_ops.secrets_audit import check
    from hydra_ops.targets import site_dir

    problems = check(site_dir(), None if no_decrypt else _store(cluster_name))
    for p in problems:
        click.echo(f"{p.path}: {p.what}", err=True)
    click.echo(f"{len(problems)} problem(s)")
    sys.exit(1 if problems else 0)
