from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from papo_sync.protocol import StageTimings, TurnRecord, sync_ack_topic, sync_up_topic


def _record(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "device_id": "papo-0001",
        "conversation_id": "c1",
        "turn_id": "t1",
        "seq": 1,
        "role": "person",
        "text": "bom dia",
        "language": "pt",
        "started_at": datetime(2026, 11, 27, tzinfo=UTC),
        "audio_duration_s": 1.5,
        "timings": StageTimings(stt_ms=150.0),
    }
    return {**base, **changes}


def test_topics_live_under_the_device_prefix() -> None:
    assert sync_up_topic("acme", "papo-0001") == "papo/v1/acme/papo-0001/sync/up"
    assert sync_ack_topic("acme", "papo-0001") == "papo/v1/acme/papo-0001/sync/ack"


def test_turn_record_round_trips_through_json() -> None:
    record = TurnRecord.model_validate(_record())
    assert TurnRecord.model_validate_json(record.model_dump_json()) == record
    assert record.schema_version == 1


@pytest.mark.parametrize(
    "changes",
    [{"device_id": "papo/../other"}, {"seq": -1}, {"role": "robot"}, {"text": "x" * 5000}, {"extra": 1},
     {"schema_version": 2}],
)  # fmt: skip
def test_bad_records_are_rejected(changes: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        TurnRecord.model_validate(_record(**changes))
