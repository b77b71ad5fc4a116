"""Erasure on the wire and in the ingestor's pure parts: the ack's `erased`, bounds, NUL, confirmations, listing."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from papo_sync.cloud.cli import _erasure_lines, _parser
from papo_sync.cloud.decode import PendingAck, RawMessage, plan
from papo_sync.cloud.erasure import Erasure, confirmations, confirmed, of_plan
from papo_sync.protocol import (
    MAX_BATCH_ITEMS,
    MAX_BIGINT,
    OutboxItem,
    Presence,
    StageTimings,
    SyncAck,
    SyncBatch,
    Tombstone,
    TurnRecord,
    state_topic,
    sync_up_topic,
)

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
TENANT = "acme"


def _turn(seq: int, text: str = "bom dia", device_id: str = "dev-1") -> OutboxItem:
    turn = TurnRecord(
        device_id=device_id, conversation_id="c1", turn_id=f"t{seq}", seq=seq, role="person", text=text,
        language="pt", started_at=AT, audio_duration_s=1.0, timings=StageTimings(),
    )  # fmt: skip
    return OutboxItem(msg_id=f"m{seq}", seq=seq, kind="turn", turn=turn)


def _erase(seq: int, scope: str = "all_history", turn_ids: tuple[str, ...] = ()) -> OutboxItem:
    tombstone = Tombstone.model_validate({"scope": scope, "turn_ids": list(turn_ids), "requested_at": AT})
    return OutboxItem(msg_id=f"e{seq}", seq=seq, kind="tombstone", tombstone=tombstone)


def _up(*items: OutboxItem, device_id: str = "dev-1", batch_id: str = "b1") -> RawMessage:
    batch = SyncBatch(device_id=device_id, batch_id=batch_id, items=list(items))
    return RawMessage(sync_up_topic(TENANT, device_id), batch.model_dump_json().encode(), AT)


# -- the protocol


def test_an_ack_without_erasures_leaves_the_field_out_so_older_devices_still_read_it() -> None:
    plain = SyncAck(batch_id="b1", acked=["m1"])
    assert "erased" not in json.loads(plain.wire())
    assert plain.wire() == SyncAck(batch_id="b1", acked=["m1"]).model_dump_json(exclude={"erased"})

    confirming = SyncAck(batch_id="b1", acked=["m1", "e2"], erased=["e2"])
    assert json.loads(confirming.wire())["erased"] == ["e2"]
    assert SyncAck.model_validate_json(confirming.wire()) == confirming
    assert SyncAck.model_validate_json(plain.wire()).erased == []


def test_an_ack_names_at_most_a_batch_of_erasures() -> None:
    with pytest.raises(ValidationError, match="erased"):
        SyncAck(batch_id="b1", erased=[f"e{n}" for n in range(MAX_BATCH_ITEMS + 1)])
    with pytest.raises(ValidationError, match="erased"):
        SyncAck.model_validate({"batch_id": "b1", "erased": [""]})


@pytest.mark.parametrize(
    "turn_ids", [[""], ["x" * 65], [f"t{n}" for n in range(MAX_BATCH_ITEMS + 1)]], ids=["empty", "long", "many"]
)
def test_a_tombstone_names_turns_as_turns_are_named(turn_ids: list[str]) -> None:
    with pytest.raises(ValidationError, match="turn_ids"):
        Tombstone.model_validate({"scope": "turns", "turn_ids": turn_ids, "requested_at": AT})


def test_numbers_and_names_the_cloud_cannot_store_are_refused_on_the_wire() -> None:
    with pytest.raises(ValidationError, match="seq"):
        _turn(MAX_BIGINT + 1)
    with pytest.raises(ValidationError, match="seq"):
        OutboxItem(msg_id="m1", seq=MAX_BIGINT + 1, kind="tombstone")
    with pytest.raises(ValidationError, match="session_seq"):
        Presence(state="online", session_seq=MAX_BIGINT + 1)
    with pytest.raises(ValidationError, match="stt_model"):
        TurnRecord.model_validate(_turn(1).turn.model_dump() | {"stt_model": "m" * 65})  # type: ignore[union-attr]
    assert _turn(MAX_BIGINT).seq == MAX_BIGINT


# -- decoding


def test_an_item_with_a_nul_character_is_rejected_and_the_rest_of_its_batch_kept() -> None:
    result = plan([_up(_turn(1), _turn(2, text="bo\x00m dia"), _turn(3, text="a \\u0000 written out"))])

    assert [row["msg_id"] for row in result.turns] == ["m1", "m3"]
    [pending] = result.acks
    assert pending.ack.acked == ["m1", "m3"]
    assert [(r.msg_id, r.reason) for r in pending.ack.rejected] == [
        ("m2", "a NUL character (\\u0000) cannot be stored")
    ]
    assert [d.reason for d in result.dead] == ["item m2: a NUL character (\\u0000) cannot be stored"]


def test_a_presence_with_a_nul_character_is_a_dead_letter() -> None:
    payload = Presence(state="online", session_seq=1, version="1\x00").model_dump_json()

    result = plan([RawMessage(state_topic(TENANT, "dev-1"), payload.encode(), AT)])

    assert result.presence == [] and result.seen == {}
    assert [d.reason for d in result.dead] == ["a NUL character (\\u0000) cannot be stored"]


# -- erasures and their confirmation


def test_an_erasure_covers_earlier_items_or_the_listed_turns() -> None:
    everything = Erasure(TENANT, "dev-1", "e5", 5, "all_history", frozenset())
    some = Erasure(TENANT, "dev-1", "e6", 6, "turns", frozenset({"t2"}))

    assert [everything.covers(seq, None) for seq in (4, 5, 6)] == [True, False, False]
    assert everything.covers(None, None)  # an entry without its seq is erased rather than kept
    assert (some.covers(1, "t2"), some.covers(1, "t3"), some.covers(1, None)) == (True, False, False)


def test_the_erasures_of_a_plan_carry_their_tenant_and_turns() -> None:
    result = plan([_up(_turn(1), _erase(2, "turns", ("t1", "t9")), _erase(3))])

    assert of_plan(result) == [
        Erasure(TENANT, "dev-1", "e2", 2, "turns", frozenset({"t1", "t9"})),
        Erasure(TENANT, "dev-1", "e3", 3, "all_history", frozenset()),
    ]


def test_an_ack_confirms_only_its_own_tombstones_that_are_done() -> None:
    acks = [
        PendingAck(TENANT, "dev-1", SyncAck(batch_id="b1", acked=["m1", "e2", "e3"])),
        PendingAck(TENANT, "dev-2", SyncAck(batch_id="b2", acked=["e2"])),
    ]
    done = [Erasure(TENANT, "dev-1", "e2", 2, "all_history", frozenset())]

    result = confirmed(acks, done)

    assert [(p.device_id, p.ack.acked, p.ack.erased) for p in result] == [
        ("dev-1", ["m1", "e2", "e3"], ["e2"]),
        ("dev-2", ["e2"], []),  # the same msg_id from another device is another tombstone
    ]
    assert confirmed(acks, []) == acks


def test_erasures_finished_later_are_confirmed_per_device_in_acks_of_their_own() -> None:
    done = [Erasure(TENANT, "dev-1", f"e{n}", n, "all_history", frozenset()) for n in range(MAX_BATCH_ITEMS + 1)]
    done.append(Erasure("other", "dev-2", "e1", 1, "turns", frozenset({"t1"})))

    acks = confirmations(done)

    assert [(p.tenant, p.device_id, len(p.ack.erased), p.ack.acked) for p in acks] == [
        (TENANT, "dev-1", MAX_BATCH_ITEMS, []),
        (TENANT, "dev-1", 1, []),
        ("other", "dev-2", 1, []),
    ]
    assert len({p.ack.batch_id for p in acks}) == 3
    assert confirmations([]) == []


# -- the listing


def test_the_cli_lists_erasures_for_a_tenant_or_a_device() -> None:
    args = _parser().parse_args(["fleet", "erasures", "--tenant", "acme", "--device", "dev-1", "--json"])

    assert (args.fleet_command, args.tenant, args.device, args.limit, args.json) == (
        "erasures", "acme", "dev-1", 50, True
    )  # fmt: skip


def test_the_erasure_table_says_what_was_erased_and_what_is_still_waiting() -> None:
    rows = [
        {"device_id": "dev-1", "scope": "all_history", "turns": 0, "requested_at": AT, "applied_at": AT,
         "completed_at": None, "late_dropped": 2},
        {"device_id": "dev-2", "scope": "turns", "turns": 3, "requested_at": AT, "applied_at": AT,
         "completed_at": AT, "late_dropped": 0},
    ]  # fmt: skip

    lines = _erasure_lines(rows)

    assert lines[0] == "times in UTC"
    assert lines[2].split() == [
        "dev-1",
        "everything",
        "2026-11-30",
        "09:00:00",
        "2026-11-30",
        "09:00:00",
        "waiting",
        "2",
    ]
    assert lines[3].split()[:3] == ["dev-2", "3", "turn(s)"] and lines[3].split()[-3:] == [
        "2026-11-30",
        "09:00:00",
        "0",
    ]
    assert _erasure_lines([]) == ["no erasure requests"]
