"""Someone on the LAN who tries, over and over, to become the owner of a new n8n and Uptime Kuma at their
published ports (what anyone can do while a new instance waits for its first visitor), and the way tests make such
new instances: the services' containers and data volumes removed."""

from __future__ import annotations

import secrets
import threading
from types import TracebackType

import requests

from devcluster.local.cluster import Cluster

STORAGE = "hydra-storage"


def forget_owners(cluster: Cluster) -> None:
    """Remove n8n's and Uptime Kuma's containers and data volumes on the storage host (each removal checked): the
    next deploy starts them new, without an owner."""
    project = cluster.ssh(STORAGE, "docker inspect -f '{{index .Config.Labels \"com.docker.compose.project\"}}' "
                                   "$(docker ps -aq --filter label=com.docker.compose.service=n8n)").stdout.split()
    assert len(set(project)) == 1, project
    of = f"--filter label=com.docker.compose.project={project[0]}"
    ps = f"docker ps -aq {of} --filter label=com.docker.compose.service=$s"
    volumes = f"docker volume ls -q {of} --filter label=com.docker.compose.volume=$s-data"
    left = cluster.ssh(STORAGE, f"set -e; for s in n8n uptime-kuma; do docker rm -f $({ps}) >/dev/null; "
                                f"docker volume rm $({volumes}) >/dev/null; "
                                f"echo $s $({ps} | wc -l) $({volumes} | wc -l); done").stdout.splitlines()
    assert left == ["n8n 0 0", "uptime-kuma 0 0"], left


class Claimer:
    """Used as a context manager: claims from another thread while the body (a deploy) runs."""

    def __init__(self, address: str) -> None:
        self.address, self.attempts, self.claimed = address, 0, []
        self.stop = threading.Event()
        self.password = secrets.token_urlsafe(12) + "A1"
        self.thread = threading.Thread(target=self.run, daemon=True)

    def __enter__(self) -> Claimer:
        self.thread.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop.set()
        self.thread.join(timeout=30)

    def run(self) -> None:
        from uptime_kuma_api import UptimeKumaApi

        while not self.stop.is_set():
            self.attempts += 1
            try:
                reply = requests.post(f"http://{self.address}:5678/rest/owner/setup", timeout=5, json={
                    "email": "mallory@lan.invalid", "password": self.password, "firstName": "M", "lastName": "L"})
                if reply.ok:
                    self.claimed.append("n8n")
            except requests.RequestException:
                pass
            try:
                api = UptimeKumaApi(f"http://{self.address}:3001", timeout=5)
                try:
                    if api.need_setup():
                        api.setup("mallory", self.password)
                        self.claimed.append("uptime-kuma")
                finally:
                    api.disconnect()
            except Exception:  # refused, not serving yet, or the socket dropped: try again
                pass
            self.stop.wait(0.05)  # the attacker's pace, not a wait for a condition
