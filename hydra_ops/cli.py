"""`hydra`: bring up the local cluster, validate, deploy, audit, fix and verify gaps, print the runbook."""

from __future__ import annotations

import hydra_ops._gevent  # noqa: F401  (first: see the module)

# isort: split
import json
import os
import subprocess
import sys

import click

from hydra_ops import PROJECT_ROOT
from hydra_ops.reference import settings

cluster_option = click.option(
    "--cluster", "cluster_name", type=click.Choice(["local", "real"]), default=None,
    help="Target cluster: local (default, the nspawn hosts) or real (inventory.py). Env: HYDRA_CLUSTER.",
)


class _Main(click.Group):
    """Operator mistakes (an unknown cluster or gap, a local cluster that is not up) end in one line, exit 2."""

    def invoke(self, ctx: click.Context) -> object:
        from hydra_ops.registry import UnknownGap
        from hydra_ops.targets import UnknownCluster

        try:
            return super().invoke(ctx)
        except (UnknownCluster, UnknownGap, FileNotFoundError) as exc:
            raise click.UsageError(str(exc)) from None


@click.group(cls=_Main)
@click.version_option(package_name="hydra-ops", prog_name="hydra")
def main() -> None:
    """hydra-ops: close the Hydra audit's gaps with pyinfra and prove it with testinfra."""


main.add_command(settings)


# -- local cluster -----------------------------------------------------------------------------------------------
@main.group()
@click.option("--flavour", type=click.Choice(["default", "seeds"]), default=None,
              help="default: Debian hosts; seeds: NixOS-shaped hydra-ai/hydra-compute as the seeds describe them. "
                   "Env: HYDRA_CLUSTER_FLAVOUR (other hydra commands and the tests read it too).")
def cluster(flavour: str | None) -> None:
    """The local three-host cluster (systemd-nspawn in network namespaces)."""
    if flavour:
        os.environ["HYDRA_CLUSTER_FLAVOUR"] = flavour


@cluster.command()
def up() -> None:
    """Boot hydra-ai, hydra-compute and hydra-storage (idempotent) and write .cluster/inventory.py."""
    c = _local()
    c.up(log=click.echo)
    click.echo(f"inventory: {c.inventory}\nssh config: {c.ssh_config}")


@cluster.command()
def down() -> None:
    """Stop every local host and remove everything `up` made."""
    left = _local().down(log=click.echo)
    if left:
        click.echo("left behind: " + ", ".join(left), err=True)
        sys.exit(1)
    click.echo("local cluster removed")


@cluster.command()
def status() -> None:
    """Show each local host, its address, its nspawn process and systemd's state."""
    for row in _local().status():
        state = "running" if row["running"] else "stopped"
        click.echo(f"{row['host']:<15} {row['group']:<8} {row['address']:<13} {state:<8} {row['systemd']}")


# -- data, deploys, audit -----------------------------------------------------------------------------------------
def _inventory(cluster_name: str | None) -> str:
    from hydra_ops.targets import inventory_path

    return str(inventory_path(cluster_name))


@main.command()
@cluster_option
def validate(cluster_name: str | None) -> None:
    """Check every host's group data with the deploys' own validators, without connecting to any host."""
    from hydra_ops.services import ai, compute
    from hydra_ops.services.secrets.options import options as secrets
    from hydra_ops.services.storage import storage
    from hydra_ops.targets import load_inventory
    from hydra_ops.validation import ValidationError

    checks = {"compute": compute, "ai": ai, "storage": storage}
    inventory, _ = load_inventory(_inventory(cluster_name))
    failed = False
    for host in inventory:
        data = host.data.dict()
        try:
            secrets(data, host.name)
            for group, check in checks.items():
                if group in host.groups:
                    check(data, host.name)
            click.echo(f"{host.name}: ok")
        except ValidationError as exc:
            click.echo(str(exc), err=True)
            failed = True
    sys.exit(1 if failed else 0)


def _pyinfra(inventory: str, deploy: str, extra: list[str]) -> int:
    cmd = [sys.executable, "-m", "pyinfra", "-y", inventory, deploy, *extra]
    click.echo("$ " + " ".join(cmd[2:]), err=True)
    return subprocess.call(cmd, cwd=PROJECT_ROOT)


@main.command(context_settings={"ignore_unknown_options": True})
@cluster_option
@click.argument("target", type=click.Choice(sorted(p.stem for p in (PROJECT_ROOT / "deploys").glob("*.py")
                                                    if p.stem != "gap")))
@click.argument("pyinfra_args", nargs=-1, type=click.UNPROCESSED)
def deploy(cluster_name: str | None, target: str, pyinfra_args: tuple[str, ...]) -> None:
    """Run deploys/TARGET.py against the cluster (extra arguments go to pyinfra, e.g. --diff)."""
    sys.exit(_pyinfra(_inventory(cluster_name), f"deploys/{target}.py", list(pyinfra_args)))


