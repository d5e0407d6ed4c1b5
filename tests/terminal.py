"""A child process on a pseudo-terminal (python's pty), as an operator's shell runs it: for the preview tests."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time

from hydra_ops import PROJECT_ROOT


class Terminal:
    """A child process whose stdin, stdout and stderr are a pseudo-terminal, read as it writes."""

    def __init__(self, argv: list[str]) -> None:
        self.fd, slave = pty.openpty()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=PROJECT_ROOT,
                                     env={**os.environ, "PYINFRA_PROGRESS": "off"}, start_new_session=True)
        os.close(slave)
        self.output = ""

    def read_until(self, text: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            assert self.proc.poll() is None or select.select([self.fd], [], [], 0)[0], \
                f"exited {self.proc.returncode} before {text!r}:\n{self.output[-3000:]}"
            assert time.monotonic() < deadline, f"no {text!r} within {timeout} s:\n{self.output[-3000:]}"
            if select.select([self.fd], [], [], 1)[0]:
                try:
                    self.output += os.read(self.fd, 65536).decode(errors="replace")
                except OSError:  # the child closed the terminal
                    pass

    def type(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def finish(self, timeout: float = 120) -> int:
        rc = self.proc.wait(timeout=timeout)
        while select.select([self.fd], [], [], 0.2)[0]:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            self.output += chunk.decode(errors="replace")
        os.close(self.fd)
        return rc
