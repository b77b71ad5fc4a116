"""The cloud takes «estou bem» (a `wellbeing_ok` outbox item) as a row of its own table, acked like any item."""

from __future__ import annotations

from datetime import UTC, datetime

from papo_sync.cloud import schema
from papo_sync.cloud.decode import RawMessage, plan
from papo_sync.cloud.split import units
from papo_sync.protocol import OutboxItem, SyncBatch, WellbeingOk, sync_up_topic

RECEIVED = datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)
SAID = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)


def _up(*items: OutboxItem) -> RawMessage:
    batch = SyncBatch(device_id="dev-1", batch_id="b1", items=list(items))
    return RawMessage(sync_up_topic("acme", "dev-1"), batch.model_dump_json().encode(), RECEIVED)


def test_a_wellbeing_ok_item_becomes_a_row_naming_its_event_and_is_acked() -> None:
    fine = WellbeingOk(msg_id="event-1", said_at=SAID)
    result = plan([_up(OutboxItem(msg_id="m7", seq=7, kind="wellbeing_ok", wellbeing_ok=fine))])
    assert result.dead == []
    [row] = result.wellbeing_ok
    assert tuple(row) == schema.columns(schema.wellbeing_ok)
    assert (row["device_id"], row["msg_id"], row["seq"], row["event_msg_id"]) == ("dev-1", "m7", 7, "event-1")
    assert (row["said_at"], row["received_at"]) == (SAID, RECEIVED)
    [pending] = result.acks
    assert pending.ack.acked == ["m7"] and pending.ack.rejected == []
    assert [u.part for u in units(result)] == ["wellbeing_ok"]


def test_a_wellbeing_ok_item_without_its_update_is_rejected() -> None:
    result = plan([_up(OutboxItem(msg_id="m8", seq=8, kind="wellbeing_ok"))])
    [pending] = result.acks
    assert pending.ack.acked == [] and [r.msg_id for r in pending.ack.rejected] == ["m8"]
    assert "without its update" in pending.ack.rejected[0].reason
