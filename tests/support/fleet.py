"""The fleet's signing key for tests: key files, signed (and unsigned, and badly signed) requests, a fleet client."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from papo_sync.protocol import Command, CommandName, DesiredState, SignedBody, SignedMessage
from papo_sync.signing import generate_private_key, public_pem, sign_command, sign_desired, write_private_key

TENANT = "acme"


@dataclass(frozen=True)
class FleetKey:
    """A fleet signing key and its two files: the private key (0600) and the public key devices trust (0644)."""

    key: Ed25519PrivateKey
    private: Path
    public: Path

    @classmethod
    def create(cls, directory: Path) -> FleetKey:
        """A new key written to `directory`/fleet.key and fleet.pub."""
        key = generate_private_key()
        private, public = directory / "fleet.key", directory / "fleet.pub"
        write_private_key(private, key)
        public.write_bytes(public_pem(key.public_key()))
        public.chmod(0o644)
        return cls(key, private, public)

    def desired(self, version: int, settings: dict[str, Any], **target: Any) -> str:
        """A desired state signed as the cloud signs it (see `signed_desired`)."""
        return signed_desired(self.key, version, settings, **target)

    def command(self, name: str | CommandName, command_id: str, **target: Any) -> str:
        """A command signed as the cloud signs it (see `signed_command`)."""
        return signed_command(self.key, name, command_id, **target)


def signed_desired(
    key: Ed25519PrivateKey, version: int, settings: dict[str, Any], device_id: str = "dev-1", tenant: str = TENANT,
    issued_at: datetime | None = None, ttl: timedelta = timedelta(days=1),
) -> str:  # fmt: skip
    """A desired state signed with `key` as the cloud signs it: the JSON published on `shadow/delta`."""
    desired = DesiredState(version=version, settings=settings)
    return sign_desired(desired, tenant, device_id, key, issued_at or datetime.now(UTC), ttl).model_dump_json()


def signed_command(
    key: Ed25519PrivateKey, name: str | CommandName, command_id: str, device_id: str = "dev-1", tenant: str = TENANT,
    expires_at: datetime | None = None, args: dict[str, Any] | None = None,
) -> str:  # fmt: skip
    """A command signed with `key` as the cloud signs it: the JSON published on `cmd/{command_id}`.

    An `expires_at` in the past makes a command issued 15 s before it (one that expired on its way).
    """
    now = datetime.now(UTC)
    expires = expires_at or now + timedelta(seconds=30)
    issued = min(now, expires - timedelta(seconds=15))
    command = Command.model_validate(
        {"command_id": command_id, "name": name, "args": args or {}, "expires_at": expires}
    )
    return sign_command(command, tenant, device_id, key, issued).model_dump_json()


def opened(payload: bytes | str) -> SignedBody:
    """The body of a signed message (not checked: for reading what the cloud published)."""
    return SignedBody.model_validate_json(SignedMessage.model_validate_json(payload).body)


class Watcher:
    """An MQTT client of the tests that records what arrives on its subscriptions."""

    def __init__(self, port: int, username: str, password: str, topics: list[str]) -> None:
        from papo_sync.connection import new_client

        self.received: list[Any] = []
        self._arrived = threading.Condition()
        subscribed = threading.Event()
        self.client = new_client("test-watcher", username, password)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_connect = lambda c, *_: c.subscribe([(t, 1) for t in topics]) if topics else subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert subscribed.wait(10), "the watcher could not subscribe"

    def _on_message(self, _: Any, __: Any, message: Any) -> None:
        with self._arrived:
            self.received.append(message)
            self._arrived.notify_all()

    def publish(self, topic: str, payload: str | bytes, retain: bool = False) -> None:
        """Publish at QoS 1 and wait for the broker to take it."""
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)

    def on(self, topic: str, count: int, timeout_s: float = 30) -> list[Any]:
        """The first `count` messages received on `topic`, once they are there."""
        with self._arrived:
            arrived = self._arrived.wait_for(
                lambda: len([m for m in self.received if m.topic == topic]) >= count, timeout_s
            )
            assert arrived, f"{count} message(s) on {topic} never came"
            return [m for m in self.received if m.topic == topic][:count]

    def wait_for(self, count: int, timeout_s: float = 30) -> list[Any]:
        """The first `count` messages received, once they are there."""
        with self._arrived:
            assert self._arrived.wait_for(lambda: len(self.received) >= count, timeout_s), self.received
            return self.received[:count]

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()
