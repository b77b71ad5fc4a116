"""Building MQTT 5 clients the same way on both ends: credentials, TLS, reconnect backoff, no Nagle delay."""

from __future__ import annotations

import socket
import ssl
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def new_client(
    name: str,
    username: str | None = None,
    password: str | None = None,
    tls_ca: Path | None = None,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
) -> mqtt.Client:
    """A configured (not yet connected) MQTT 5 client whose id starts with `name`."""
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"{name}-{uuid.uuid4().hex[:8]}",
        protocol=mqtt.MQTTv5,
    )
    if username is not None:
        client.username_pw_set(username, password)
    if tls_ca is not None:
        client.tls_set(
            ca_certs=str(tls_ca),
            certfile=None if tls_cert is None else str(tls_cert),
            keyfile=None if tls_key is None else str(tls_key),
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    return client


def disable_nagle(client: Any) -> None:
    """Set TCP_NODELAY on a connected client's socket (paho leaves Nagle on; small acks then wait ~40 ms)."""
    sock = client.socket()
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
