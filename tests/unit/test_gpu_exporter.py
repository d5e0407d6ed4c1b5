"""The GPU exporter serves nvidia-smi's readings (from the local cluster's fake) to Prometheus, on loopback only."""

from __future__ import annotations

import json
import os
import re
import selectors
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from devcluster.local import fake_nvidia_smi
from hydra_ops import PROJECT_ROOT
from hydra_ops.render import render
from hydra_ops.stack_files import gpu_exporter
from hydra_ops.systemd_ini import parse

EXPORTER = PROJECT_ROOT / "hydra_ops" / "stack_files" / "gpu_exporter.py"
MIB = 1024 * 1024
GPUS = [{"index": 0, "uuid": "GPU-aaa", "name": "NVIDIA GeForce RTX 5090", "memory_mib": 32607,
         "bus_id": "00000000:01:00.0"},
        {"index": 1, "uuid": "GPU-bbb", "name": 'Odd "GPU" \\ name', "memory_mib": 24564,
         "bus_id": "00000000:41:00.0", "memory_used_mib": 23500, "temperature_c": 71, "utilization_pct": 87,
         "power_w": 312.5}]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)')


def parse_metrics(text: str) -> Samples:
    """A small text-format parser: every sample's name needs a HELP and a TYPE line before it."""
    described: dict[str, set[str]] = {}
    samples: Samples = {}
    for line in text.splitlines():
        if line.startswith("# "):
            kind, name, _ = line[2:].split(" ", 2)
            described.setdefault(name, set()).add(kind)
            continue
        match = SAMPLE.match(line)
        assert match, line
        name, labels, value = match.groups()
        assert described.get(name) == {"HELP", "TYPE"}, name
        pairs, end = [], 0
        for label in LABEL.finditer(labels or ""):
            assert label.start() == end, line  # the label pairs cover the braces' content, nothing else
            pairs.append(label.groups())
            end = label.end()
        assert end == len(labels or ""), line
        unescaped = {(k, re.sub(r"\\(.)", lambda m: "\n" if m[1] == "n" else m[1], v)) for k, v in pairs}
        samples[(name, frozenset(unescaped))] = float(value)
    return samples


def gpu(index: int) -> frozenset[tuple[str, str]]:
    g = GPUS[index]
    return frozenset({("gpu", str(g["index"])), ("uuid", g["uuid"]), ("name", g["name"])})


def executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "fake-gpus.json"
    path.write_text(json.dumps({"gpus": GPUS}))
    return path


@pytest.fixture
def fake_smi(tmp_path: Path) -> Path:
    """A copy of the local cluster's fake nvidia-smi, run by this interpreter (reads HYDRA_FAKE_GPUS)."""
    code = Path(fake_nvidia_smi.__file__).read_text().split("\n", 1)[1]
    return executable(tmp_path / "nvidia-smi", f"#!{sys.executable}\n{code}")


@pytest.fixture
def exporter(tmp_path: Path, spec: Path) -> Iterator[Callable[[Path | str], str]]:
    """Start the exporter on 127.0.0.1 (a free port) with a given nvidia-smi; returns its base URL."""
    procs: list[subprocess.Popen] = []

    def start(smi: Path | str) -> str:
        log = (tmp_path / f"exporter{len(procs)}.log").open("w")
        proc = subprocess.Popen([sys.executable, str(EXPORTER), "--listen", "127.0.0.1:0", "--nvidia-smi", str(smi)],
                                stdout=subprocess.PIPE, stderr=log, text=True,
                                env={**os.environ, "HYDRA_FAKE_GPUS": str(spec)})
        procs.append(proc)
        assert proc.stdout
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            assert sel.select(timeout=15), "the exporter did not report its address"
        line = proc.stdout.readline()
        assert line.startswith("listening on 127.0.0.1:"), line
        return f"http://127.0.0.1:{int(line.rsplit(':', 1)[1])}"

    yield start
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            assert proc.wait(timeout=10) == 0  # SIGTERM shuts the server down cleanly
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
            raise


