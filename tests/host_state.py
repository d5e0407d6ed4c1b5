"""What a deploy could change on a host, read over SSH, to show that a read-only tool (`hydra audit`) changed none
of it: accounts, every service unit's state and main process, every container and when it started, and every
file (kind, size, mode, mtime) under the trees deploys write. A container's writable bind mounts hold its data,
which changes on its own (Redis' AOF, Postgres), and are left out; so are logs, caches and runtime directories."""

from __future__ import annotations

import difflib

from devcluster.local.cluster import Cluster

#: the trees hydra-ops' deploys write to, on Debian, NixOS-shaped and Unraid-shaped hosts
TREES = "/etc /opt /usr/local /srv /boot/config /mnt/user/appdata /var/lib/hydra-ops /var/backups /nix/var/nix/profiles"
SNAPSHOT = r"""
echo '## accounts'; getent passwd; getent group
echo '## units'
systemctl show '*.service' '*.socket' '*.timer' '*.mount' -p Id -p ActiveState -p SubState -p MainPID \
  -p ExecMainStartTimestampMonotonic | paste -sd' ' | sed 's/ Id=/\nId=/g' | sort
data=''
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  echo '## containers'
  docker ps -aq | xargs -r docker inspect -f '{{.Name}} {{.Id}} {{.State.Status}} {{.State.StartedAt}}' | sort
  data=$(docker ps -q | xargs -r docker inspect \
    -f '{{range .Mounts}}{{if and (eq .Type "bind") .RW}}{{.Source}}{{"\n"}}{{end}}{{end}}' | sort -u)
fi
echo '## files'
prune=''
for d in $data; do prune="$prune -path $d -prune -o"; done
find TREES -xdev $prune -printf '%p %y %s %m %T@ %l\n' 2>/dev/null | sort
""".replace("TREES", TREES)


def snapshot(cluster: Cluster) -> dict[str, str]:
    """Every host's state, as text (compare two with differences())."""
    return {h.name: cluster.ssh(h.name, SNAPSHOT, timeout=300).stdout for h in cluster.spec.hosts}


def differences(before: dict[str, str], after: dict[str, str], limit: int = 40) -> list[str]:
    """The lines that differ, per host ('host: -old' / 'host: +new'), at most `limit`."""
    out = []
    for host in sorted(set(before) | set(after)):
        for line in difflib.unified_diff(before.get(host, "").splitlines(), after.get(host, "").splitlines(),
                                         lineterm="", n=0):
            if line.startswith(("-", "+")) and not line.startswith(("---", "+++")):
                out.append(f"{host}: {line}")
    return out[:limit]
