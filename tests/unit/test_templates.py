"""Templates render what G1/G2 promise, for N instances, and nothing is left undefined."""

from __future__ import annotations

import subprocess
from typing import Any

import jinja2
import pytest

from hydra_ops.facts.nginx import summarize
from hydra_ops.render import render
from hydra_ops.services import compute
from hydra_ops.services.lb.state import drain_files, fingerprint, server_line, site
from hydra_ops.services.ollama.options import Instance
from hydra_ops.services.ollama.state import env_file, unit_file


def lb_config(data: dict[str, Any]) -> str:
    c = compute(data)
    return site(c.lb, c.ollama.fronts, c.ollama.ollama_bind_address)

FOUR = [{"gpu": n, "port": 11434 + n} for n in range(4)]


def test_env_file_pins_one_gpu_and_shares_the_model_store(compute_data: dict[str, Any]) -> None:
    env = dict(line.split("=", 1) for line in env_file(compute(compute_data).ollama, Instance(gpu=1, port=11435))
               .splitlines() if "=" in line
               and not line.startswith("#"))
    assert env["CUDA_VISIBLE_DEVICES"] == "1" and env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    assert env["OLLAMA_HOST"] == "127.0.0.1:21435"  # loopback only: nginx serves :11435
    assert env["OLLAMA_MODELS"] == "/var/lib/ollama/models" and env["OLLAMA_NOPRUNE"] == "1"
    assert env["OLLAMA_FLASH_ATTENTION"] == "1" and env["OLLAMA_KEEP_ALIVE"] == "30m"
    assert env["OLLAMA_NUM_PARALLEL"] == "4"


def test_extra_env_is_rendered_sorted(compute_data: dict[str, Any]) -> None:
    o = compute({**compute_data, "ollama_extra_env": {"ZED": "1", "ALPHA": "2"}}).ollama
    text = env_file(o, Instance(gpu=0, port=11434))
    assert text.index("ALPHA=2") < text.index("ZED=1")


def test_unit_is_a_hardened_template(compute_data: dict[str, Any]) -> None:
    unit = unit_file(compute(compute_data).ollama)
    for line in ("EnvironmentFile=/etc/ollama/%i.env", "User=ollama", "Restart=always", "ProtectSystem=strict",
                 "NoNewPrivileges=yes", "DevicePolicy=closed", "DeviceAllow=char-nvidia-uvm rw",
                 "CapabilityBoundingSet=", "PrivateUsers=yes", "ReadWritePaths=/var/lib/ollama/models"):
        assert line in unit.splitlines(), line


def test_lb_has_every_instance_and_the_streaming_settings(compute_data: dict[str, Any]) -> None:
    text = lb_config({**compute_data, "ollama_instances": FOUR})
    summary = summarize(text)
    assert summary["listen"] == [11400, 11434, 11435, 11436, 11437]  # the LB, then each instance's public port
    assert summary["upstreams"]["ollama_backend"] == {
        "method": "least_conn", "servers": [f"127.0.0.1:{21434 + n}" for n in range(4)]}  # loopback-only instances
    # port 11435's own instance first, the others only as backups (while it is drained or failed)
    assert summary["upstreams"]["ollama_11435"]["servers"] == [f"127.0.0.1:{p}" for p in (21435, 21434, 21436, 21437)]
    front = text.split("upstream ollama_11435 {", 1)[1].split("}", 1)[0]
    assert "server 127.0.0.1:21434 backup;" in front and "21435 max_fails=2 fail_timeout=10s;" in front
    for directive in ("proxy_buffering off;", 'proxy_set_header Connection "";', "proxy_http_version 1.1;",
                      "proxy_read_timeout 600s;", "keepalive 32;", "proxy_set_header Host 127.0.0.1;",
                      "proxy_next_upstream error timeout http_502 http_503 non_idempotent;",
                      "max_fails=2 fail_timeout=10s;", "zone ollama_backend 64k;"):
        assert directive in text, directive