def scrape(base: str) -> tuple[Samples, str]:
    with urllib.request.urlopen(f"{base}/metrics", timeout=15) as response:
        assert response.status == 200
        return parse_metrics(response.read().decode()), response.headers["Content-Type"]


def test_exports_every_reading_with_gpu_uuid_and_name_labels(exporter, fake_smi: Path) -> None:
    base = exporter(fake_smi)
    samples, content_type = scrape(base)
    assert content_type.startswith("text/plain; version=0.0.4")
    assert samples[("nvidia_smi_up", frozenset())] == 1
    assert 0 < samples[("nvidia_smi_scrape_duration_seconds", frozenset())] < 5
    expected = {  # GPU 0 has the fake's defaults; GPU 1 sets every reading (and a name that needs escaping)
        "nvidia_smi_temperature_gpu": (45, 71),
        "nvidia_smi_memory_used_bytes": (1 * MIB, 23500 * MIB),
        "nvidia_smi_memory_total_bytes": (32607 * MIB, 24564 * MIB),
        "nvidia_smi_utilization_gpu_ratio": (0, 0.87),
        "nvidia_smi_power_draw_watts": (30, 312.5),
    }
    for name, values in expected.items():
        for index, value in enumerate(values):
            assert samples[(name, gpu(index))] == pytest.approx(value), (name, index)
    assert len(samples) == 2 * len(expected) + 2
    with urllib.request.urlopen(f"{base}/", timeout=15) as response:
        assert b'href="/metrics"' in response.read()


def test_a_changed_temperature_shows_on_the_next_scrape(exporter, fake_smi: Path, spec: Path) -> None:
    base = exporter(fake_smi)
    assert scrape(base)[0][("nvidia_smi_temperature_gpu", gpu(0))] == 45
    data = json.loads(spec.read_text())
    data["gpus"][0].update(temperature_c=86, memory_used_mib=32000)
    spec.write_text(json.dumps(data))
    samples, _ = scrape(base)
    assert samples[("nvidia_smi_temperature_gpu", gpu(0))] == 86  # over seed 001's 80 °C alert
    assert samples[("nvidia_smi_memory_used_bytes", gpu(0))] / samples[("nvidia_smi_memory_total_bytes", gpu(0))] \
        > 0.95  # and over its 95 % VRAM alert


def test_unavailable_readings_are_left_out_not_zero(exporter, fake_smi: Path, spec: Path) -> None:
    data = json.loads(spec.read_text())
    data["gpus"][1].update(power_w=None, temperature_c="[Not Supported]", utilization_pct="[N/A]")
    spec.write_text(json.dumps(data))
    samples, _ = scrape(exporter(fake_smi))
    for name in ("nvidia_smi_power_draw_watts", "nvidia_smi_temperature_gpu", "nvidia_smi_utilization_gpu_ratio"):
        assert (name, gpu(1)) not in samples and (name, gpu(0)) in samples
    assert samples[("nvidia_smi_memory_used_bytes", gpu(1))] == 23500 * MIB
    assert samples[("nvidia_smi_up", frozenset())] == 1


@pytest.mark.parametrize("smi", ["failing", "missing", "no-gpus"])
def test_a_failing_nvidia_smi_gives_up_0_and_still_http_200(exporter, tmp_path: Path, fake_smi: Path,
                                                            spec: Path, smi: str) -> None:
    if smi == "failing":
        path: Path | str = executable(tmp_path / "broken-smi", "#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2\nexit 9\n")
    elif smi == "missing":
        path = tmp_path / "no-such-nvidia-smi"
    else:
        spec.write_text(json.dumps({"gpus": []}))  # the fake says "No devices were found" and exits 6
        path = fake_smi
    samples, _ = scrape(exporter(path))
    assert samples == {("nvidia_smi_up", frozenset()): 0,
                       ("nvidia_smi_scrape_duration_seconds", frozenset()): pytest.approx(0, abs=5)}


