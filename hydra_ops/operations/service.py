"""Shapes every service bundle shares: a dedicated GPU-capable system user, and a unit that runs, is restarted
only when one of its parts changed, and is waited for until it answers."""

from __future__ import annotations

from pyinfra import host
from pyinfra.api.operation import OperationMeta
from pyinfra.operations import server, systemd
from pyinfra.operations.util import any_changed

from hydra_ops.facts.accounts import Account, login_account
from hydra_ops.facts.systemd_units import SystemdUnitState
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
                              timeout: int, manage_enable: bool = True, restart: str | None = None) -> None:
    """unit running and enabled; restarted only when an op in `changed` changed something; after a (re)start,
    wait (bounded) until ready_url answers, printing the unit's last journal lines if it never does.
    manage_enable=False leaves enablement alone (NixOS: the module's wantedBy decides, not `systemctl enable`).
    restart: a script that restarts the unit its own way (e.g. drained out of a load balancer first).

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
    if restart is None:
        restarted = systemd.service(name=f"{gap}: restart {unit} for its new settings", service=unit,
                                    restarted=True, _if=any_changed(*changed))
    else:
        restarted = server.shell(name=f"{gap}: restart {unit} for its new settings (drained out of the LB first)",
                                 commands=[restart], _if=any_changed(*changed))
    # systemd returns once the process runs; wait until it answers so nothing downstream meets a closed port.
    server.shell(name=f"{gap}: wait for {unit} to answer", _if=any_changed(started, restarted), commands=[
        f"timeout {int(timeout)} sh -c 'until curl -fsS -o /dev/null {ready_url}; do sleep 0.2; done' "
        f"|| {{ echo '{unit} did not answer {ready_url}' >&2; journalctl -u {unit} -n 20 --no-pager >&2; exit 1; }}"])
