"""Building MQTT 5 clients the same way on both ends: credentials, TLS, reconnect backoff, no Nagle delay."""

from __future__ import annotations

import ipaddress
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


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine only (localhost, 127.0.0.0/8 or ::1)."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def plaintext_refusal(host: str, port: int, tls_ca: Path | None, setting: str = "sync.tls_ca") -> str | None:
    """Why a connection to `host` must not be made (plaintext to another machine), or None when it may."""
    if tls_ca is not None or is_loopback(host):
        return None
    return (
        f"refusing to connect to the broker {host}:{port} without TLS: set {setting} to the CA bundle that signed "
        "the broker's certificate (plaintext is only allowed to a broker on this machine, 127.0.0.1)"
    )
