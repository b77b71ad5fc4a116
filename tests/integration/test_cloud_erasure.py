"""Erasing in the cloud over a real Mosquitto, PostgreSQL and Redis: what a tombstone erases, what it spares,
what arrives too late, and that the device hears of it only once Redis is clean too."""

from __future__ import annotations

import json
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from papo_sync.cloud import cli, erasure, store
from papo_sync.cloud.decode import RawMessage, plan
from papo_sync.cloud.ingest import Ingestor
from papo_sync.cloud.live import LiveView
from papo_sync.cloud.settings import CloudSettings
from papo_sync.device.agent import AgentConfig, SyncAgent
from papo_sync.protocol import (
    OutboxItem,
    StageTimings,
    SyncBatch,
    Tombstone,
    TurnRecord,
    WellbeingRecord,
    sync_up_topic,
)
from support.broker import Broker, device_password, free_port
from support.sync_agent_fakes import MemoryOutbox
from support.wait import wait_until

pytestmark = pytest.mark.services

TENANT = "acme"
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
WAIT_S = 30.0


def _turn(device_id: str, seq: int) -> OutboxItem:
    record = TurnRecord(
        device_id=device_id, conversation_id="c1", turn_id=f"t-{seq}", seq=seq, role="person",
        text=f"{device_id} frase {seq}", language="pt", started_at=T0, audio_duration_s=1.0, timings=StageTimings(),
    )  # fmt: skip
    return OutboxItem(msg_id=f"m-{device_id}-{seq}", seq=seq, kind="turn", turn=record)


def _event(device_id: str, seq: int, turn_id: str | None) -> OutboxItem:
    event = WellbeingRecord(kind="pain", severity="medium", evidence=f"{device_id} dor {seq}", source="rules",
                            turn_id=turn_id, created_at=T0)  # fmt: skip
    return OutboxItem(msg_id=f"w-{device_id}-{seq}", seq=seq, kind="wellbeing", wellbeing=event)


def _erase(device_id: str, seq: int, scope: str = "all_history", turn_ids: tuple[str, ...] = ()) -> OutboxItem:
    tombstone = Tombstone.model_validate({"scope": scope, "turn_ids": list(turn_ids), "requested_at": T0})
    return OutboxItem(msg_id=f"e-{device_id}-{seq}", seq=seq, kind="tombstone", tombstone=tombstone)


class ListOutbox(MemoryOutbox):
    """An in-memory OutboxSource the test fills; it keeps the erasures the cloud confirmed."""

    def __init__(self) -> None:
        super().__init__(0)
        self._sent_tombstones: set[str] = set()

    def add(self, *items: OutboxItem) -> None:
        with self._lock:
            self._rows.update({item.msg_id: item for item in items})
            self._sent_tombstones.update(item.msg_id for item in items if item.kind == "tombstone")

    def confirm_erasures(self, msg_ids: list[str]) -> int:
        with self._lock:
            self.confirmed.extend(msg_ids)
            return len(self._sent_tombstones.intersection(msg_ids))


@pytest.fixture
def devices(broker: Broker) -> Iterator[Callable[[str], tuple[SyncAgent, ListOutbox]]]:
    """Start a device agent (on an in-memory outbox) per device id asked for; stop them all at the end."""
    started: list[SyncAgent] = []

    def start(device_id: str) -> tuple[SyncAgent, ListOutbox]:
        config = AgentConfig(host="127.0.0.1", port=broker.port, tenant=TENANT, device_id=device_id,
                             username=device_id, password=device_password(device_id), ack_timeout_s=5.0)  # fmt: skip
        outbox = ListOutbox()
        agent = SyncAgent(config, outbox, session_seq=1)
        agent.start()
        started.append(agent)
        return agent, outbox

    yield start
    for agent in started:
        agent.stop()


def _sync(agent: SyncAgent, outbox: ListOutbox, *items: OutboxItem) -> None:
    outbox.add(*items)
    agent.nudge()
    assert agent.wait_until_drained(WAIT_S)


def _column(db: psycopg.Connection[Any], query: str, *params: Any) -> list[Any]:
    return [row[0] for row in db.execute(query, params)]


def _turns(db: psycopg.Connection[Any], device_id: str) -> list[int]:
    return _column(db, "SELECT seq FROM turn WHERE device_id = %s ORDER BY seq", device_id)


def _events(db: psycopg.Connection[Any], device_id: str) -> list[int]:
    return _column(db, "SELECT seq FROM wellbeing_event WHERE device_id = %s ORDER BY seq", device_id)


def _dead(db: psycopg.Connection[Any]) -> list[tuple[str | None, str]]:
    return [(r[0], r[1]) for r in db.execute("SELECT device_id, payload FROM dead_letter ORDER BY id")]


