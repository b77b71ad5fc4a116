"""What the device agent is given and what it reports: configuration, status and ports.

The ports are the outbox it drains and the MQTT client it talks through; tests replace both with fakes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from papo_sync.protocol import OutboxItem


class PublishInfo(Protocol):
    """What `publish` returns (paho's MQTTMessageInfo)."""

    @property
    def rc(self) -> int:
        """0 when the message was queued for sending."""

    def wait_for_publish(self, timeout: float | None = None) -> None:
        """Block until the broker has the message (QoS 1: PUBACK) or `timeout` seconds pass."""


class MqttClient(Protocol):
    """An MQTT 5 client as the agent drives it (paho's `mqtt.Client` satisfies it).

    The agent sets the three callbacks, then paho calls them on its network thread with paho's VERSION2
    signatures: `on_connect(client, userdata, flags, reason, properties)`, `on_disconnect(client, userdata,
    flags, reason, properties)` and `on_message(client, userdata, message)` (message: `.topic`, `.payload`).
    """

    on_connect: Any
    on_disconnect: Any
    on_message: Any

    def will_set(self, topic: str, payload: str, qos: int, retain: bool) -> None:
        """The message the broker publishes if the connection is lost."""

    def connect_async(self, host: str, port: int, keepalive: int) -> None:
        """Connect in the background (with `loop_start`), reconnecting after losses."""

    def loop_start(self) -> Any:
        """Start the network thread."""

    def loop_stop(self) -> Any:
        """Stop the network thread."""

    def publish(self, topic: str, payload: str, qos: int = 0, retain: bool = False) -> PublishInfo:
        """Queue a message for sending (thread-safe)."""

    def subscribe(self, topic: list[tuple[str, int]]) -> Any:
        """Subscribe to (topic filter, QoS) pairs."""

    def disconnect(self) -> Any:
        """Close the connection cleanly (no last will)."""

    def socket(self) -> Any:
        """The connected socket, if any."""


class OutboxSource(Protocol):
    """The device store's outbox, as the agent needs it."""

    def pending(self, limit: int, exclude: set[str]) -> list[OutboxItem]:
        """The oldest rows not yet acknowledged (and not in `exclude`), in seq order."""

    def delete(self, msg_ids: list[str]) -> int:
        """Remove acknowledged (or rejected) rows; how many."""

    def depth(self) -> int:
        """Rows waiting to be synced."""

    def confirm_erasures(self, msg_ids: list[str]) -> int:
        """Record that the cloud finished these erasures (tombstone rows' msg_ids); how many were known."""


@dataclass(frozen=True)
class AgentConfig:
    """Where and who the device is on the broker."""

    host: str
    port: int
    tenant: str
    device_id: str
    username: str | None = None
    password: str | None = None
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    version: str = "0"
    batch_items: int = 200
    window: int = 4
    ack_timeout_s: float = 10.0
    telemetry_every_s: float = 60.0
    keepalive_s: int = 30


@dataclass
class AgentStatus:
    """What /health and telemetry say about sync."""

    connected: bool = False
    last_sync_at: float | None = None
    acked: int = 0
    rejected: int = 0
    erasures_confirmed: int = 0
    resent: int = 0
    ignored_acks: int = 0  # acked or rejected ids that were not in flight (forged or stale): nothing deleted
    applied_version: int = 0
    last_error: str | None = None
    session_seq: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
