"""Docker engine, locally built images and one compose project: `up -d` only when something changed, services
restarted only when a file they mount changed, and waited for until they answer."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from io import StringIO

from pyinfra import host
from pyinfra.api import operation
from pyinfra.api.operation import OperationMeta
from pyinfra.operations import apt, files, server, systemd
from pyinfra.operations.util import any_changed

from facts.docker import ComposeContainers, DockerImages
from hydra_ops.render import render
from hydra_ops.validation import Settings


def engine(gap: str, cfg: Settings) -> None:
    """Debian's docker.io and compose, the daemon running and enabled."""
    apt.packages(name=f"{gap}: docker engine and compose ({', '.join(cfg.docker_packages)})",
                 packages=list(cfg.docker_packages), update=True, cache_time=3600)
    systemd.service(name=f"{gap}: docker.service running and enabled", service="docker.service", running=True,
                    enabled=True)


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


def built_images(gap: str, cfg: Settings) -> list[OperationMeta]:
    """Render each stack_builds Dockerfile under <stack_dir>/build/ and build it when it changed or is missing."""
    present = host.get_fact(DockerImages)  # one listing for every image below (custom facts are not cached)
    for base in cfg.stack_base_images:
        if base["tag"] not in present:
            imported_image(name=f"{gap}: base image {base['tag']}", tag=base["tag"], url=base["url"],
                           sha256=base["sha256"])
    built = []
    for tag, spec in cfg.stack_builds.items():
        ctx = f"{cfg.stack_dir}/build/{re.sub(r'[^A-Za-z0-9._-]', '_', tag)}"
        files.directory(name=f"{gap}: build context for {tag}", path=ctx, mode="755")
        dockerfile = files.put(name=f"{gap}: Dockerfile for {tag}", dest=f"{ctx}/Dockerfile", mode="644",
                               src=StringIO(render(f"images/{spec['template']}", **spec["vars"])))
        built.append(server.shell(
            name=f"{gap}: build image {tag}", _if=lambda d=dockerfile, t=tag: d.did_change() or t not in present,
            commands=[f"docker build --quiet --network host -t {shlex.quote(tag)} {shlex.quote(ctx)}"]))
    return built


def compose(cfg: Settings, *args: str) -> str:
    """A compose command line run in the project directory."""
    words = [*cfg.compose_command, "--project-name", cfg.compose_project, *args]
    return f"cd {shlex.quote(cfg.stack_dir)} && " + " ".join(shlex.quote(w) for w in words)


def converge(gap: str, cfg: Settings, compose_file: OperationMeta, images: list[OperationMeta],
             mounts: Mapping[str, list[OperationMeta]], ready: Mapping[str, str], timeout: int = 300) -> None:
    """`up -d` when the compose file or an image changed or a service is not running; restart a service whose
    mounted files changed; then wait (bounded) for each service's readiness command."""
    running = host.get_fact(ComposeContainers, project=cfg.compose_project)
    down = sorted(s for s in cfg.stack_services if running.get(s, {}).get("state") != "running")
    up = server.shell(name=f"{gap}: compose up -d ({', '.join(down) or 'changed definitions'})",
                      _if=lambda: bool(down) or any_changed(compose_file, *images)(),
                      commands=[compose(cfg, "up", "-d", "--remove-orphans")])
    restarted = []
    for service, ops in mounts.items():
        if service in cfg.stack_services and ops:
            restarted.append(server.shell(name=f"{gap}: restart {service} for its changed files",
                                          _if=any_changed(*ops), commands=[compose(cfg, "restart", service)]))
    for service, check in ready.items():
        if service in cfg.stack_services:
            server.shell(name=f"{gap}: wait for {service} to answer", _if=any_changed(up, *restarted),
                         commands=[f"timeout {int(timeout)} sh -c {shlex.quote(f'until {check}; do sleep 0.5; done')}"
                                   f" || {{ echo '{service} did not answer' >&2; "
                                   f"{compose(cfg, 'logs', '--tail', '30', service)} >&2; exit 1; }}"])
