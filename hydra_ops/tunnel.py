"""A port on a host's loopback, reached from the operator's machine through the host's SSH connection: how a deploy
talks to a service before it is published to the network (n8n and Uptime Kuma get their owner this way, so no one
else can claim them first)."""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from paramiko import SSHException
from pyinfra.api import Host


class NoTunnel(RuntimeError):
    """The host's connection cannot forward a port (not SSH, or the server refuses TCP forwarding)."""


def _pump(client: socket.socket, channel: Any) -> None:
    """Copy bytes both ways until either side closes."""
    try:
        while True:
            ready, _, _ = select.select([client, channel], [], [], 60)
            if not ready:
                continue
            for source, sink in ((client, channel), (channel, client)):
                if source in ready:
                    data = source.recv(65536)
                    if not data:
                        return
                    sink.sendall(data)
    except OSError:
        return
    finally:
        client.close()
        channel.close()


@contextmanager
def forwarded(host: Host, port: int) -> Iterator[str]:
    """'http://127.0.0.1:<local port>' while the block runs; each connection to it is a new SSH channel to the
    host's 127.0.0.1:port. Raises NoTunnel when the connection cannot forward."""
    if not host.connected:
        host.connect()
    transport = getattr(getattr(host.connector, "client", None), "get_transport", lambda: None)()
    if transport is None:
        raise NoTunnel(f"{host.name}: its connection is not SSH; cannot reach its loopback port {port}")
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.5)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                client, peer = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                channel = transport.open_channel("direct-tcpip", ("127.0.0.1", port), peer)
            except (SSHException, OSError):  # refused: forwarding off, or nothing listening there
                client.close()
                continue
            threading.Thread(target=_pump, args=(client, channel), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True, name=f"tunnel-{host.name}-{port}")
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=2)
