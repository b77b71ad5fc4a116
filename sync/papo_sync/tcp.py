"""Small MQTT packets (acks, replies) must not wait for Nagle's algorithm: both ends turn it off."""

from __future__ import annotations

import socket
from typing import Any


def disable_nagle(client: Any) -> None:
    """Set TCP_NODELAY on a connected paho client's socket (paho leaves Nagle on; acks then wait ~40 ms)."""
    sock = client.socket()
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
