"""Data the database refuses splits a round down to its offenders; a bad item never costs its batch or its round."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from papo_sync.cloud import split
from papo_sync.cloud.decode import PendingAck, Plan, RawMessage, plan
from papo_sync.cloud.inbox import Inbox
from papo_sync.protocol import (
    MAX_BATCH_ITEMS,
    MAX_PAYLOAD_BYTES,
    OutboxItem,
    ReportedState,
    StageTimings,
    SyncAck,
    SyncBatch,
    TurnRecord,
    shadow_update_topic,
    split_items,
    sync_up_topic,
    wire_bytes,
)

RECEIVED = datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)
SAID = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


def _item(seq: int, device_id: str = "dev-1", text: str = "bom dia") -> OutboxItem:
    turn = TurnRecord(
        device_id=device_id, conversation_id="c1", turn_id=f"t{seq}", seq=seq, role="person", text=text,
        language="pt", started_at=SAID, audio_duration_s=1.5, timings=StageTimings(stt_ms=120.0),
    )  # fmt: skip
    return OutboxItem(msg_id=f"m{seq}", seq=seq, kind="turn", turn=turn)


def _up(payload: str | bytes, device_id: str = "dev-1", tenant: str = "acme") -> RawMessage:
    raw = payload.encode() if isinstance(payload, str) else payload
    return RawMessage(sync_up_topic(tenant, device_id), raw, RECEIVED)


def _batch_dict(count: int, device_id: str = "dev-1") -> dict[str, Any]:
    items = [_item(n, device_id) for n in range(count)]
    return json.loads(SyncBatch(device_id=device_id, batch_id="b1", items=items[:1]).model_dump_json()) | {
        "items": [json.loads(i.model_dump_json()) for i in items]
    }


class FakeWriter:
    """Refuses (DataError) any part holding a poisoned msg_id; can be down for a few calls first."""

    def __init__(self, poison: set[str], down: int = 0) -> None:
        self.poison = poison
        self.down = down
        self.calls = 0
        self.stored: list[str] = []

    def __call__(self, part: Plan) -> int:
        self.calls += 1
        if self.down:
            self.down -= 1
            raise psycopg.OperationalError("connection lost")
        ids = [row["msg_id"] for row in part.turns]
        if self.poison & set(ids):
            raise psycopg.errors.NumericValueOutOfRange("bigint out of range")
        self.stored += ids
        return len(ids)


def _round(batches: int, per_batch: int) -> Plan:
    messages = []
    for b in range(batches):
        items = [_item(b * per_batch + n) for n in range(per_batch)]
        messages.append(_up(SyncBatch(device_id="dev-1", batch_id=f"b{b}", items=items).model_dump_json()))
    return plan(messages)


def test_the_offenders_are_split_out_and_everything_else_is_committed_once() -> None:
    whole = _round(4, 100)
    writer = FakeWriter({"m7", "m250", "m399"})

    outcome = split.commit(whole, writer, lambda exc: pytest.fail(f"not transient: {exc}"))

    assert outcome is not None
    assert sorted(u.entry["msg_id"] for u, _ in outcome.refused) == ["m250", "m399", "m7"]
    assert all("NumericValueOutOfRange: bigint out of range" in reason for _, reason in outcome.refused)
    assert sorted(writer.stored) == sorted(f"m{n}" for n in range(400) if n not in (7, 250, 399))
    assert len(outcome.committed.turns) == 397 and outcome.committed.seen == whole.seen
    assert writer.calls < 2 * 3 * 9 + 2  # about 2·k·log2(n) transactions, not one per item


def test_a_clean_round_is_one_transaction() -> None:
    writer = FakeWriter(set())

    outcome = split.commit(_round(2, 50), writer, lambda exc: pytest.fail(str(exc)))

    assert outcome is not None and writer.calls == 1 and outcome.refused == []


def test_a_transient_error_retries_the_same_part_without_splitting_it() -> None:
    writer = FakeWriter(set(), down=3)
    waits: list[BaseException] = []

    outcome = split.commit(_round(1, 10), writer, lambda exc: waits.append(exc) is None)

    assert outcome is not None and len(waits) == 3 and writer.calls == 4
    assert all(isinstance(e, psycopg.OperationalError) for e in waits) and len(writer.stored) == 10


def test_giving_up_on_an_outage_returns_nothing_to_ack() -> None:
    assert split.commit(_round(1, 10), FakeWriter(set(), down=1), lambda exc: False) is None


def test_a_value_psycopg_cannot_send_is_an_offender_too() -> None:
    def writer(part: Plan) -> None:
        if any(row["msg_id"] == "m3" for row in part.turns):
            raise ValueError("Exceeds the limit for integer string conversion")

    outcome = split.commit(_round(1, 8), writer, lambda exc: pytest.fail(str(exc)))

    assert outcome is not None
    assert [(u.entry["msg_id"], r) for u, r in outcome.refused] == [
        ("m3", "cannot be stored: ValueError: Exceeds the limit for integer string conversion")
    ]


def test_refused_items_are_rejected_in_their_batch_ack_and_dead_lettered() -> None:
    whole = _round(2, 3)
    outcome = split.commit(whole, FakeWriter({"m1", "m4"}), lambda exc: False)
    assert outcome is not None

    acks = split.answered(whole.acks, outcome.refused)
    letters = split.dead_letters(outcome.refused, lambda d: sync_up_topic("acme", d))

    assert [(a.ack.acked, [r.msg_id for r in a.ack.rejected]) for a in acks] == [
        (["m0", "m2"], ["m1"]),
        (["m3", "m5"], ["m4"]),
    ]
    assert all(
        r.reason.startswith("refused by the database: NumericValueOutOfRange") for a in acks for r in a.ack.rejected
    )
    assert [(d.topic, d.device_id) for d in letters] == [(sync_up_topic("acme", "dev-1"), "dev-1")] * 2
    assert all(d.reason.startswith("turns: refused by the database") and '"msg_id": "m' in d.payload for d in letters)


def test_acks_without_refusals_are_kept_as_they_are() -> None:
    acks = [PendingAck("acme", "dev-1", SyncAck(batch_id="b", acked=["m1"]))]

    assert split.answered(acks, []) == acks


def test_a_device_only_seen_is_a_unit_and_seen_entries_follow_their_units() -> None:
    whole = plan([_up(_batch_json_with_bad_items(), device_id="dev-2"), _up(_one_batch("dev-1"))])

    whole.seen["dev-3"] = ("acme", RECEIVED)  # seen with nothing else to write

    units = split.units(whole)

    assert [(u.part, u.device_id) for u in units] == [("dead", "dev-2"), ("turns", "dev-1"), ("seen", "dev-3")]
    only_turn = split.assemble(units[1:2], whole.seen)
    assert list(only_turn.seen) == ["dev-1"] and only_turn.acks == []
    assert list(split.assemble(units[2:], whole.seen).seen) == ["dev-3"]


def _one_batch(device_id: str) -> str:
    return SyncBatch(device_id=device_id, batch_id="b1", items=[_item(1, device_id)]).model_dump_json()


def _batch_json_with_bad_items() -> str:
    payload = _batch_dict(1, "dev-2")
    payload["items"][0]["turn"]["stt_model"] = "x" * 10_000
    return json.dumps(payload)


# -- decoding: each bad item is answered on its own


def test_an_invalid_item_is_rejected_alone_and_the_rest_of_its_batch_is_stored() -> None:
    payload = _batch_dict(5)
    payload["items"][1]["turn"]["stt_model"] = "x" * 10_000
    payload["items"][2]["seq"] = 2**63
    payload["items"][3]["turn"]["text"] = "a\u0000b"

    result = plan([_up(json.dumps(payload))])

    assert [row["msg_id"] for row in result.turns] == ["m0", "m4"]
    [pending] = result.acks
    assert pending.ack.acked == ["m0", "m4"]
    reasons = {r.msg_id: r.reason for r in pending.ack.rejected}
    assert set(reasons) == {"m1", "m2", "m3"}
    assert "turn.stt_model" in reasons["m1"] and "seq" in reasons["m2"] and "NUL" in reasons["m3"]
    assert [d.reason.split(":")[0] for d in result.dead] == ["item m1", "item m2", "item m3"]
    assert all("\x00" not in d.payload and len(d.payload) <= 4000 for d in result.dead)


def test_a_batch_over_the_item_limit_is_rejected_whole_in_bounded_acks() -> None:
    result = plan([_up(json.dumps(_batch_dict(1_234)))])

    assert result.turns == [] and len(result.dead) == 1
    assert result.dead[0].reason == f"batch of 1234 items is over the {MAX_BATCH_ITEMS}-item limit"
    assert [len(a.ack.rejected) for a in result.acks] == [500, 500, 234]
    assert {a.ack.batch_id for a in result.acks} == {"b1"}
    assert sum(len(a.ack.model_dump_json()) for a in result.acks) < MAX_PAYLOAD_BYTES


def test_an_oversized_batch_is_dead_lettered_and_every_item_rejected() -> None:
    payload = _batch_dict(3)
    payload["items"][0]["turn"]["text"] = "x" * 10
    raw = json.dumps(payload).encode()
    raw = raw[:-1] + b" " * (MAX_PAYLOAD_BYTES - len(raw) + 1) + b"}"

    result = plan([_up(raw)])

    assert result.turns == [] and result.dead[0].reason.startswith(f"payload of {MAX_PAYLOAD_BYTES + 1} bytes")
    [pending] = result.acks
    assert [r.msg_id for r in pending.ack.rejected] == ["m0", "m1", "m2"] and pending.ack.acked == []


def test_a_topic_with_an_id_no_column_can_hold_is_a_dead_letter_without_device() -> None:
    result = plan([_up(_one_batch("dev-1"), tenant="t" * 65), _up(_one_batch("dev-1"), device_id="d" * 65)])

    assert [(d.device_id, d.reason.split(" ")[0]) for d in result.dead] == [(None, "the"), (None, "the")]
    assert result.seen == {} and result.acks == []


@pytest.mark.parametrize("value", ["NaN", "Infinity", '"a\\u0000b"'])
def test_settings_jsonb_cannot_store_are_a_dead_letter(value: str) -> None:
    payload = f'{{"version": 3, "settings": {{"a": {value}}}}}'.encode()

    result = plan([RawMessage(shadow_update_topic("acme", "dev-1"), payload, RECEIVED)])

    assert result.reported == [] and len(result.dead) == 1


# -- the device side: batches the cloud accepts


def test_split_items_keeps_every_batch_within_the_items_and_bytes_limits() -> None:
    items = [_item(n, text="x" * 3_000) for n in range(1_000)]

    runs = split_items(items, max_bytes=100_000)

    assert [i for run in runs for i in run] == items
    for run in runs:
        batch = SyncBatch(device_id="dev-1", batch_id="f" * 32, items=run)
        assert len(run) <= MAX_BATCH_ITEMS and wire_bytes(batch) <= 100_000


def test_an_item_larger_than_a_batch_goes_alone() -> None:
    items = [_item(0), _item(1, text="x" * 4_000), _item(2)]

    assert [len(run) for run in split_items(items, max_bytes=2_000)] == [1, 1, 1]


# -- the inbox


def _raw(size: int) -> RawMessage:
    return RawMessage("t", b"x" * size, RECEIVED)


def test_the_inbox_drops_qos0_when_full_and_acks_qos1_only_when_a_round_takes_it() -> None:
    inbox = Inbox(max_messages=3, max_bytes=1_000_000)
    acked: list[int] = []
    for n in range(3):
        assert inbox.put(_raw(10), lambda n=n: acked.append(n))  # type: ignore[misc]

    assert not inbox.put(_raw(10), droppable=True)  # QoS 0 past the bound: dropped
    for n in range(3, 6):
        assert inbox.put(_raw(10), lambda n=n: acked.append(n))  # type: ignore[misc]  # QoS 1: up to twice
    assert not inbox.put(_raw(10), lambda: acked.append(99))  # past twice: shed (the caller acks it now)
    assert acked == [] and inbox.dropped == 2 and inbox.high_water == 6

    assert len(inbox.take(2, 0.1, 0.0)) == 2
    assert acked == [0, 1]  # acked once taken: the broker may send the next ones
    assert not inbox.put(_raw(10), droppable=True) and len(inbox) == 4


def test_the_inbox_bounds_the_bytes_of_droppable_messages_and_of_a_round() -> None:
    inbox = Inbox(max_messages=100, max_bytes=1_000)
    assert inbox.put(_raw(600), droppable=True)
    assert not inbox.put(_raw(600), droppable=True)
    assert inbox.put(_raw(600)) and inbox.put(_raw(10))
    assert not inbox.put(_raw(1_000))  # over twice max_bytes

    assert [len(m.payload) for m in inbox.take(10, 0.1, 0.0)] == [600, 600]  # about max_bytes per round
    assert [len(m.payload) for m in inbox.take(10, 0.1, 0.0)] == [10]
    assert inbox.put(_raw(5_000))  # one message alone always fits


def test_taking_from_an_empty_inbox_returns_nothing_after_the_wait() -> None:
    assert Inbox(10, 100).take(5, 0.05, 0.0) == []


def test_reported_state_with_a_huge_restart_list_entry_is_refused() -> None:
    with pytest.raises(ValueError):
        ReportedState(version=1, restart_needed=["x" * 201])


def test_each_bad_item_is_rejected_with_its_own_reason_and_the_rest_kept() -> None:
    body = _batch_dict(4)
    body["items"][1]["seq"] = -1
    body["items"][3]["turn"]["stt_model"] = "m" * 10_000

    result = plan([_up(json.dumps(body))])

    [pending] = result.acks
    assert pending.ack.acked == ["m0", "m2"]
    reasons = {r.msg_id: r.reason for r in pending.ack.rejected}
    assert list(reasons) == ["m1", "m3"]
    assert "seq" in reasons["m1"] and "stt_model" in reasons["m3"]
    assert [t["msg_id"] for t in result.turns] == ["m0", "m2"] and len(result.dead) == 2


def test_two_nuls_in_one_item_and_one_in_another_reject_both_items() -> None:
    body = _batch_dict(4)
    body["items"][0]["turn"]["text"] = "a\u0000b\u0000"
    body["items"][3]["turn"]["conversation_id"] = "c\u0000"

    result = plan([_up(json.dumps(body))])

    [pending] = result.acks
    assert pending.ack.acked == ["m1", "m2"] and [r.msg_id for r in pending.ack.rejected] == ["m0", "m3"]
    assert all("\x00" not in t["text"] + t["conversation_id"] for t in result.turns)


def test_a_nul_in_an_otherwise_valid_batch_rejects_only_its_item() -> None:
    payload = _batch_dict(3)
    payload["items"][2]["turn"]["conversation_id"] = "c\u0000"

    result = plan([_up(json.dumps(payload))])

    [pending] = result.acks
    assert pending.ack.acked == ["m0", "m1"] and [r.msg_id for r in pending.ack.rejected] == ["m2"]
