"""The ingestor's batch planner, a pure function: raw MQTT messages in, rows, acks and dead letters out."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from papo_sync.cloud import schema
from papo_sync.cloud.decode import DeadLetter, Plan, RawMessage, plan
from papo_sync.protocol import (
    MAX_PAYLOAD_BYTES,
    CommandResult,
    OutboxItem,
    Presence,
    ReportedState,
    StageTimings,
    SyncAck,
    SyncBatch,
    Telemetry,
    Tombstone,
    TurnRecord,
    WellbeingRecord,
    command_result_topic,
    shadow_update_topic,
    state_topic,
    sync_up_topic,
    telemetry_topic,
)

RECEIVED = datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)  # far from now: any clock read would show
SAID = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
TENANT = "acme"


def _turn_item(seq: int, device_id: str = "dev-1", text: str = "bom dia") -> OutboxItem:
    turn = TurnRecord(
        device_id=device_id, conversation_id="c1", turn_id=f"t{seq}", seq=seq, role="person", text=text,
        language="pt", started_at=SAID, audio_duration_s=1.5, timings=StageTimings(stt_ms=120.0),
        stt_model="whisper-base",
    )  # fmt: skip
    return OutboxItem(msg_id=f"m{seq}", seq=seq, kind="turn", turn=turn)


def _wellbeing_item(seq: int) -> OutboxItem:
    event = WellbeingRecord(kind="fall", severity="high", evidence="caí", source="rules", turn_id="t1", created_at=SAID)
    return OutboxItem(msg_id=f"m{seq}", seq=seq, kind="wellbeing", wellbeing=event)


def _tombstone_item(seq: int) -> OutboxItem:
    erase = Tombstone(scope="turns", turn_ids=["t1", "t2"], requested_at=SAID)
    return OutboxItem(msg_id=f"m{seq}", seq=seq, kind="tombstone", tombstone=erase)


def _batch(*items: OutboxItem, device_id: str = "dev-1", batch_id: str = "b1") -> str:
    return SyncBatch(device_id=device_id, batch_id=batch_id, items=list(items)).model_dump_json()


def _message(topic: str, payload: str | bytes) -> RawMessage:
    return RawMessage(topic, payload.encode() if isinstance(payload, str) else payload, RECEIVED)


def _up(payload: str | bytes, device_id: str = "dev-1") -> RawMessage:
    return _message(sync_up_topic(TENANT, device_id), payload)


def _only_dead(result: Plan) -> DeadLetter:
    assert len(result.dead) == 1, result.dead
    return result.dead[0]


def test_a_valid_batch_becomes_rows_and_one_ack_of_every_item() -> None:
    result = plan([_up(_batch(_turn_item(1), _wellbeing_item(2), _tombstone_item(3)))])

    assert result.turns == [
        {
            "device_id": "dev-1", "msg_id": "m1", "seq": 1, "conversation_id": "c1", "turn_id": "t1",
            "role": "person", "text": "bom dia", "language": "pt", "started_at": SAID, "audio_duration_s": 1.5,
            "timings": StageTimings(stt_ms=120.0).model_dump_json(), "stt_model": "whisper-base",
            "llm_model": None, "reply_to": None, "interrupted": False, "received_at": RECEIVED,
        }
    ]  # fmt: skip
    assert result.wellbeing == [
        {
            "device_id": "dev-1", "msg_id": "m2", "seq": 2, "kind": "fall", "severity": "high", "evidence": "caí",
            "source": "rules", "turn_id": "t1", "created_at": SAID, "received_at": RECEIVED,
        }
    ]  # fmt: skip
    assert result.tombstones == [
        {
            "device_id": "dev-1", "msg_id": "m3", "seq": 3, "scope": "turns", "turn_ids": '["t1", "t2"]',
            "requested_at": SAID, "applied_at": RECEIVED, "completed_at": None, "late_dropped": 0,
        }
    ]  # fmt: skip
    assert [(a.tenant, a.device_id, a.ack) for a in result.acks] == [
        (TENANT, "dev-1", SyncAck(batch_id="b1", acked=["m1", "m2", "m3"]))
    ]
    assert result.seen == {"dev-1": (TENANT, RECEIVED)}
    assert result.dead == []


def test_rows_carry_exactly_the_columns_of_their_tables() -> None:
    result = plan([_up(_batch(_turn_item(1), _wellbeing_item(2), _tombstone_item(3)))])

    assert tuple(result.turns[0]) == schema.columns(schema.turn)
    assert tuple(result.wellbeing[0]) == schema.columns(schema.wellbeing_event)
    assert tuple(result.tombstones[0]) == schema.columns(schema.tombstone)


def test_a_redelivered_batch_is_acked_again_with_the_same_keys_so_the_upsert_stores_it_once() -> None:
    payload = _batch(_turn_item(1), _turn_item(2))

    result = plan([_up(payload), _up(payload)])

    assert [(r["device_id"], r["msg_id"]) for r in result.turns] == [("dev-1", "m1"), ("dev-1", "m2")] * 2
    assert result.turns[:2] == result.turns[2:]
    assert [a.ack.acked for a in result.acks] == [["m1", "m2"], ["m1", "m2"]]
    assert result.dead == []


def test_duplicate_msg_ids_in_one_batch_are_each_acked_and_share_one_key() -> None:
    first, again = _turn_item(1), _turn_item(1, text="outra coisa")

    result = plan([_up(_batch(first, again))])

    assert [r["msg_id"] for r in result.turns] == ["m1", "m1"]
    assert result.acks[0].ack.acked == ["m1", "m1"]


def test_bad_json_is_a_dead_letter_and_nothing_is_acked_or_seen() -> None:
    broken = '{"device_id": "dev-1", "items": ['

    result = plan([_up(broken)])

    dead = _only_dead(result)
    assert dead.reason.startswith("not JSON:")
    assert (dead.topic, dead.device_id, dead.payload) == (sync_up_topic(TENANT, "dev-1"), "dev-1", broken)
    assert result.acks == [] and result.turns == [] and result.seen == {}


def test_bytes_that_are_not_utf8_are_kept_readable_in_the_dead_letter() -> None:
    dead = _only_dead(plan([_up(b"\xff\xfe{")]))

    assert dead.reason.startswith("not JSON:")
    assert dead.payload == "\ufffd\ufffd{"


def test_a_wrong_schema_version_is_a_dead_letter_naming_the_field() -> None:
    payload = json.loads(_batch(_turn_item(1)))
    payload["schema_version"] = 2

    dead = _only_dead(plan([_up(json.dumps(payload))]))

    assert dead.reason.startswith("invalid payload: schema_version: Input should be 1")
    assert dead.reason.endswith("(1 problem(s))")


def test_an_invalid_payload_counts_its_problems() -> None:
    payload = {"device_id": "dev-1", "batch_id": "b1", "items": [], "surprise": True}

    dead = _only_dead(plan([_up(json.dumps(payload))]))

    assert dead.reason.startswith("invalid payload: items: List should have at least 1 item")
    assert dead.reason.endswith("(2 problem(s))")


def test_an_oversized_payload_is_a_dead_letter_without_being_parsed_and_is_kept_truncated() -> None:
    payload = b"x" * (MAX_PAYLOAD_BYTES + 1)

    result = plan([_up(payload)])

    dead = _only_dead(result)
    assert dead.reason == f"payload of {MAX_PAYLOAD_BYTES + 1} bytes is over the {MAX_PAYLOAD_BYTES}-byte limit"
    assert dead.payload == "x" * 4000
    assert result.seen == {}


def test_a_payload_of_exactly_the_limit_is_parsed() -> None:
    dead = _only_dead(plan([_up(b" " * MAX_PAYLOAD_BYTES)]))

    assert dead.reason.startswith("not JSON:")


def test_a_topic_outside_papo_v1_and_an_unknown_kind_are_dead_letters() -> None:
    result = plan([_message("other/acme/dev-1/sync/up", "{}"), _message("papo/v1/acme/dev-1/gossip", "{}")])

    assert [(d.device_id, d.reason) for d in result.dead] == [
        (None, "not a papo/v1 device topic"),
        ("dev-1", "unknown message kind 'gossip'"),
    ]
    assert result.seen == {}


def test_a_batch_naming_another_device_is_rejected_whole_and_dead_lettered() -> None:
    result = plan([_up(_batch(_turn_item(1, device_id="dev-2"), _turn_item(2, device_id="dev-2"), device_id="dev-2"))])

    dead = _only_dead(result)
    assert (dead.device_id, dead.reason) == ("dev-1", "payload names device 'dev-2' but was published by 'dev-1'")
    assert result.turns == []
    [pending] = result.acks
    assert (pending.device_id, pending.ack.acked) == ("dev-1", [])
    assert [(r.msg_id, r.reason) for r in pending.ack.rejected] == [
        ("m1", "device_id does not match the publisher"),
        ("m2", "device_id does not match the publisher"),
    ]


def test_a_turn_naming_another_device_is_rejected_while_the_rest_of_its_batch_is_stored() -> None:
    result = plan([_up(_batch(_turn_item(1), _turn_item(2, device_id="dev-2"), _turn_item(3)))])

    assert [r["msg_id"] for r in result.turns] == ["m1", "m3"]
    [pending] = result.acks
    assert pending.ack.acked == ["m1", "m3"]
    assert [(r.msg_id, r.reason) for r in pending.ack.rejected] == [("m2", "turn names device 'dev-2'")]
    assert _only_dead(result).reason == "item m2: turn names device 'dev-2'"


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("turn", "a turn item without its turn"),
        ("wellbeing", "a wellbeing item without its event"),
        ("tombstone", "a tombstone item without its tombstone"),
    ],
)
def test_an_item_without_its_body_is_rejected(kind: str, reason: str) -> None:
    empty = OutboxItem(msg_id="m9", seq=9, kind=kind)  # type: ignore[arg-type]

    result = plan([_up(_batch(_turn_item(1), empty))])

    assert result.acks[0].ack.acked == ["m1"]
    assert [(r.msg_id, r.reason) for r in result.acks[0].ack.rejected] == [("m9", reason)]
    assert _only_dead(result).reason == f"item m9: {reason}"


def test_presence_telemetry_shadow_and_command_results_go_to_their_own_lists() -> None:
    presence = Presence(state="online", session_seq=7, version="0.1.0")
    telemetry = Telemetry(at=SAID, cpu_pct=3.0, memory_pct=40.0, disk_pct=20.0, version="0.1.0", outbox_depth=2)
    reported = ReportedState(version=3, settings={"conversation": {"follow_up_s": 30}}, restart_needed=["stt"])
    result_ = CommandResult(command_id="cmd1", ok=True, detail="pong")

    result = plan([
        _message(state_topic(TENANT, "dev-1"), presence.model_dump_json()),
        _message(telemetry_topic(TENANT, "dev-2"), telemetry.model_dump_json()),
        _message(shadow_update_topic(TENANT, "dev-3"), reported.model_dump_json()),
        _message(command_result_topic(TENANT, "dev-4", "cmd1"), result_.model_dump_json()),
    ])  # fmt: skip

    assert result.presence == [(TENANT, "dev-1", presence, RECEIVED)]
    assert result.telemetry == [(TENANT, "dev-2", telemetry, RECEIVED)]
    assert result.reported == [("dev-3", reported, RECEIVED)]
    assert result.results == [("dev-4", result_, RECEIVED)]
    assert result.seen == {d: (TENANT, RECEIVED) for d in ("dev-1", "dev-2", "dev-3", "dev-4")}
    assert (result.turns, result.wellbeing, result.tombstones, result.acks, result.dead) == ([], [], [], [], [])


def test_an_invalid_presence_is_a_dead_letter_and_its_device_is_not_seen() -> None:
    result = plan([_message(state_topic(TENANT, "dev-1"), '{"state": "asleep", "session_seq": 1}')])

    assert _only_dead(result).reason.startswith("invalid payload: state: Input should be 'online' or 'offline'")
    assert result.presence == [] and result.seen == {}


def test_one_bad_message_does_not_spoil_the_others_and_the_order_is_kept() -> None:
    result = plan([
        _up(_batch(_turn_item(1), batch_id="b1")),
        _up(b"nope"),
        _up(_batch(_turn_item(2, device_id="dev-2"), device_id="dev-2", batch_id="b2"), device_id="dev-2"),
    ])  # fmt: skip

    assert [(a.device_id, a.ack.batch_id, a.ack.acked) for a in result.acks] == [
        ("dev-1", "b1", ["m1"]),
        ("dev-2", "b2", ["m2"]),
    ]
    assert [(r["device_id"], r["msg_id"]) for r in result.turns] == [("dev-1", "m1"), ("dev-2", "m2")]
    assert _only_dead(result).reason.startswith("not JSON:")


def test_the_plan_depends_only_on_the_messages() -> None:
    messages = [
        _up(_batch(_turn_item(1), _wellbeing_item(2))),
        _up(b"{"),
        _message(state_topic(TENANT, "dev-1"), Presence(state="offline", session_seq=1).model_dump_json()),
    ]

    first, second = plan(messages), plan(list(messages))

    assert first == second
    assert plan([]) == Plan()
