"""G6 on the storage host: n8n's owner account, and the resource-monitor workflow imported, active and exactly
as generated (workflow.py), through n8n's own CLI; read before any change, so a second run changes nothing."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

from hydra_ops.services.monitoring.stack import deployed_secret, monitored_hosts
from hydra_ops.services.monitoring.workflow import CONTAINER_DIR, WORKFLOW_FILE, workflow
from hydra_ops.services.monitoring.workflow import differences as workflow_differences

if TYPE_CHECKING:
    from hydra_ops.services.storage import Storage


def wanted_workflow(cfg: Storage) -> dict[str, Any]:
    """G6's workflow for this inventory: Prometheus as the stack reaches it, alerts to the Activity API."""
    o, prometheus = cfg.monitoring, cfg.stack.named("prometheus")
    return workflow(o, sorted(monitored_hosts()), f"http://{prometheus}:{o.prometheus_port}",
                    str(o.activity_api_url))


def n8n_url(cfg: Storage) -> str:
    """Where the operator's machine reaches n8n (its published port)."""
    return f"http://{cfg.publish_address}:{cfg.monitoring.n8n_port}"


def resource_monitor(cfg: Storage) -> None:
    """G6: n8n's owner account (set up with the password from the store, or changed after a rotation), then the
    workflow imported and active, exactly as generated, through n8n's own CLI (an import leaves a workflow
    inactive, and activation is read at start: the service restarts once), and run once."""
    from pyinfra import host
    from pyinfra.operations import python, server

    from hydra_ops.facts.n8n import N8nWorkflow
    from hydra_ops.services.monitoring import n8n
    from hydra_ops.services.secrets import host_secrets
    from hydra_ops.services.stack.state import compose

    s, o = cfg.stack, cfg.monitoring
    name = s.named("n8n")
    if not name:
        return
    password = host_secrets(["n8n_owner_password"])["n8n_owner_password"]
    n8n.check_password(password, host.name)
    # The owner first, right after the stack is up: until it exists anyone reaching n8n could claim the instance.
    # Planning logs in nowhere (n8n allows 5 logins a minute): the host's copy of the password tells a rotation.
    try:
        fresh = n8n.N8n(n8n_url(cfg)).needs_setup()
    except n8n.NotRunning:  # first deploy: set up once the stack is up
        fresh = True
    in_use = deployed_secret(f"{cfg.secret_dir}/n8n_owner_password")
    login = password if fresh or in_use is None else in_use
    if fresh or login != password:
        def owner() -> None:  # on the host's loopback: until it has its owner, n8n is published nowhere else
            from hydra_ops.tunnel import forwarded

            with forwarded(host, o.n8n_port) as local:
                n8n.wait_until_serving(local)
                session = n8n.connect(local, o.n8n_owner_email, login, setup=True)
                if login != password:
                    session.change_password(login, password)

        python.call(name="G6: n8n owner account" + (" (password rotated)" if login != password else ""),
                    function=owner)
    if o.activity_api_url and s.named("prometheus"):
        want = wanted_workflow(cfg)
        have = host.get_fact(N8nWorkflow, project=s.compose_project, service=name, workflow_id=want["id"])
        diff = workflow_differences(have, want)
        if diff:
            run, wid = compose(cfg, "exec", "-T", name, "n8n"), shlex.quote(want["id"])
            ready = f"curl -fsS -o /dev/null http://127.0.0.1:{o.n8n_port}/rest/settings"  # on the host
            server.shell(name=f"G6: import and activate the resource monitor ({'; '.join(diff)})", commands=[
                f"{run} import:workflow --input={CONTAINER_DIR}/{WORKFLOW_FILE}",
                f"{run} update:workflow --id={wid} --active=true",
                compose(cfg, "restart", name),
                f"timeout 120 sh -c {shlex.quote(f'until {ready}; do sleep 0.5; done')}",
                # one run now: the workflow is proven against Prometheus and the Activity API at once
                f"{run} execute --id={wid} --rawOutput > /dev/null"])
