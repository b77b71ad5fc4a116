"""The fleet service: devices and their turns from PostgreSQL, versioned desired state and commands over MQTT."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from papo_sync.cloud.mqtt import new_client
from papo_sync.cloud.settings import CloudSettings
from papo_sync.protocol import (
    Command,
    CommandResult,
    DesiredState,
    command_result_topic,
    command_topic,
    merge_settings,
    shadow_delta_topic,
)


class FleetError(Exception):
    """A fleet request that cannot be done; the message says why."""


class Fleet:
    """Reads the fleet's state and sends it configuration and commands."""

    def __init__(self, settings: CloudSettings) -> None:
        self._settings = settings
        try:
            self._db = psycopg.connect(settings.database_url, autocommit=True, row_factory=dict_row, connect_timeout=5)
        except psycopg.OperationalError as exc:
            raise FleetError(f"cannot reach the database: {str(exc).strip()}") from None

    def close(self) -> None:
        """Release the database connection."""
        self._db.close()

    def devices(self) -> list[dict[str, Any]]:
        """Every device: presence, version, last seen, outbox depth, desired/applied configuration."""
        return list(
            self._db.execute(
                "SELECT d.device_id, d.tenant, d.presence, d.session_seq, d.version, d.last_seen, d.last_sync_at, "
                "d.outbox_depth, ds.version AS desired_version, rs.version AS reported_version "
                "FROM device d LEFT JOIN desired_state ds USING (device_id) "
                "LEFT JOIN reported_state rs USING (device_id) ORDER BY d.device_id"
            ).fetchall()
        )

    def turns(self, device_id: str, limit: int = 20) -> list[dict[str, Any]]:
        """The device's latest synced turns, in the device's order."""
        rows = self._db.execute(
            "SELECT seq, turn_id, conversation_id, role, text, language, started_at, timings FROM turn "
            "WHERE device_id = %s ORDER BY seq DESC LIMIT %s",
            (device_id, limit),
        ).fetchall()
        return list(reversed(rows))

    def _tenant(self, device_id: str) -> str:
        row = self._db.execute("SELECT tenant FROM device WHERE device_id = %s", (device_id,)).fetchone()
        if row is None:
            raise FleetError(f"unknown device {device_id!r}; see `papo-cloud fleet devices`")
        return str(row["tenant"])

    def group(self, group: str) -> list[str]:
        """Devices of a group (a tenant)."""
        rows = self._db.execute("SELECT device_id FROM device WHERE tenant = %s ORDER BY device_id", (group,))
        return [str(r["device_id"]) for r in rows.fetchall()]

    def set_config(self, device_id: str, changes: dict[str, Any], expected_version: int | None = None) -> DesiredState:
        """Merge `changes` into the settings the device last accepted, as a new version; publish it (retained)."""
        tenant = self._tenant(device_id)
        with self._db.transaction():
            row = self._db.execute(
                "SELECT version FROM desired_state WHERE device_id = %s FOR UPDATE", (device_id,)
            ).fetchone()
            applied = self._db.execute(
                "SELECT settings FROM reported_state WHERE device_id = %s", (device_id,)
            ).fetchone()
            current = 0 if row is None else int(row["version"])
            if expected_version is not None and expected_version != current:
                raise FleetError(
                    f"stale version: {device_id} is at desired version {current}, not {expected_version}; "
                    "read it again (`papo-cloud fleet devices`) and retry"
                )
            # on top of what the device accepted last: a refused change is not carried into the next version
            merged = merge_settings({} if applied is None else dict(applied["settings"]), changes)
            desired = DesiredState(version=current + 1, settings=merged)
            self._db.execute(
                "INSERT INTO desired_state (device_id, version, settings, updated_at) VALUES (%s, %s, %s, now()) "
                "ON CONFLICT (device_id) DO UPDATE SET version = EXCLUDED.version, settings = EXCLUDED.settings, "
                "updated_at = EXCLUDED.updated_at",
                (device_id, desired.version, json.dumps(merged)),
            )
        self._publish(shadow_delta_topic(tenant, device_id), desired.model_dump_json(), retain=True)
        return desired

    def command(self, device_id: str, name: str, args: dict[str, Any], timeout_s: float) -> CommandResult:
        """Send a command and wait for its result; FleetError if none comes within `timeout_s`."""
        tenant = self._tenant(device_id)
        command = Command(
            command_id=uuid.uuid4().hex, name=name, args=args,
            expires_at=datetime.now(UTC) + timedelta(seconds=timeout_s),
        )  # fmt: skip
        self._db.execute(
            "INSERT INTO device_command (command_id, device_id, name, args, created_at) VALUES (%s, %s, %s, %s, now())",
            (command.command_id, device_id, name, json.dumps(args)),
        )
        answered = threading.Event()
        results: list[CommandResult] = []
        client = new_client(self._settings.broker, "papo-fleet")

        def on_message(_: Any, __: Any, message: Any) -> None:
            results.append(CommandResult.model_validate_json(message.payload))
            answered.set()

        subscribed = threading.Event()
        client.on_message = on_message
        client.on_subscribe = lambda *_: subscribed.set()
        client.on_connect = lambda c, *_: c.subscribe(command_result_topic(tenant, device_id, command.command_id), 1)
        client.connect(self._settings.broker.host, self._settings.broker.port)
        client.loop_start()
        try:
            if not subscribed.wait(5):
                raise FleetError("cannot subscribe on the broker; check the fleet's broker credentials")
            info = client.publish(command_topic(tenant, device_id, command.command_id), command.model_dump_json(), 1)
            info.wait_for_publish(5)
            if not answered.wait(timeout_s):
                raise FleetError(
                    f"{device_id} did not answer {name!r} within {timeout_s:g} s (is it online? "
                    "`papo-cloud fleet devices`)"
                )
        finally:
            client.disconnect()
            client.loop_stop()
        return results[0]

    def _publish(self, topic: str, payload: str, retain: bool = False) -> None:
        client = new_client(self._settings.broker, "papo-fleet")
        client.connect(self._settings.broker.host, self._settings.broker.port)
        client.loop_start()
        try:
            info = client.publish(topic, payload, qos=1, retain=retain)
            info.wait_for_publish(5)
            if not info.is_published():
                raise FleetError("the broker did not take the message; check the fleet's broker credentials")
        finally:
            client.disconnect()
            client.loop_stop()
