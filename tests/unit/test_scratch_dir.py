"""The first-run descriptor leak: under gevent's monkey patching (hydra's CLI, pyinfra's) `os.close` defers closing a
directory's descriptor to the event loop once a hub exists, so shutil.rmtree of a large tree (n8n's node_modules,
about 20,000 directories) ran `hydra cluster up` out of descriptors; the local cluster's scratch trees are removed
with coreutils' rm instead. Each case runs in its own interpreter: monkey patching cannot be undone."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from hydra_ops import PROJECT_ROOT

PRELUDE = textwrap.dedent("""
    import hydra_ops._gevent  # noqa: F401  (patches as the hydra CLI does)
    import os, resource, shutil, sys
    from pathlib import Path
    import gevent
    from devcluster.local.procs import scratch_dir
    gevent.get_hub()  # a hub exists, as after any gevent subprocess or socket
    resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128))
    def fill(top: Path) -> None:
        for i in range(300):  # more directories than the process may hold open
            (top / f"pkg{i}" / "lib").mkdir(parents=True)
            (top / f"pkg{i}" / "lib" / "index.js").write_text("x")
    def open_fds() -> int:
        return len(os.listdir("/proc/self/fd"))
    parent = Path(sys.argv[1])
""")


def run(tmp_path, body: str) -> subprocess.CompletedProcess[str]:
    code = PRELUDE + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                          cwd=PROJECT_ROOT, timeout=120)


def test_rmtree_under_gevent_runs_out_of_descriptors(tmp_path) -> None:
    """The trap itself, so a gevent that stops deferring is noticed (and scratch_dir's reason re-read)."""
    proc = run(tmp_path, """
        top = parent / "tree"
        fill(top)
        try:
            shutil.rmtree(top)
        except OSError as exc:
            print("errno", exc.errno)
    """)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "errno 24" in proc.stdout, f"shutil.rmtree did not run out of descriptors: {proc.stdout!r}"


def test_scratch_dir_removes_a_large_tree_without_leaking(tmp_path) -> None:
    proc = run(tmp_path, """
        before = open_fds()
        with scratch_dir(parent) as tmp:
            fill(tmp / "n8n" / "node_modules")
            made = tmp
        print("gone", not made.exists(), "leaked", open_fds() - before)
    """)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "gone True leaked 0" in proc.stdout, proc.stdout
    assert list(tmp_path.iterdir()) == [], "scratch_dir left something behind"
