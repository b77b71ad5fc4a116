"""MQTT clients for the cloud's processes, from the broker settings."""

from __future__ import annotations

import paho.mqtt.client as mqtt

from papo_sync.cloud.settings import BrokerSettings
from papo_sync.connection import new_client as build_client


def new_client(broker: BrokerSettings, name: str) -> mqtt.Client:
    """A configured (not yet connected) MQTT 5 client for `broker`."""
    return build_client(name, broker.username, broker.password, broker.tls_ca, broker.tls_cert, broker.tls_key)
