"""`hydra`: bring up the local cluster, validate, deploy, audit, fix and verify gaps, print the runbook."""

from __future__ import annotations

import hydra_ops._gevent  # noqa: F401  (first: see the module)

# isort: split
import json
import os
import subprocess
import sys
from typing import Any

import click

from hydra_ops import DEPLOYS, PACKAGE
from hydra_ops.cli_apply import apply_options, preview_then_apply
from hydra_ops.cli_cluster import cluster
from hydra_ops.cli_common import cluster_option
from hydra_ops.cli_secrets import secrets
from hydra_ops.reference import settings


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
main.add_command(cluster)
main.add_command(secrets)


# -- data, deploys, audit -----------------------------------------------------------------------------------------
def _inventory(cluster_name: str | None) -> str:
    from hydra_ops.targets import inventory_path

    return str(inventory_path(cluster_name))


@main.command()
@cluster_option
def validate(cluster_name: str | None) -> None:
    """Check every host's group data with the deploys' own validators, without connecting to any host."""
    from hydra_ops.config import resolve
    from hydra_ops.targets import load_inventory
    from hydra_ops.validation import ValidationError

    inventory, _ = load_inventory(_inventory(cluster_name))
    failed = False
    for host in inventory:
        try:
            resolve(host)  # what every deploy checks first: all of the host's options, one error for all
            click.echo(f"{host.name}: ok")
        except ValidationError as exc:
            click.echo(str(exc), err=True)
            failed = True
    sys.exit(1 if failed else 0)


@main.command(context_settings={"ignore_unknown_options": True})
@cluster_option
@click.argument("target", type=click.Choice(sorted(p.stem for p in DEPLOYS.glob("*.py")
                                                    if p.stem != "gap")))
@apply_options
@click.argument("pyinfra_args", nargs=-1, type=click.UNPROCESSED)
def deploy(cluster_name: str | None, target: str, pyinfra_args: tuple[str, ...], **how: Any) -> None:
    """Run deploys/TARGET.py against the cluster: preview, ask, apply (extra arguments go to pyinfra)."""
    sys.exit(preview_then_apply(f"hydra deploy {target}", _inventory(cluster_name), f"deploys/{target}.py",
                                list(pyinfra_args), **how))


@main.command(context_settings={"ignore_unknown_options": True})
@cluster_option
@click.argument("gap_id")
@apply_options
@click.argument("pyinfra_args", nargs=-1, type=click.UNPROCESSED)
def fix(cluster_name: str | None, gap_id: str, pyinfra_args: tuple[str, ...], **how: Any) -> None:
    """Run the bundle that closes GAP_ID (e.g. G1) on the hosts of its group: preview, ask, apply (extra arguments
    go to pyinfra, e.g. --json for per-operation results)."""
    from hydra_ops.registry import gap

    g = gap(gap_id)
    if not g.implemented:
        raise click.ClickException(f"{g.id} has no bundle yet ({g.tracked_in})")
    sys.exit(preview_then_apply(f"hydra fix {g.id}", _inventory(cluster_name), "deploys/gap.py",
                                ["--data", f"hydra_gap={g.id}", *pyinfra_args], **how))


@main.command()
@cluster_option
@click.option("--gap", "only", multiple=True, help="Only these gaps (repeatable).")
@click.option("--implemented", is_flag=True, help="Only the gaps that have a bundle (registry status implemented).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of the table.")
def audit(cluster_name: str | None, only: tuple[str, ...], implemented: bool, as_json: bool) -> None:
    """Detect which gaps are open on a live cluster (read-only). Exit 1 unless every gap audited is closed: one
    that is open, or that cannot be decided (unknown, e.g. no detector yet or a host unreachable), is not."""
    from hydra_ops import audit as audit_mod
    from hydra_ops.registry import gaps

    wanted = list(only) or ([g.id for g in gaps() if g.implemented] if implemented else [])
    rows = audit_mod.audit(_inventory(cluster_name), wanted or None)
    click.echo(json.dumps(audit_mod.as_json(rows), indent=2) if as_json else audit_mod.as_table(rows))
    sys.exit(0 if all(r.status == "closed" for r in rows) else 1)


@main.command(context_settings={"ignore_unknown_options": True})
@cluster_option
@click.option("--act", is_flag=True, help="Also run the checks that act on the cluster (marked `acts`): "
              "TestResourceMonitor starts one run of n8n's resource-monitor workflow, which reads Prometheus and "
              "posts an alert to the operator's Activity API for every value over its threshold. Without it, "
              "every check only reads.")
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
def verify(cluster_name: str | None, act: bool, pytest_args: tuple[str, ...]) -> None:
    """Run the smoke suite (tests/smoke, shipped in the package) against the cluster; extra arguments go to pytest
    (tests/smoke/... and tests/smoke_systems/... name the packaged suite's files, as the runbook prints them).
    The checks only read unless --act is given."""
    from hydra_ops.targets import inventory_path, inventory_workdir, selected, targets

    env = dict(os.environ, HYDRA_CLUSTER=selected(cluster_name))
    args = list(pytest_args)
    if not any(a.startswith("tests") for a in args):  # options alone still mean "the smoke suite"
        args += smoke_paths({g for t in targets(cluster_name) for g in t.groups})
    args = [str(PACKAGE / a.removeprefix("tests/")) if a.startswith("tests/smoke") else a for a in args]
    args += [] if act else ["-m", "not acts"]
    sys.exit(subprocess.call([sys.executable, "-P", "-m", "pytest", "-c", str(PACKAGE / "smoke" / "smoke.ini"),
                              "--rootdir", str(PACKAGE.parent), *args],
                             cwd=inventory_workdir(inventory_path(cluster_name)), env=env))


def smoke_paths(groups: set[str]) -> list[str]:
    """The smoke files for the groups an inventory has: the Hydra suite, and each other system's own file."""
    paths = ["tests/smoke"] if groups & {"compute", "ai", "storage"} else []
    paths += [f"tests/smoke_systems/test_{g}.py" for g in ("sollol", "spark") if g in groups]
    return paths or ["tests/smoke"]


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
    group_file = inventory.parent / "group_data" / "ai.py"  # the real inventory's, or the lab's override
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
