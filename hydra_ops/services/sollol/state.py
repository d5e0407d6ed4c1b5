"""The SOLLOL gateway's desired files: the launcher's JSON settings, SOLLOL's environment (the knobs it really
reads), the application's environment file (the seed's settings SOLLOL does not read) and the unit."""

from __future__ import annotations

import json

from hydra_ops.render import render
from hydra_ops.services.sollol.options import SollolOptions

#: where the launcher file goes under sollol_install_root
LAUNCHER = "sollol_gateway.py"
UNIT = "sollol-gateway.service"


def node_endpoints(o: SollolOptions, nodes: dict[str, tuple[str, int]]) -> dict[str, str]:
    """Inventory name -> 'address:port' of its Ollama, for every node in sollol_nodes (nodes: name -> (address,
    port) read from the inventory)."""
    return {name: f"{nodes[name][0]}:{nodes[name][1]}" for name in o.sollol_nodes}


def gateway_config(o: SollolOptions, nodes: dict[str, tuple[str, int]]) -> str:
    """The launcher's settings: explicit nodes, placement by node address, default mode, probe period."""
    where = node_endpoints(o, nodes)
    doc = {"port": o.sollol_port, "ray_workers": o.sollol_max_concurrent_requests,
           "default_mode": o.sollol_routing_mode, "health_interval": o.sollol_health_interval,
           "nodes": [{"name": name, "host": nodes[name][0], "port": nodes[name][1]} for name in o.sollol_nodes],
           "placement": {model: [where[n] for n in on] for model, on in o.placement().items()}}
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def _env_lines(env: dict[str, str]) -> str:
    return "".join(f"{k}={v}\n" for k, v in env.items())


def gateway_env(o: SollolOptions, state_dir: str) -> str:
    """SOLLOL's environment: only variables SOLLOL 0.9.66 (or Ray) reads, each with the setting it comes from."""
    env = {
        "SOLLOL_PORT": str(o.sollol_port),                            # sollol_port
        "SOLLOL_RAY_WORKERS": str(o.sollol_max_concurrent_requests),  # sollol_max_concurrent_requests
        "SOLLOL_MIN_VRAM_MB": str(o.sollol_min_vram_mb),              # sollol_min_vram_mb
        "SOLLOL_DASHBOARD_PORT": str(o.sollol_dashboard_port),        # sollol_dashboard_port
        "SOLLOL_BATCH_PROCESSING": "false",   # no Dask cluster: nothing in seed 003 batches
        "RAY_USAGE_STATS_ENABLED": "0",       # Ray never reports usage
        "HOME": state_dir, "TMPDIR": f"{state_dir}/tmp",  # Ray's session files stay in the state directory
    }
    return "# Managed by hydra-ops: what SOLLOL's gateway reads (sollol 0.9.66, gateway.py / intelligence.py).\n" + \
        _env_lines(env)


def app_env(o: SollolOptions) -> str:
    """The application's environment file: seed 003's settings that SOLLOL does not read, as the seed names them."""
    env = {"SOLLOL_DEFAULT_ROUTING_MODE": o.sollol_routing_mode, "SOLLOL_PARALLEL_REQUESTS": "true",
           "SOLLOL_MAX_CONCURRENT_REQUESTS": str(o.sollol_max_concurrent_requests),
           "SOLLOL_VRAM_MONITORING": "true", "SOLLOL_GATEWAY_PORT": str(o.sollol_port), **o.sollol_app_env}
    return ("# Managed by hydra-ops: the Hydra application's settings from seed 003. SOLLOL 0.9.66 reads none of\n"
            "# these; the gateway's own settings are in sollol.env. Source it from the application's service.\n"
            + _env_lines(env))


def unit_file(o: SollolOptions, python: str, state_dir: str) -> str:
    """The hardened unit: an unprivileged user, no capabilities, writes only to its state directory."""
    return render("sollol-gateway.service.j2", python=python, launcher=f"{o.sollol_install_root}/{LAUNCHER}",
                  config=f"{o.sollol_config_dir}/gateway.json", env_file=f"{o.sollol_config_dir}/sollol.env",
                  user=o.sollol_user, state_dir=state_dir)