def _add_dead_letters(db: psycopg.Connection[Any], *letters: tuple[str | None, str]) -> None:
    for device_id, payload in letters:
        db.execute(
            "INSERT INTO dead_letter (received_at, topic, device_id, reason, payload) VALUES (now(), %s, %s, %s, %s)",
            (f"papo/v1/{TENANT}/{device_id}/telemetry", device_id, "invalid payload", payload),
        )


def _stream(live: redis.Redis, settings: CloudSettings, device_id: str) -> list[tuple[int, str]]:
    entries = live.xrange(f"{settings.redis_prefix}:live:{device_id}")
    return [(int(fields[b"seq"]), fields[b"turn_id"].decode()) for _, fields in entries]


def _tombstone(db: psycopg.Connection[Any], msg_id: str) -> tuple[Any, ...]:
    row = db.execute("SELECT completed_at, late_dropped FROM tombstone WHERE msg_id = %s", (msg_id,)).fetchone()
    assert row is not None, msg_id
    return tuple(row)


def test_erasing_all_history_empties_the_device_in_postgresql_and_redis_and_spares_other_devices(
    devices: Callable[[str], tuple[SyncAgent, ListOutbox]],
    ingestor: Ingestor,
    cloud: CloudSettings,
    db: psycopg.Connection[Any],
) -> None:
    (agent, outbox), (other, other_outbox) = devices("dev-1"), devices("dev-2")
    _sync(agent, outbox, *(_turn("dev-1", n) for n in range(1, 5)), _event("dev-1", 5, "t-2"), _event("dev-1", 6, None))
    _sync(other, other_outbox, _turn("dev-2", 1), _turn("dev-2", 2), _event("dev-2", 3, "t-2"))
    _add_dead_letters(db, ("dev-1", "{bad t-1"), ("dev-1", "{bad"), ("dev-2", "{bad t-1"), (None, "{bad dev-1"))
    live = redis.Redis.from_url(cloud.redis_url)
    assert [seq for seq, _ in _stream(live, cloud, "dev-1")] == [1, 2, 3, 4]

    _sync(agent, outbox, _erase("dev-1", 7), _turn("dev-1", 8))  # and a turn said after the erasure
    wait_until(lambda: outbox.confirmed, WAIT_S, "the confirmation of the erasure")

    assert outbox.confirmed == ["e-dev-1-7"]
    assert (_turns(db, "dev-1"), _events(db, "dev-1")) == ([8], [])
    assert (_turns(db, "dev-2"), _events(db, "dev-2")) == ([1, 2], [3])
    assert _dead(db) == [("dev-2", "{bad t-1"), (None, "{bad dev-1")]
    assert _stream(live, cloud, "dev-1") == [(8, "t-8")]
    assert _stream(live, cloud, "dev-2") == [(1, "t-1"), (2, "t-2")]
    assert json.loads(live.hget(f"{cloud.redis_prefix}:presence", "dev-1") or b"{}")["state"] == "online"
    completed_at, late = _tombstone(db, "e-dev-1-7")
    assert completed_at is not None and late == 0
    live.close()


def test_erasing_some_turns_erases_them_their_events_and_the_dead_letters_naming_them(
    devices: Callable[[str], tuple[SyncAgent, ListOutbox]],
    ingestor: Ingestor,
    cloud: CloudSettings,
    db: psycopg.Connection[Any],
) -> None:
    agent, outbox = devices("dev-1")
    _sync(agent, outbox, *(_turn("dev-1", n) for n in range(1, 5)), _event("dev-1", 5, "t-2"),
          _event("dev-1", 6, "t-3"), _event("dev-1", 7, None))  # fmt: skip
    _add_dead_letters(db, ("dev-1", '{"turn_id": "t-2", "x": 1'), ("dev-1", "{bad"), ("dev-2", '{"turn_id": "t-2"'))

    _sync(agent, outbox, _erase("dev-1", 8, "turns", ("t-2", "t-4", "t-99")))
    wait_until(lambda: outbox.confirmed, WAIT_S, "the confirmation of the erasure")

    assert outbox.confirmed == ["e-dev-1-8"]
    assert (_turns(db, "dev-1"), _events(db, "dev-1")) == ([1, 3], [6, 7])
    assert _dead(db) == [("dev-1", "{bad"), ("dev-2", '{"turn_id": "t-2"')]
    live = redis.Redis.from_url(cloud.redis_url)
    assert _stream(live, cloud, "dev-1") == [(1, "t-1"), (3, "t-3")]
    live.close()