@main.command()
@cluster_option
@click.argument("gap_id")
def fix(cluster_name: str | None, gap_id: str) -> None:
    """Run the bundle that closes GAP_ID (e.g. G1) on the hosts of its group."""
    from hydra_ops.registry import gap

    g = gap(gap_id)
    if not g.implemented:
        raise click.ClickException(f"{g.id} has no bundle yet ({g.tracked_in})")
    sys.exit(_pyinfra(_inventory(cluster_name), "deploys/gap.py", ["--data", f"hydra_gap={g.id}"]))


@main.command()
@cluster_option
@click.option("--gap", "only", multiple=True, help="Only these gaps (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of the table.")
def audit(cluster_name: str | None, only: tuple[str, ...], as_json: bool) -> None:
    """Detect which gaps are open on a live cluster (read-only). Exit 1 if any implemented gap is open."""
    from hydra_ops import audit as audit_mod

    rows = audit_mod.audit(_inventory(cluster_name), list(only) or None)
    click.echo(json.dumps(audit_mod.as_json(rows), indent=2) if as_json else audit_mod.as_table(rows))
    sys.exit(1 if any(r.status == "open" for r in rows) else 0)


@main.command(context_settings={"ignore_unknown_options": True})
@cluster_option
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
def verify(cluster_name: str | None, pytest_args: tuple[str, ...]) -> None:
    """Run the smoke suite (tests/smoke) against the cluster; extra arguments go to pytest."""
    from hydra_ops.targets import selected

    env = dict(os.environ, HYDRA_CLUSTER=selected(cluster_name))
    args = list(pytest_args)
    if not any(a.startswith("tests") for a in args):  # options alone still mean "the smoke suite"
        args.append("tests/smoke")
    sys.exit(subprocess.call([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                             cwd=PROJECT_ROOT, env=env))


# -- secrets ----------------------------------------------------------------------------------------------------
def _store(cluster_name: str | None):
    import runpy

    from hydra_ops.secrets import SecretStore
    from hydra_ops.targets import selected

    if selected(cluster_name) == "local":
        return _local().secrets
    return SecretStore.from_data(runpy.run_path(str(PROJECT_ROOT / "group_data" / "all.py")))


def _secret_names() -> list[str]:
    import runpy

    from hydra_ops.services.secrets.options import SecretsOptions

    return SecretsOptions.model_validate(runpy.run_path(str(PROJECT_ROOT / "group_data" / "all.py"))).secret_names


@main.group()
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
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def secrets_migrate(cluster_name: str | None, files: tuple[str, ...]) -> None:
    """Move plaintext secrets out of YAML config FILES into the encrypted file; leave os.environ/NAME behind."""
    from pathlib import Path

    from hydra_ops.secrets_audit import migrate

    moved = migrate([Path(f) for f in files], _store(cluster_name))
    for path, names in moved.items():
        click.echo(f"{path}: moved {', '.join(names)}")
    if not moved:
        click.echo("no plaintext secrets found")


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

    problems = check(PROJECT_ROOT, None if no_decrypt else _store(cluster_name))
    for p in problems:
        click.echo(f"{p.path}: {p.what}", err=True)
    click.echo(f"{len(problems)} problem(s)")
    sys.exit(1 if problems else 0)


# -- TabbyAPI canary ---------------------------------------------------------------------------------------------
@main.group()
def tabby() -> None:
    """G10: the TabbyAPI canary (e.g. ExLlamaV3 on :5001) and the switch of :5000 between it and V2."""


def _switch(cluster_name: str | None, role: str) -> None:
    from pathlib import Path

    from hydra_ops.services.tabbyapi.switch import TabbyError, switch
    from hydra_ops.targets import selected, targets

    name = selected(cluster_name)
    inventory = Path(_inventory(name))
    group_file = (inventory.parent if name == "local" else PROJECT_ROOT) / "group_data" / "ai.py"
    hosts = [t for t in targets(name) if "ai" in t.groups]
    try:
        switch(role, inventory, group_file, hosts, log=click.echo)
    except TabbyError as exc:
        raise click.ClickException(str(exc)) from None


@tabby.command()
@cluster_option
def promote(cluster_name: str | None) -> None:
    """Serve the canary on :5000 (after checking it serves a model; the V2 config is backed up first)."""
    _switch(cluster_name, "canary")


@tabby.command()
@cluster_option
def rollback(cluster_name: str | None) -> None:
    """Serve the stable (V2) install on :5000 again, with its config unchanged."""
    _switch(cluster_name, "stable")


@main.command()
def runbook() -> None:
    """Print the runbook (detect, fix, verify for each gap), generated from the registry."""
    from hydra_ops.registry import runbook as make

    click.echo(make())


def _local():
    """The local cluster of the selected flavour."""
    from devcluster.local.cluster import Cluster

    return Cluster()
