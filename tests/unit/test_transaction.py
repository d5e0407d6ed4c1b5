"""The kept-files transaction on this machine: the restore script parses and quotes any path, keeping then
restoring gives back bytes, modes and absence, the health wait restores and fails naming its check, and the
plan-time keep (pyinfra's @local connector) adds an operation only when a file will change, never showing a
secret."""

from __future__ import annotations

import http.server
import os
import secrets
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hydra_ops import PROJECT_ROOT
from hydra_ops.operations import transaction
from hydra_ops.operations.service import health_wait
from hydra_ops.operations.transaction import Transaction, keep_command, restore_script, slot_name

ODD = ["/etc/it's here/a b.conf", "/opt/$HOME/`x`;rm -rf ~", "/srv/new\tfile"]


def sh(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=60)


def test_restore_script_parses_and_quotes_every_path() -> None:
    script = restore_script("tabbyapi.service", "/var/lib/hydra-ops/previous/tabbyapi.service", ODD)
    assert subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True).returncode == 0
    for i, path in enumerate(ODD):
        assert f"back {i} {shlex.quote(path)}\n" in script
    assert "daemon-reload" not in script
    assert "systemctl daemon-reload" in restore_script("u", "/d", ["/etc/systemd/system/u.service"])


def test_slot_names_are_one_safe_path_component() -> None:
    assert slot_name("ollama@11434.service") == "ollama@11434.service"
    assert slot_name("../../etc/x y.service") == ".._.._etc_x_y.service"
    assert "/" not in slot_name("a/b") and slot_name("") == "_"


@pytest.fixture
def kept_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "previous"
    monkeypatch.setattr(transaction, "ROOT", str(root))
    return root


def keep_and_change(tmp_path: Path, root: Path) -> tuple[Transaction, Path, Path, Path]:
    """Two files that exist (one 0600) and one that does not, kept; then all three rewritten."""
    conf, key, new = tmp_path / "it's a dir" / "config.yml", tmp_path / "key file", tmp_path / "$new"
    conf.parent.mkdir()
    conf.write_bytes(b"old: config\n")
    key.write_bytes(b"old-key\n")
    key.chmod(0o600)
    tx = Transaction("demo.service", [str(conf), str(key), str(new)])
    script = restore_script(tx.unit, tx.directory, tx.paths)
    proc = sh(keep_command(tx.directory, tx.paths, script))
    assert proc.returncode == 0, proc.stderr
    assert oct(root.stat().st_mode & 0o777) == "0o700" and oct(Path(tx.directory).stat().st_mode & 0o777) == "0o700"
    conf.write_bytes(b"new: config\n")
    key.write_bytes(b"new-key\n")
    new.write_bytes(b"did not exist before\n")
    return tx, conf, key, new


