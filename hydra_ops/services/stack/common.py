"""The stack on any platform once the engine is there: locally built images, the compose file merged into the
project on the host (backed up when replaced), `up -d` only when something changed, services restarted only
when a file they mount changed, and waited for until they answer."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Collection, Mapping
from io import StringIO
from typing import TYPE_CHECKING, Any

from pyinfra import host
from pyinfra.api import operation
from pyinfra.api.operation import OperationMeta
from pyinfra.operations import files, server
from pyinfra.operations.util import any_changed

from hydra_ops.facts.docker import ComposeContainers, DockerImages
from hydra_ops.operations import backup
from hydra_ops.render import render
from hydra_ops.services.stack.adopt import dropped
from hydra_ops.services.stack.options import ROLE_SECRETS, BaseImage, Build
from hydra_ops.services.stack.state import COMPOSE_FILE, QDRANT_ENV, compose, compose_yml, readiness

if TYPE_CHECKING:
    from hydra_ops.services.storage import Storage


@operation()
def imported_image(tag: str, url: str, sha256: str, timeout: int = 900):
    """A base image from a root filesystem tarball (`docker import`), checked against sha256; once per tag.

    + tag: repo:tag to create
    + url: http(s) URL of the tarball
    + sha256: its expected sha256
    """
    if tag in host.get_fact(DockerImages):
        host.noop(f"image {tag} present")
        return
    q = shlex.quote
    yield ("set -eu; tmp=$(mktemp -d); trap 'rm -rf \"$tmp\"' EXIT; "
           f"curl --fail --silent --show-error --max-time {int(timeout)} -o \"$tmp/rootfs.tar\" {q(url)}; "
           f"echo {q(sha256)}'  '\"$tmp/rootfs.tar\" | sha256sum --check --status "
           f"|| {{ echo 'sha256 mismatch for {url}' >&2; exit 1; }}; docker import \"$tmp/rootfs.tar\" {q(tag)}")


def built_images(gap: str, stack_dir: str, builds: Mapping[str, Build], bases: list[BaseImage]) -> list[OperationMeta]:
    """Render each build's Dockerfile under <stack_dir>/build/ and build it when it changed or is missing."""
    present = host.get_fact(DockerImages)  # one listing for every image below (custom facts are not cached)
    for base in bases:
        if base.tag not in present:
            imported_image(name=f"{gap}: base image {base.tag}", tag=base.tag, url=base.url, sha256=base.sha256)
    built = []
    for tag, spec in builds.items():
        ctx = f"{stack_dir}/build/{re.sub(r'[^A-Za-z0-9._-]', '_', tag)}"
        files.directory(name=f"{gap}: build context for {tag}", path=ctx, mode="755")
        dockerfile = files.put(name=f"{gap}: Dockerfile for {tag}", dest=f"{ctx}/Dockerfile", mode="644",
                               src=StringIO(render(f"images/{spec.template}", **spec.vars)))
        built.append(server.shell(
            name=f"{gap}: build image {tag}", _if=lambda d=dockerfile, t=tag: d.did_change() or t not in present,
            commands=[f"docker build --quiet --network host -t {shlex.quote(tag)} {shlex.quote(ctx)}"]))
    return built


def converge(gap: str, cfg: Storage, compose_file: OperationMeta, images: list[OperationMeta],
             mounts: Mapping[str, list[OperationMeta]], ready: Mapping[str, str], timeout: int = 300,
             unclaimed: Collection[str] = ()) -> None:
    """`up -d` when the compose file or an image changed or a service is not running; restart a service whose
    mounted files changed; then wait (bounded) for each service's readiness command (unclaimed: wait_or_put_back)."""
    services = cfg.stack.stack_services
    running = host.get_fact(ComposeContainers, project=cfg.stack.compose_project)
    down = sorted(s for s in services if running.get(s, {}).get("state") != "running")
    up = server.shell(name=f"{gap}: compose up -d ({', '.join(down) or 'changed definitions'})",
                      _if=lambda: bool(down) or any_changed(compose_file, *images)(),
                      commands=[compose(cfg, "up", "-d")])
    restarted = []
    for service, ops in mounts.items():
        if service in services and ops:
            restarted.append(server.shell(name=f"{gap}: restart {service} for its changed files",
                                          _if=any_changed(*ops), commands=[compose(cfg, "restart", service)]))
    for service, check in ready.items():
        if service in services:
            server.shell(name=f"{gap}: wait for {service} to answer", _if=any_changed(up, *restarted),
                         commands=[wait_or_put_back(cfg, service, check, timeout, unclaimed)])