def test_items_arriving_after_their_erasure_are_dropped_counted_and_never_streamed(
    devices: Callable[[str], tuple[SyncAgent, ListOutbox]],
    ingestor: Ingestor,
    cloud: CloudSettings,
    db: psycopg.Connection[Any],
) -> None:
    agent, outbox = devices("dev-1")
    _sync(agent, outbox, _erase("dev-1", 10))
    wait_until(lambda: outbox.confirmed, WAIT_S, "the confirmation of the erasure")

    # older messages still in flight when the person erased everything, and one said afterwards
    _sync(agent, outbox, _turn("dev-1", 5), _event("dev-1", 6, "t-5"), _turn("dev-1", 11))

    assert (_turns(db, "dev-1"), _events(db, "dev-1")) == ([11], [])
    assert _tombstone(db, "e-dev-1-10")[1] == 2
    live = redis.Redis.from_url(cloud.redis_url)
    assert _stream(live, cloud, "dev-1") == [(11, "t-11")]
    live.close()


def _redis_server(port: int, directory: Path) -> subprocess.Popen[bytes]:
    """A Redis of the test's own that saves its data when stopped and loads it when started again."""
    return subprocess.Popen(
        ["redis-server", "--port", str(port), "--dir", str(directory), "--save", "3600 1", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )


def _redis_up(port: int) -> bool:
    try:
        return bool(redis.Redis(port=port, socket_connect_timeout=0.2).ping())
    except redis.RedisError:
        return False


def test_with_redis_down_the_erasure_is_confirmed_only_once_redis_is_clean(
    devices: Callable[[str], tuple[SyncAgent, ListOutbox]],
    cloud: CloudSettings,
    db: psycopg.Connection[Any],
    tmp_path: Path,
) -> None:
    port = free_port()
    server = _redis_server(port, tmp_path)
    wait_until(lambda: _redis_up(port), 10, "redis-server")
    settings = cloud.model_copy(update={"redis_url": f"redis://127.0.0.1:{port}/0"})
    running = Ingestor(settings)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    try:
        assert running.connected.wait(10)
        (agent, outbox), (other, other_outbox) = devices("dev-1"), devices("dev-2")
        _sync(agent, outbox, _turn("dev-1", 1), _turn("dev-1", 2))
        _sync(other, other_outbox, _turn("dev-2", 1))
        live = redis.Redis(port=port)
        assert len(_stream(live, settings, "dev-1")) == 2
        live.close()
        server.terminate()  # saves the streams to disk
        server.wait(timeout=10)

        _sync(agent, outbox, _erase("dev-1", 3))  # acked (durable in PostgreSQL) while Redis is down

        assert outbox.confirmed == [] and outbox.depth() == 0
        assert _turns(db, "dev-1") == [] and _tombstone(db, "e-dev-1-3") == (None, 0)
        server = _redis_server(port, tmp_path)
        wait_until(lambda: outbox.confirmed, WAIT_S, "the confirmation once Redis is back")

        assert outbox.confirmed == ["e-dev-1-3"]
        live = redis.Redis(port=port)
        assert _stream(live, settings, "dev-1") == []
        assert _stream(live, settings, "dev-2") == [(1, "t-1")]  # Redis came back with its data
        live.close()
        assert _tombstone(db, "e-dev-1-3")[0] is not None
    finally:
        running.stop()
        thread.join(timeout=10)
        server.terminate()
        server.wait(timeout=10)


# -- PostgreSQL alone: the rules in detail, concurrency, the listing


@pytest.fixture
def writer(db: psycopg.Connection[Any], database: str) -> Iterator[psycopg.Connection[Any]]:
    connection = store.connect(database)
    yield connection
    connection.close()


def _up(*items: OutboxItem, device_id: str = "dev-1") -> RawMessage:
    batch = SyncBatch(device_id=device_id, batch_id=f"b-{items[0].msg_id}", items=list(items))
    return RawMessage(sync_up_topic(TENANT, device_id), batch.model_dump_json().encode(), T0)


def test_a_late_item_is_counted_once_on_the_earliest_tombstone_erasing_it(
    db: psycopg.Connection[Any], writer: psycopg.Connection[Any]
) -> None:
    store.write(writer, plan([_up(_erase("dev-1", 10, "turns", ("t-3",)), _erase("dev-1", 20))]))
    late = _turn("dev-1", 3)

    store.write(writer, plan([_up(late, late, _turn("dev-1", 4), _event("dev-1", 25, "t-3"), _turn("dev-1", 21))]))

    counts = db.execute("SELECT msg_id, late_dropped FROM tombstone ORDER BY seq").fetchall()
    assert counts == [("e-dev-1-10", 2), ("e-dev-1-20", 1)]  # t-3 (twice in the round) and its event; t-4
    assert (_turns(db, "dev-1"), _events(db, "dev-1")) == ([21], [])


def test_a_tombstone_seen_again_erases_again_and_keeps_its_first_completion(
    db: psycopg.Connection[Any], writer: psycopg.Connection[Any]
) -> None:
    tombstone = _erase("dev-1", 5)
    store.write(writer, plan([_up(_turn("dev-1", 1))]))
    first = plan([_up(tombstone)])
    store.write(writer, first)
    erasure.complete(writer, erasure.of_plan(first), T0)
    assert erasure.pending(writer) == []

    again = plan([_up(tombstone)])
    store.write(writer, again)
    erasure.complete(writer, erasure.of_plan(again), datetime.now(UTC))

    assert _tombstone(db, "e-dev-1-5") == (T0, 0)
    assert _turns(db, "dev-1") == []
    assert db.execute("SELECT count(*) FROM tombstone").fetchone() == (1,)


def test_a_turn_committed_while_a_tombstone_is_written_elsewhere_does_not_survive_it(
    db: psycopg.Connection[Any], writer: psycopg.Connection[Any], database: str
) -> None:
    turns = plan([_up(_turn("dev-1", 1))])
    other = store.connect(database)  # another ingestor, in the middle of writing a turn
    try:
        with other.transaction(), other.cursor() as cursor:
            erasure.serialize(cursor, turns)
            store._TURNS.load(cursor, turns.turns)
            erasing = threading.Thread(target=store.write, args=(writer, plan([_up(_erase("dev-1", 2))])))
            erasing.start()
            waiting = (
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
            wait_until(lambda: db.execute(waiting).fetchone() == (1,), 10, "the tombstone to wait for the turn")
        erasing.join(timeout=10)
    finally:
        other.close()

    assert not erasing.is_alive()
    assert _turns(db, "dev-1") == []


def test_a_turn_streamed_after_another_ingestor_cleaned_the_live_view_for_its_erasure_is_removed(
    db: psycopg.Connection[Any], writer: psycopg.Connection[Any]
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    view = LiveView(CloudSettings().redis_url, prefix, 100)
    turns = plan([_up(_turn("dev-1", 1), _turn("dev-1", 2))])
    written = store.write(writer, turns)  # one ingestor committed two turns and is about to stream them
    erasing = plan([_up(_erase("dev-1", 3, "turns", ("t-1",)))])
    store.write(writer, erasing)  # another one erased one of them, and cleaned the live view first
    assert view.erase(erasure.of_plan(erasing), writer)

    assert view.update(turns, written.turns, writer)

    live = redis.Redis.from_url(CloudSettings().redis_url)
    assert [fields[b"turn_id"] for _, fields in live.xrange(f"{prefix}:live:dev-1")] == [b"t-2"]
    for key in live.scan_iter(f"{prefix}:*"):
        live.delete(key)
    live.close()
    view.close()


def test_papo_cloud_lists_erasures_with_their_completion(
    db: psycopg.Connection[Any],
    writer: psycopg.Connection[Any],
    database: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    done = plan([_up(_erase("dev-1", 2, "turns", ("t-1", "t-7")), _turn("dev-1", 1))])  # t-1 comes too late
    store.write(writer, done)
    erasure.complete(writer, erasure.of_plan(done), T0)
    store.write(writer, plan([_up(_erase("dev-2", 9), device_id="dev-2")]))
    db.execute("UPDATE device SET tenant = 'other' WHERE device_id = 'dev-2'")
    monkeypatch.setenv("PAPO_CLOUD_DATABASE_URL", database)

    def listing(*args: str) -> list[dict[str, Any]]:
        assert cli.main(["fleet", "erasures", "--json", *args]) == 0
        return list(json.loads(capsys.readouterr().out))

    rows = listing()
    assert [(r["device_id"], r["tenant"], r["scope"], r["turns"], r["late_dropped"]) for r in rows] == [
        ("dev-1", TENANT, "turns", 2, 1),
        ("dev-2", "other", "all_history", 0, 0),
    ]
    at = datetime.fromisoformat
    assert at(rows[0]["requested_at"]) == T0 and at(rows[0]["completed_at"]) == T0
    assert rows[1]["completed_at"] is None and at(rows[1]["applied_at"]) == T0
    assert set(rows[0]) == {
        "device_id", "tenant", "msg_id", "scope", "turns", "requested_at", "applied_at", "completed_at", "late_dropped",
    }  # fmt: skip
    assert [r["device_id"] for r in listing("--tenant", "other")] == ["dev-2"]
    assert [r["device_id"] for r in listing("--device", "dev-1")] == ["dev-1"]
    assert listing("--tenant", TENANT, "--device", "dev-2") == []
    assert cli.main(["fleet", "erasures", "--device", "dev-2"]) == 0
    assert "waiting" in capsys.readouterr().out