def test_keep_then_restore_gives_back_bytes_modes_and_absence(tmp_path: Path, kept_root: Path) -> None:
    tx, conf, key, new = keep_and_change(tmp_path, kept_root)
    proc = subprocess.run(["bash", tx.restore_script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert conf.read_bytes() == b"old: config\n" and key.read_bytes() == b"old-key\n" and not new.exists()
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    assert not list(tmp_path.rglob("*.hydra-restore"))


@pytest.fixture
def answering() -> Iterator[str]:
    """A local HTTP server answering 200 on every path."""
    class Ok(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/health"
    server.shutdown()


def closed_port_url() -> str:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/health"


def test_a_failed_health_check_restores_restarts_and_fails_naming_the_check(tmp_path: Path, kept_root: Path) -> None:
    tx, conf, key, new = keep_and_change(tmp_path, kept_root)
    url, flag = closed_port_url(), tmp_path / "restarted"
    proc = sh(health_wait("hydra-test-none.service", url, 1, tx, restart=f"touch {shlex.quote(str(flag))}"))
    assert proc.returncode == 1
    assert (f"hydra-test-none.service failed its health check ({url}): the previous files were restored (3) and "
            "hydra-test-none.service restarted on them; it does not answer either") in proc.stderr
    assert conf.read_bytes() == b"old: config\n" and key.read_bytes() == b"old-key\n" and not new.exists()
    assert flag.exists() and not Path(tx.directory).exists()


def test_a_failed_check_also_puts_back_units_written_but_not_yet_restarted(tmp_path: Path, kept_root: Path) -> None:
    tx, conf, _, _ = keep_and_change(tmp_path, kept_root)
    other_file = tmp_path / "other.conf"
    other_file.write_bytes(b"other old\n")
    other = Transaction("other.service", [str(other_file)])
    assert sh(keep_command(other.directory, other.paths, restore_script(other.unit, other.directory,
                                                                          other.paths))).returncode == 0
    other_file.write_bytes(b"other new\n")
    proc = sh(health_wait("hydra-test-none.service", closed_port_url(), 1, tx, restart="true", pending=[other]))
    assert proc.returncode == 1
    assert "the files other.service runs on were put back too (it was not restarted yet)" in proc.stderr
    assert other_file.read_bytes() == b"other old\n" and conf.read_bytes() == b"old: config\n"
    assert list(kept_root.iterdir()) == []


def test_a_passing_health_check_keeps_the_new_files_and_drops_the_copies(tmp_path: Path, kept_root: Path,
                                                                          answering: str) -> None:
    tx, conf, _, new = keep_and_change(tmp_path, kept_root)
    proc = sh(health_wait("hydra-test-none.service", answering, 5, tx, restart="exit 99"))
    assert proc.returncode == 0, proc.stderr
    assert conf.read_bytes() == b"new: config\n" and new.exists() and not Path(tx.directory).exists()


def test_without_a_transaction_the_wait_is_the_plain_bounded_one() -> None:
    command = health_wait("u.service", "http://127.0.0.1:1/health", 3)
    assert "'u.service did not answer http://127.0.0.1:1/health'" in command and "restored" not in command
    assert sh(command).returncode == 1


DEPLOY = """import os
from hydra_ops.operations import transaction
transaction.ROOT = os.environ["HYDRA_TEST_ROOT"]
d = os.environ["HYDRA_TEST_DIR"]
transaction.keep("test", "demo.service", [
    transaction.Desired(d + "/config.yml", "wanted: yes\\n"),
    transaction.Desired(d + "/api_tokens.yml", os.environ["HYDRA_TEST_SECRET"], secret=True),
])
"""


def run_keep(tmp_path: Path, value: str, *mode: str) -> subprocess.CompletedProcess[str]:
    deploy = tmp_path / "deploy.py"
    deploy.write_text(DEPLOY)
    env = {**os.environ, "HYDRA_TEST_SECRET": value, "HYDRA_TEST_DIR": str(tmp_path / "host"),
           "HYDRA_TEST_ROOT": str(tmp_path / "previous")}
    return subprocess.run([sys.executable, "-m", "pyinfra", "-y", "@local", str(deploy), *mode], cwd=PROJECT_ROOT,
                          env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_keep_adds_an_operation_only_when_a_file_will_change_and_shows_no_secret(tmp_path: Path) -> None:
    value = "s3cr3t-" + secrets.token_hex(12)
    host = tmp_path / "host"
    host.mkdir()
    (host / "config.yml").write_text("wanted: yes\n")
    (host / "api_tokens.yml").write_text("old-" + value[::-1] + "\n")
    changing = run_keep(tmp_path, value, "-vvv", "--debug")
    output = changing.stdout + changing.stderr
    assert changing.returncode == 0, output[-2000:]
    assert "keep the 1 file(s) it runs on now" in output and value not in output
    kept = tmp_path / "previous" / "demo.service"
    assert (kept / "0").read_text() == "old-" + value[::-1] + "\n" and (kept / "restore.sh").exists()
    restore = (kept / "restore.sh").read_text()
    assert "api_tokens.yml" in restore and "config.yml" not in restore
    (host / "api_tokens.yml").write_text(value + "\n")  # what secret_file writes
    same = run_keep(tmp_path, value, "-vvv", "--debug")
    assert same.returncode == 0 and "keep the" not in same.stdout + same.stderr
    assert value not in same.stdout + same.stderr


def test_the_lb_check_is_a_path_the_lb_serves() -> None:
    from hydra_ops.services.lb.debian import health_url
    from hydra_ops.services.lb.options import LbOptions

    assert health_url(LbOptions()) == "http://127.0.0.1:11400/api/version"
    assert health_url(LbOptions(lb_allowed_paths=["/"], lb_listen_address="::1")) == "http://[::1]:11400/"
    assert health_url(LbOptions(lb_allowed_paths=["/api/chat"])) is None  # only the fingerprint is waited for