def test_round_robin_writes_no_method_line(compute_data: dict[str, Any]) -> None:
    text = lb_config({**compute_data, "lb_method": "round_robin"})
    assert "least_conn;" not in text and summarize(text)["upstreams"]["ollama_backend"]["method"] == "round_robin"


def test_missing_variable_is_an_error() -> None:
    with pytest.raises(jinja2.UndefinedError):
        render("ollama-instance.env.j2", gpu=0)


def test_lb_fingerprint_changes_with_content_only(compute_data: dict[str, Any]) -> None:
    base = lb_config(compute_data)
    assert fingerprint(base) == fingerprint(lb_config(compute_data))
    other = lb_config({**compute_data, "lb_keepalive": 8})
    assert len(fingerprint(base)) == 16 and fingerprint(base) != fingerprint(other)


def test_lb_passes_gixy_and_refuses_model_management(compute_data: dict[str, Any], tmp_path: Any) -> None:
    """gixy (nginx security analyser) finds nothing; only listed inference/read paths are proxied."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    text = lb_config(compute_data)
    assert "server_tokens off;" in text and "X-Hydra-Upstream" not in text  # internal addresses only if asked
    allowed = re.search(r'location ~ "\^\((.*)\)\$"', text).group(1).split("|")  # type: ignore[union-attr]
    for path in ("/api/pull", "/api/push", "/api/delete", "/api/create", "/api/copy", "/api/blobs"):
        assert not any(re.fullmatch(p, path) for p in allowed), path
    assert any(re.fullmatch(p, "/api/generate") for p in allowed)
    assert "return 403" in text.split('location / {', 1)[1].split("}", 1)[0]
    site = tmp_path / "lb.conf"
    site.write_text(text)
    (tmp_path / "nginx.conf").write_text(f"user www-data;\nevents {{}}\nhttp {{\n    include {site};\n}}\n")
    gixy = Path(sys.executable).with_name("gixy")
    out = subprocess.run([str(gixy), str(tmp_path / "nginx.conf")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "No issues found." in out.stdout, out.stdout + out.stderr
    assert "X-Hydra-Upstream" in lb_config({**compute_data, "lb_debug_headers": True})


def test_debian_lb_includes_each_instance_line_so_it_can_be_drained(compute_data: dict[str, Any]) -> None:
    c = compute(compute_data)
    text = site(c.lb, c.ollama.fronts, c.ollama.ollama_bind_address, "/etc/nginx/hydra-ollama")
    backend = text.split("upstream ollama_backend {", 1)[1].split("}", 1)[0]
    assert "include /etc/nginx/hydra-ollama/11434.conf;" in backend
    assert "include /etc/nginx/hydra-ollama/11435.conf;" in backend
    assert not [line for line in backend.splitlines() if line.strip().startswith("server ")]
    files = drain_files(c.lb, c.ollama.fronts, "/etc/nginx/hydra-ollama")
    assert files["/etc/nginx/hydra-ollama/11434.conf"] == "server 127.0.0.1:21434 max_fails=2 fail_timeout=10s;\n"
    assert server_line(c.lb, 21434, down=True).endswith(" down;\n")
    other = compute({**compute_data, "lb_max_fails": 5})
    changed = site(other.lb, other.ollama.fronts, other.ollama.ollama_bind_address, "/etc/nginx/hydra-ollama")
    assert fingerprint(changed) != fingerprint(text)  # a change in the included lines alone changes the stamp


def test_rolling_restart_script_is_valid_shell(tmp_path: Any) -> None:
    script = render("rolling-restart.sh.j2", unit="'ollama@11434.service'",
                    include="'/etc/nginx/hydra-ollama/11434.conf'", port=21434, drain_timeout=300, ready_timeout=120, ready_url="http://127.0.0.1:21434/api/version")
    path = tmp_path / "r.sh"
    path.write_text(script)
    assert subprocess.run(["sh", "-n", str(path)], capture_output=True).returncode == 0
    assert "-ge 1500 ]" in script and "( dport = :21434 )" in script
