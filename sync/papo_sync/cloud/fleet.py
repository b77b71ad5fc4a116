"""The fleet service: devices, turns and erasures from PostgreSQL, versioned desired state and commands over MQTT."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from psycopg.rows import dict_row

from papo_sync.cloud.keys import FleetKeyError, fleet_key
from papo_sync.cloud.mqtt import new_client
from papo_sync.cloud.schema import (
    desired_state,
    device,
    device_command,
    reported_state,
    sql,
    tombstone,
    turn,
    upsert,
)
from papo_sync.cloud.settings import CloudSettings
from papo_sync.protocol import (
    Command,
    CommandName,
    CommandResult,
    DesiredState,
    command_result_topic,
    command_topic,
    merge_settings,
    shadow_delta_topic,
)
from papo_sync.signing import sign_command, sign_desired

_DEVICE: sa.BindParameter[str] = sa.bindparam("device_id")
_DEVICES = sql(
    sa.select(
        device.c.device_id, device.c.tenant, device.c.presence, device.c.session_seq, device.c.version,
        device.c.last_seen, device.c.last_sync_at, device.c.outbox_depth,
        desired_state.c.version.label("desired_version"), reported_state.c.version.label("reported_version"),
        device.c.telemetry["health"].astext.label("health"),
        device.c.telemetry["health_reasons"].label("health_reasons"),
    )
    .select_from(
        device.outerjoin(desired_state, desired_state.c.device_id == device.c.device_id)
        .outerjoin(reported_state, reported_state.c.device_id == device.c.device_id)
    )
    .order_by(device.c.device_id),
    literal=True,  # the JSON keys of the telemetry, inline
)  # fmt: skip
_TURNS = sql(
    sa.select(
        turn.c.seq, turn.c.turn_id, turn.c.conversation_id, turn.c.role, turn.c.text, turn.c.language,
        turn.c.started_at, turn.c.timings,
    )
    .where(turn.c.device_id == _DEVICE)
    .order_by(turn.c.seq.desc())
    .limit(sa.bindparam("limit"))
)  # fmt: skip
_ERASURES = sql(
    sa.select(
        tombstone.c.device_id, device.c.tenant, tombstone.c.msg_id, tombstone.c.scope,
        sa.func.jsonb_array_length(tombstone.c.turn_ids).label("turns"), tombstone.c.requested_at,
        tombstone.c.applied_at, tombstone.c.completed_at, tombstone.c.late_dropped,
    )
    .select_from(tombstone.outerjoin(device, device.c.device_id == tombstone.c.device_id))
    .where(
        sa.or_(sa.cast(sa.bindparam("tenant"), sa.String).is_(None), device.c.tenant == sa.bindparam("tenant")),
        sa.or_(sa.cast(_DEVICE, sa.String).is_(None), tombstone.c.device_id == _DEVICE),
    )
    .order_by(tombstone.c.requested_at.desc(), tombstone.c.device_id, tombstone.c.seq.desc())
    .limit(sa.bindparam("limit"))
)  # fmt: skip
_TENANT = sql(sa.select(device.c.tenant).where(device.c.device_id == _DEVICE))
_GROUP = sql(
    sa.select(device.c.device_id).where(device.c.tenant == sa.bindparam("tenant")).order_by(device.c.device_id)
)
_DESIRED_VERSION = sql(sa.select(desired_state.c.version).where(desired_state.c.device_id == _DEVICE).with_for_update())
_APPLIED = sql(sa.select(reported_state.c.settings).where(reported_state.c.device_id == _DEVICE))
_NEW_COMMAND = sql(
    sa.insert(device_command).values(created_at=sa.func.now()), values=("command_id", "device_id", "name", "args")
)
_DESIRE = upsert(
    desired_state,
    ("device_id", "version", "settings"),
    lambda new: {"version": new.version, "settings": new.settings, "updated_at": new.updated_at},
    updated_at=sa.func.now(),
)


class FleetError(Exception):
    """A fleet request that cannot be done; the message says why."""


class Fleet:
    """Reads the fleet's state and sends it configuration and commands, signed by the fleet's key."""

    def __init__(self, settings: CloudSettings) -> None:
        self._settings = settings
        self._key: Ed25519PrivateKey | None = None
        try:
            self._db = psycopg.connect(settings.database_url, autocommit=True, row_factory=dict_row, connect_timeout=5)
        except psycopg.OperationalError as exc:
            raise FleetError(f"cannot reach the database: {str(exc).strip()}") from None

    def close(self) -> None:
        """Release the database connection."""
        self._db.close()

    def _signing_key(self) -> Ed25519PrivateKey:
        """The fleet's signing key, read when first needed (listing devices needs none)."""
        if self._key is None:
            try:
                self._key = fleet_key(self._settings.fleet_signing_key)
            except FleetKeyError as exc:
                raise FleetError(str(exc)) from None
        return self._key

    def devices(self) -> list[dict[str, Any]]:
        """Every device: presence, version, last seen, outbox depth, desired/applied configuration, health."""
        return list(self._db.execute(_DEVICES).fetchall())

    def turns(self, device_id: str, limit: int = 20) -> list[dict[str, Any]]:
        """The device's latest synced turns, in the device's order."""
        rows = self._db.execute(_TURNS, {"device_id": device_id, "limit": limit}).fetchall()
        return list(reversed(rows))

    def erasures(
        self, tenant: str | None = None, device_id: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """Erasure requests, newest first: device, scope, when asked / applied / completed, late items dropped."""
        rows = self._db.execute(_ERASURES, {"tenant": tenant, "device_id": device_id, "limit": limit}).fetchall()
        return list(rows)

    def _tenant(self, device_id: str) -> str:
        row = self._db.execute(_TENANT, {"device_id": device_id}).fetchone()
        if row is None:
            raise FleetError(f"unknown device {device_id!r}; see `papo-cloud fleet devices`")
        return str(row["tenant"])

    def group(self, group: str) -> list[str]:
        """Devices of a group (a tenant)."""
        rows = self._db.execute(_GROUP, {"tenant": group})
        return [str(r["device_id"]) for r in rows.fetchall()]

    def set_config(self, device_id: str, changes: dict[str, Any], expected_version: int | None = None) -> DesiredState:
        """Merge `changes` into the settings the device last accepted, as a new version; publish it (retained)."""
        tenant = self._tenant(device_id)
        key = self._signing_key()
        with self._db.transaction():
            row = self._db.execute(_DESIRED_VERSION, {"device_id": device_id}).fetchone()
            applied = self._db.execute(_APPLIED, {"device_id": device_id}).fetchone()
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
                _DESIRE, {"device_id": device_id, "version": desired.version, "settings": json.dumps(merged)}
            )
        ttl = timedelta(seconds=self._settings.desired_ttl_s)
        signed = sign_desired(desired, tenant, device_id, key, datetime.now(UTC), ttl)
        self._publish(shadow_delta_topic(tenant, device_id), signed.model_dump_json(), retain=True)
        return desired

    def command(self, device_id: str, name: CommandName, args: dict[str, Any], timeout_s: float) -> CommandResult:
        """Send a command and wait for its result; FleetError if none comes within `timeout_s`."""
        tenant = self._tenant(device_id)
        key = self._signing_key()
        now = datetime.now(UTC)
        command = Command(
            command_id=uuid.uuid4().hex, name=name, args=args, expires_at=now + timedelta(seconds=timeout_s),
        )  # fmt: skip
        signed = sign_command(command, tenant, device_id, key, now)
        self._db.execute(
            _NEW_COMMAND,
            {"command_id": command.command_id, "device_id": device_id, "name": command.name.value,
             "args": json.dumps(args)},
        )  # fmt: skip
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
            info = client.publish(command_topic(tenant, device_id, command.command_id), signed.model_dump_json(), 1)
            info.wait_for_publish(5)
            if not answered.wait(timeout_s):
                raise FleetError(
                    f"{device_id} did not answer {command.name.value!r} within {timeout_s:g} s (is it online? "
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
