"""Tell devices how their alert is going: AlertUpdates signed with the fleet key, QoS 1 on `alert`, not retained."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from papo_sync.cloud.alerts.store import Update
from papo_sync.cloud.mqtt import new_client
from papo_sync.cloud.settings import BrokerSettings
from papo_sync.connection import disable_nagle
from papo_sync.protocol import AlertUpdate, alert_topic
from papo_sync.signing import sign_alert

log = logging.getLogger(__name__)
_PUBLISH_TIMEOUT_S = 5.0


def signed_update(update: Update, key: Ed25519PrivateKey, now: datetime, ttl: timedelta) -> str:
    """The JSON published for one update: a SignedMessage of kind `alert`."""
    message = AlertUpdate(
        alert_id=str(update.alert_id), msg_id=update.msg_id, seq=update.seq, state=update.state,
        caregiver=update.caregiver, at=update.at,
    )  # fmt: skip
    return sign_alert(message, update.tenant, update.device_id, key, now, ttl).model_dump_json()


class UpdatePublisher:
    """A connection to the broker (as the `fleet` role) that publishes signed AlertUpdates."""

    def __init__(
        self, broker: BrokerSettings, key: Ed25519PrivateKey, ttl: timedelta, on_connect: Callable[[], None]
    ) -> None:
        """`on_connect` is called on each (re)connection: updates that waited for the broker can go now."""
        self._broker, self._key, self._ttl, self._connected_hook = broker, key, ttl, on_connect
        self.connected = threading.Event()
        self._client = new_client(broker, "papo-alerts")
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = lambda *_: self.connected.clear()

    def _on_connect(self, client: Any, _: Any, __: Any, reason: Any, ___: Any) -> None:
        if reason.is_failure:
            log.error("broker refused the alert service", extra={"reason": str(reason)})
            return
        disable_nagle(client)
        self.connected.set()
        self._connected_hook()

    def start(self) -> None:
        """Connect in the background (and reconnect whenever the link drops)."""
        self._client.connect_async(self._broker.host, self._broker.port, keepalive=self._broker.keepalive_s)
        self._client.loop_start()

    def stop(self) -> None:
        """Disconnect."""
        self._client.disconnect()
        self._client.loop_stop()

    def publish(self, update: Update) -> bool:
        """Publish one update and wait for the broker to take it; False when it could not (it stays queued)."""
        if not self.connected.is_set():
            return False
        payload = signed_update(update, self._key, datetime.now(UTC), self._ttl)
        info = self._client.publish(alert_topic(update.tenant, update.device_id), payload, qos=1, retain=False)
        try:
            info.wait_for_publish(_PUBLISH_TIMEOUT_S)
        except (RuntimeError, ValueError):
            return False
        return bool(info.is_published())
