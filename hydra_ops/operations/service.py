"""Shapes every service bundle shares: a dedicated GPU-capable system user, and a unit that runs, is restarted
only when one of its parts changed, and is waited for until it answers (or put back on its previous files)."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from pyinfra import host
from pyinfra.api.operation import OperationMeta
from pyinfra.operations import server, systemd
from pyinfra.operations.util import any_changed

from hydra_ops.facts.accounts import Account, login_account
from hydra_ops.facts.systemd_units import SystemdUnitState
from hydra_ops.operations import transaction
from hydra_ops.operations.transaction import Transaction
from hydra_ops.validation import ValidationError

GPU_GROUPS = ("video", "render")  # the units' SupplementaryGroups; minimal hosts may lack them


def refuse_login_account(setting: str, user: str) -> None:
    """Stop before any change when `user` is root or a login account on this host: making it a service user would
    set its shell to nologin (the operator could no longer log in as it) and give the service its files."""
    account = host.get_fact(Account, user=user)
    if login_account(account):
        raise ValidationError(host.name, [f"{setting}: {user!r} is a login account here (uid {account['uid']}, "
                                          f"shell {account['shell']}); a service runs as a user of its own"])


def gpu_service_user(gap: str, user: str, setting: str) -> None:
    """A nologin system user and group for a service, plus the GPU device groups its unit joins (`setting` names
    the option the user comes from, for the refusal of a login account)."""
    refuse_login_account(setting, user)
    for gpu_group in GPU_GROUPS:
        server.group(name=f"{gap}: GPU device group {gpu_group}", group=gpu_group, system=True)
    server.group(name=f"{gap}: group {user}", group=user, system=True)
    server.user(name=f"{gap}: service user {user}", user=user, group=user, system=True, shell="/usr/sbin/nologin",
                create_home=False)


def run_and_restart_on_change(gap: str, unit: str, changed: list[OperationMeta], ready_url: str,
                              timeout: int, manage_enable: bool = True, restart: str | None = None,
                              restore: Transaction | None = None) -> None:
    """unit running and enabled; restarted only when an op in `changed` changed something; after a (re)start,
    wait (bounded) until ready_url answers, printing the unit's last journal lines if it never does.
    manage_enable=False leaves enablement alone (NixOS: the module's wantedBy decides, not `systemctl enable`).
    restart: a script that restarts the unit its own way (e.g. drained out of a load balancer first).
    restore: the files kept before this run replaced them (transaction.keep; by default the transaction opened
    for this unit on this host, if any): when the wait fails they are put back, the unit restarted on them and
    waited for again, and the deploy still fails, naming the check.

    StartLimitBurst is there to stop crash loops; it must not refuse a (re)start the deploy decided on, nor keep
    a unit that gave up earlier from being started again by the next deploy, so the counter is cleared first.
    """
    gave_up = host.get_fact(SystemdUnitState, unit=unit).get("ActiveState") == "failed"
    server.shell(name=f"{gap}: {unit}: clear the crash-loop counter before a deliberate (re)start",
                 # a unit systemd has not loaded (stopped and collected) has no counter to clear
                 commands=[f"systemctl reset-failed {unit} 2>/dev/null || ! systemctl is-failed --quiet {unit}"],
                 _if=lambda: gave_up or any_changed(*changed)())
    started = systemd.service(name=f"{gap}: {unit} running" + (" and enabled" if manage_enable else ""),
                              service=unit, running=True, enabled=True if manage_enable else None)
    restore = restore or transaction.take(unit)
    if restore is not None:  # a restart that fails (e.g. its prestart refuses) must still reach the restore below
        command = restart or f"systemctl restart {shlex.quote(unit)}"
        note = shlex.quote(f"{unit} did not (re)start on its new files; its health check decides")
        restarted = server.shell(name=f"{gap}: restart {unit} for its new settings"
                                 + (" (drained out of the LB first)" if restart else ""),
                                 commands=[f"{{ {command}\n}} || echo {note} >&2"], _if=any_changed(*changed))
    elif restart is None:
        restarted = systemd.service(name=f"{gap}: restart {unit} for its new settings", service=unit,
                                    restarted=True, _if=any_changed(*changed))
    else:
        restarted = server.shell(name=f"{gap}: restart {unit} for its new settings (drained out of the LB first)",
                                 commands=[restart], _if=any_changed(*changed))
    # systemd returns once the process runs; wait until it answers so nothing downstream meets a closed port.
    server.shell(name=f"{gap}: wait for {unit} to answer", _if=any_changed(started, restarted),
                 commands=[health_wait(unit, ready_url, timeout, restore, restart, transaction.pending(unit))])


def health_wait(unit: str, ready_url: str, timeout: int, restore: Transaction | None = None,
                restart: str | None = None, pending: Sequence[Transaction] = (), check: str | None = None,
                logs: str | None = None) -> str:
    """Shell: wait (bounded) until ready_url answers; if it never does, print the journal and, with `restore`,
    put the kept files back, restart the unit on them (`restart` or systemctl), wait again and exit 1 saying
    whether the previous version answers. A new version that answers drops the kept copies (old secrets).
    pending: other units' transactions whose files this run already wrote but whose restart comes later; the
    deploy stops here, so their files go back too (they keep running on them).
    check/logs: a shell test other than `curl ready_url` (ready_url then only names it) and the command printing
    why it failed (e.g. a compose service's health and logs)."""
    test = check or f"curl -gfs -o /dev/null {ready_url}"
    wait = f"timeout {int(timeout)} sh -c {shlex.quote(f'until {test}; do sleep 0.2; done')}"
    failed = (f"echo {shlex.quote(f'{unit} did not answer {ready_url}')} >&2; "
              f"{logs or f'journalctl -u {shlex.quote(unit)} -n 20 --no-pager'} >&2")
    if restore is None:
        return f"{wait} || {{ {failed}; exit 1; }}"
    q = shlex.quote
    again = restart or f"systemctl restart {q(unit)}"
    told = (f"{unit} failed its health check ({ready_url}): the previous files were restored "
            f"({len(restore.paths)}) and {unit} restarted on them")
    put_back = [f"bash {q(restore.restore_script)} && rm -rf {q(restore.directory)} || {{ echo "
                f"{q(f'restoring the previous files of {unit} failed; copies kept in {restore.directory}')} >&2; "
                "exit 1; }"]
    for tx in pending:
        note = f"the files {tx.unit} runs on were put back too (it was not restarted yet)"
        put_back.append(f"{{ bash {q(tx.restore_script)} && rm -rf {q(tx.directory)} && echo {q(note)} >&2 || "
                        f"echo {q(f'putting back the files of {tx.unit} failed; copies kept in {tx.directory}')} "
                        ">&2; }")
    return (f"if {wait}; then rm -rf {q(restore.directory)}; else {failed}; {'; '.join(put_back)}; "
            f"systemctl reset-failed {q(unit)} 2>/dev/null; {{ {again}\n}} >&2 || true; "
            f"if {wait}; then echo {q(told + '; the previous version answers again')} >&2; "
            f"else echo {q(told + '; it does not answer either')} >&2; fi; exit 1; fi")