def dead(pid: int) -> bool:
    """Gone, or a zombie waiting for its reaper (the orphaned child's reaper is init, not this test)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].startswith("Z")
    except (FileNotFoundError, ProcessLookupError):
        return True


def test_a_hanging_nvidia_smi_is_killed_with_its_children(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    smi = executable(tmp_path / "hung-smi", f"#!/bin/sh\nsleep 60 &\necho $! > {pidfile}\nwait\n")
    started = time.monotonic()
    sample = gpu_exporter.run_nvidia_smi(str(smi), timeout=0.5)
    assert not sample.ok and "timed out" in sample.error and time.monotonic() - started < 5
    assert sample.unreaped is None
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5  # the whole process group got SIGKILL; bounded wait for the kernel
    while not dead(child) and time.monotonic() < deadline:
        os.sched_yield()
    assert dead(child)
    assert gpu_exporter.exposition(sample).count("nvidia_smi_up 0") == 1


def test_concurrent_scrapes_never_run_two_nvidia_smi_at_once(exporter, tmp_path: Path, fake_smi: Path) -> None:
    """The fake is wrapped to take a directory lock (mkdir is atomic) and record any overlap."""
    mark, overlap = tmp_path / "running", tmp_path / "overlap"
    wrapper = executable(tmp_path / "slow-smi", f"#!/bin/sh\nmkdir {mark} 2>/dev/null || touch {overlap}\n"
                                                f"sleep 0.3\n{fake_smi} \"$@\"; rc=$?\nrmdir {mark}\nexit $rc\n")
    base = exporter(wrapper)
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: scrape(base)[0], range(6)))
    assert all(r[("nvidia_smi_up", frozenset())] == 1 for r in results)
    assert not overlap.exists()


def test_label_values_are_escaped_and_na_parses_as_missing() -> None:
    assert gpu_exporter.escape('a\\b"c\nd') == 'a\\\\b\\"c\\nd'
    assert [gpu_exporter.number(t) for t in ("[N/A]", "[Not Supported]", "N/A", "", "nan", "42", "15.25")] == \
        [None, None, None, None, None, 42.0, 15.25]
    rows = gpu_exporter.parse("0, GPU-x, NVIDIA A100-SXM4-80GB, 33, 0, 81920, 0, [N/A]\nbroken line\n")
    assert rows == [dict(zip(gpu_exporter.FIELDS, ["0", "GPU-x", "NVIDIA A100-SXM4-80GB", "33", "0", "81920", "0",
                                                   "[N/A]"], strict=True))]
    assert gpu_exporter.listen_address("[::]:9835") == ("::", 9835)
    assert gpu_exporter.listen_address("0.0.0.0:9835") == ("0.0.0.0", 9835)


def test_unit_template_renders_a_hardened_dynamic_user_service() -> None:
    text = render("gpu-exporter.service.j2", python="/usr/bin/python3",
                  exporter="/usr/local/lib/hydra-ops/gpu_exporter.py", listen="0.0.0.0:9835",
                  nvidia_smi="/usr/bin/nvidia-smi")
    service = parse(text)["Service"]
    settings = dict(service)
    assert settings["ExecStart"] == ("/usr/bin/python3 /usr/local/lib/hydra-ops/gpu_exporter.py "
                                     "--listen 0.0.0.0:9835 --nvidia-smi /usr/bin/nvidia-smi")
    assert settings["DynamicUser"] == "yes" and "User" not in settings
    assert settings["CapabilityBoundingSet"] == "" and settings["AmbientCapabilities"] == ""
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "RestrictSUIDSGID", "ProtectKernelModules",
                "MemoryDenyWriteExecute", "LockPersonality"):
        assert settings[key] == "yes", key
    assert settings["ProtectSystem"] == "strict" and settings["DevicePolicy"] == "closed"
    devices = [v for k, v in service if k == "DeviceAllow"]
    assert "/dev/nvidiactl rw" in devices and "char-nvidia-frontend rw" in devices
    assert not [d for d in devices if "uvm" in d]  # nvidia-smi needs no CUDA device nodes
    assert "ReadWritePaths" not in settings and "StateDirectory" not in settings