def wait_or_put_back(cfg: Storage, service: str, check: str, timeout: int, unclaimed: Collection[str] = ()) -> str:
    """Shell: wait (bounded) until `check` passes; if it never does, print the service's logs, put back the files
    this run replaced in the project (backup.put kept them), bring the project up on them (restarting the services
    whose files came back), wait again and fail naming the check and whether the previous version answers.
    Secret files (secret_dir) are not kept by backup.put and stay as this run wrote them. The `unclaimed` services
    (no owner yet) are removed, not brought up: the previous file may publish them beyond loopback (exposure.py)."""
    q, names = shlex.quote, list(cfg.stack.stack_services)
    held = sorted(n for n in names if n in unclaimed)
    up = compose(cfg, "up", "-d")
    if held:  # removed by compose's labels: the previous file may not define them
        names = [n for n in names if n not in held]
        note = f"{', '.join(held)}: kept stopped (no owner yet; the previous file may publish them beyond loopback)"
        up = (f"{remove_containers(cfg.stack.compose_project, held)} && echo {q(note)} >&2 && "
              f"svcs=$({compose(cfg, 'config', '--services')} | grep -vxF {' '.join(f'-e {q(n)}' for n in held)} "
              f"|| true) && {{ [ -z \"$svcs\" ] || {{ {compose(cfg, 'up', '-d', '--no-deps')} $svcs; }}; }}")
    # a service whose mounted files came back runs on them only once restarted (its directory is named after it)
    again = (f"{up} >&2 && for d in $dirs; do case \" {' '.join(names)} \" in *\" $d \"*) "
             f"{compose(cfg, 'restart')} \"$d\" >&2;; esac; done")
    wait = f"timeout {int(timeout)} sh -c {q(f'until {check}; do sleep 0.5; done')}"
    told = f"{service} failed its health check ({check})"
    if service in held:  # stays stopped: waiting for it again could only time out
        after = f"{again}; echo {q(told + ': it has no owner yet and stays stopped; the previous files were restored')}"
    else:
        after = (f"{again}; if {wait}; then echo {q(told)}\": the previous \"$restored\" file(s) were restored and "
                 f"the project brought up on them; the previous version answers again\" >&2; "
                 f"else echo {q(told)}\": the previous files were restored; it does not answer either\" >&2; fi")
    return (f"if ! {wait}; then echo {q(f'{service} did not answer')} >&2; "
            f"{compose(cfg, 'logs', '--tail', '30', service)} >&2; {backup.put_back(cfg.stack.stack_dir)}; "
            f"if [ \"$restored\" -gt 0 ]; then {after} >&2; "
            f"else echo {q(told + ': no previous files to put back (this run replaced none)')} >&2; fi; exit 1; fi")


def remove_containers(project: str, services: Collection[str]) -> str:
    """Shell: remove the project's containers of these services (found by compose's labels, whatever the
    compose file on disk defines)."""
    return (f"rc=0; for s in {' '.join(shlex.quote(n) for n in services)}; do "
            f"ids=$(docker ps -aq --filter label=com.docker.compose.project={shlex.quote(project)} "
            "--filter label=com.docker.compose.service=$s) || rc=1; "
            "[ -z \"$ids\" ] || docker rm -f $ids >/dev/null || rc=1; done; [ \"$rc\" = 0 ]")


def role_files(cfg: Storage) -> dict[str, list[OperationMeta]]:
    """Files of the roles without a service package of their own: Qdrant's wrapper and the 0600 secret files
    Qdrant and n8n read (owned by the user each runs as); returns, per service, the ops that need a restart."""
    from hydra_ops.operations.secret import secret_file
    from hydra_ops.services.secrets import host_secrets

    s, out = cfg.stack, {}
    wanted = {name: ROLE_SECRETS[s.role_of(name)] for name in s.stack_services if s.role_of(name) in ROLE_SECRETS}
    values = host_secrets(sorted({secret for secret, _ in wanted.values()})) if wanted else {}
    for name, (secret, filename) in wanted.items():
        uid, _, gid = (s.stack_services[name].user or "0:0").partition(":")
        content = values[secret]
        if s.role_of(name) == "n8n":  # n8n's settings file, mounted over /home/node/.n8n/config (JSON, serialised)
            content = json.dumps({"encryptionKey": content}, indent="\t")
        op = secret_file(name=f"Stack: {name} reads {secret} (0600, uid {uid})", content=content,
                         dest=f"{cfg.secret_dir}/{filename}", user=uid, group=gid)
        out[name] = [op] if op is not None else []
        if s.role_of(name) == "qdrant":
            files.directory(name=f"Stack: {name} directory", path=f"{s.stack_dir}/{name}", mode="755")
            out[name].append(backup.put(f"Stack: {name} wrapper reading its API key from a 0600 file", s.stack_dir,
                                        f"{name}/secrets-env.sh", render("secrets-env.sh.j2", exports=QDRANT_ENV),
                                        "755"))
    return out


def apply(cfg: Storage, mounts: Mapping[str, list[OperationMeta]], existing: Mapping[str, Any] | None,
          doc: Mapping[str, Any], unclaimed: Collection[str] = ()) -> None:
    """Images, compose file (merged into existing, the project's parsed file or None), then converge: mounts maps
    a service to the ops whose change restarts it; unclaimed: services without their owner yet (claims.py)."""
    s = cfg.stack
    files.directory(name="Stack: project directory", path=s.stack_dir, mode="755")
    used = {svc.image for svc in s.stack_services.values()}  # a build no service runs is not built
    images = built_images("Stack", s.stack_dir, {t: b for t, b in s.stack_builds.items() if t in used},
                          s.stack_base_images)
    compose_file = backup.put("Stack: docker-compose.yml (cpuset + mem_limit per service)", s.stack_dir,
                              COMPOSE_FILE, compose_yml(cfg, doc=doc), "644")
    gone = dropped(existing, doc)
    if gone:
        server.shell(name=f"Stack: remove services group data dropped ({', '.join(gone)})",
                     commands=[remove_containers(s.compose_project, gone)])
    converge("Stack", cfg, compose_file, images, mounts, readiness(cfg), cfg.stack.stack_ready_timeout, unclaimed)
