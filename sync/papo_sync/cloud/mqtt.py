"""One way to build a paho-mqtt client (MQTT 5, TLS when configured) for the cloud's processes."""

from __future__ import annotations

import ssl
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from papo_sync.cloud.settings import BrokerSettings


def new_client(broker: BrokerSettings, name: str) -> mqtt.Client:
    """A configured (not yet connected) MQTT 5 client with a unique id."""
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"{name}-{uuid.uuid4().hex[:8]}",
        protocol=mqtt.MQTTv5,
    )
    if broker.username is not None:
        client.username_pw_set(broker.username, broker.password)
    if broker.tls_ca is not None:
        client.tls_set(
            ca_certs=str(broker.tls_ca),
            certfile=None if broker.tls_cert is None else str(broker.tls_cert),
            keyfile=None if broker.tls_key is None else str(broker.tls_key),
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    return client
