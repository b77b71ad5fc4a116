"""Tenancy on the ingest path: a device's messages count only under the tenant it was enrolled in.

The broker's ACL already confines each device to `papo/v1/{its tenant}/{its id}/`; this is the second wall,
for a broker misconfigured or an ACL edited by hand. The ingestor screens each round before planning it:

    kept, refused = screen(messages, enrolments.tenant_of)
    round = plan(kept); round.dead.extend(refused)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg.rows import tuple_row

from papo_sync.cloud.decode import DeadLetter, RawMessage
from papo_sync.cloud.schema import enrolment, sql
from papo_sync.protocol import parse_topic

_ENROLLED = sql(
    sa.select(enrolment.c.device_id, enrolment.c.tenant).where(enrolment.c.revoked_at.is_(None)), literal=True
)
_PAYLOAD_KEPT = 4000  # characters of a refused payload kept in its dead letter


def tenant_allowed(enrolled_tenant: str | None, topic_tenant: str) -> bool:
    """Whether a device enrolled in `enrolled_tenant` (None: not enrolled) may publish under `topic_tenant`."""
    return enrolled_tenant is not None and enrolled_tenant == topic_tenant


def refusal(device_id: str, enrolled_tenant: str | None, topic_tenant: str) -> str | None:
    """Why a device's message under `topic_tenant` is refused, or None when it is allowed."""
    if tenant_allowed(enrolled_tenant, topic_tenant):
        return None
    if enrolled_tenant is None:
        return f"device {device_id!r} is not enrolled (papo-cloud devices add)"
    return f"topic tenant {topic_tenant!r} is not {device_id!r}'s enrolled tenant {enrolled_tenant!r}"


def screen(
    messages: Iterable[RawMessage], tenant_of: Callable[[str], str | None]
) -> tuple[list[RawMessage], list[DeadLetter]]:
    """Split messages into those to plan and dead letters for those under a tenant not their device's.

    Messages on other topics are kept: planning dead-letters them with its own reason.
    """
    kept: list[RawMessage] = []
    refused: list[DeadLetter] = []
    for message in messages:
        parsed = parse_topic(message.topic)
        reason = None if parsed is None else refusal(parsed[1], tenant_of(parsed[1]), parsed[0])
        if reason is None:
            kept.append(message)
        else:
            text = message.payload[:_PAYLOAD_KEPT].decode("utf-8", errors="replace").replace("\x00", "\ufffd")
            refused.append(DeadLetter(message.topic, parsed[1] if parsed else None, reason, text))
    return kept, refused


class Enrolments:
    """The enrolled devices' tenants, read from PostgreSQL (a connection of its own) and again for unknown devices.

    A device enrolled while the ingestor runs is found at its first message; unknown devices make at most one
    read every `min_reload_s` seconds. While PostgreSQL is unreachable the last enrolments read are used.
    """

    def __init__(self, database_url: str, min_reload_s: float = 1.0) -> None:
        self._database_url = database_url
        self._connection: psycopg.Connection[Any] | None = None
        self._min_reload_s = min_reload_s
        self._tenants: dict[str, str] = {}
        self._loaded_at = float("-inf")

    def reload(self) -> None:
        """Read the enrolments now (psycopg.OperationalError if PostgreSQL cannot be reached)."""
        self._loaded_at = time.monotonic()
        try:
            if self._connection is None or self._connection.closed:
                self._connection = psycopg.connect(self._database_url, autocommit=True, connect_timeout=5)
            with self._connection.cursor(row_factory=tuple_row) as cursor:
                rows = cursor.execute(_ENROLLED).fetchall()
        except psycopg.OperationalError:
            self.close()
            raise
        self._tenants = {str(device): str(tenant) for device, tenant in rows}

    def close(self) -> None:
        """Close the connection (the next read opens another)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def tenant_of(self, device_id: str) -> str | None:
        """The tenant `device_id` is enrolled in; None when it is not enrolled (or revoked)."""
        tenant = self._tenants.get(device_id)
        if tenant is None and time.monotonic() - self._loaded_at >= self._min_reload_s:
            try:
                self.reload()
            except psycopg.OperationalError:
                return None  # refused now; the device sends it again (no ack), after PostgreSQL is back
            tenant = self._tenants.get(device_id)
        return tenant
