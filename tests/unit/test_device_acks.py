"""The device deletes only rows it has in flight: a forged or stale ack cannot drop queued rows."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import pytest

from papo_sync.device.agent import AgentConfig, SyncAgent
from papo_sync.device.ports import MqttClient
from papo_sync.protocol import (
    MAX_PAYLOAD_BYTES,
    OutboxItem,
    Rejected,
    StageTimings,
    SyncAck,
    SyncBatch,
    TurnRecord,
    sync_ack_topic,
    sync_up_topic,
)
from support.sync_agent_fakes import Clock, FakeClient, MemoryOutbox

TENANT, DEVICE = "acme", "dev-1"
UP = sync_up_topic(TENANT, DEVICE)


@pytest.fixture
def rig() -> Iterator[tuple[SyncAgent, FakeClient, MemoryOutbox]]:
    """An agent with 5 queued rows and a window of one 1-row batch: m0 is in flight, m1..m4 are queued."""
    config = AgentConfig(host="127.0.0.1", port=1883, tenant=TENANT, device_id=DEVICE, batch_items=1, window=1)
    client, outbox = FakeClient(), MemoryOutbox(5)
    agent = SyncAgent(config, outbox, session_seq=1, client_factory=lambda _: cast(MqttClient, client), clock=Clock())
    agent.start()
    client.connect()
    yield agent, client, outbox
    agent.stop()


def _ack(client: FakeClient, ack: SyncAck) -> None:
    client.deliver(sync_ack_topic(TENANT, DEVICE), ack.wire())


def test_a_forged_ack_naming_queued_rows_deletes_nothing(
    rig: tuple[SyncAgent, FakeClient, MemoryOutbox], caplog: pytest.LogCaptureFixture
) -> None:
    agent, client, outbox = rig
    (sent,) = client.wait_for(UP, 1)
    in_flight = SyncBatch.model_validate_json(sent.payload)
    with caplog.at_level(logging.DEBUG, logger="papo_sync.device.agent"):
        _ack(client, SyncAck(batch_id=in_flight.batch_id, acked=["m1", "m2", "unknown"]))
        _ack(client, SyncAck(batch_id="forged", rejected=[Rejected(msg_id="m3", reason="x")]))
    assert outbox.ids() == ["m0", "m1", "m2", "m3", "m4"]  # the rows (erasure requests here) are all still queued
    assert agent.status.ignored_acks == 4 and agent.status.acked == 0 and agent.status.rejected == 0
    assert any("not in flight" in r.message for r in caplog.records if r.levelno == logging.DEBUG)
    _ack(client, SyncAck(batch_id="any-id", acked=["m0", "m4"]))  # the real ack of m0, with a forged id beside it
    assert outbox.ids() == ["m1", "m2", "m3", "m4"] and agent.status.acked == 1 and agent.status.ignored_acks == 5


def test_a_batch_stays_in_flight_until_each_of_its_rows_is_settled() -> None:
    config = AgentConfig(host="127.0.0.1", port=1883, tenant=TENANT, device_id=DEVICE, batch_items=3, window=1)
    client, outbox = FakeClient(), MemoryOutbox(4)
    agent = SyncAgent(config, outbox, session_seq=1, client_factory=lambda _: cast(MqttClient, client), clock=Clock())
    agent.start()
    client.connect()
    try:
        (first,) = client.wait_for(UP, 1)
        batch_id = SyncBatch.model_validate_json(first.payload).batch_id
        _ack(client, SyncAck(batch_id=batch_id, acked=["m0"]))
        _ack(client, SyncAck(batch_id=batch_id, rejected=[Rejected(msg_id="m1", reason="bad")], acked=["m2"]))
        second = client.wait_for(UP, 2)[1]  # the window opened only when all three were settled
        assert [i.msg_id for i in SyncBatch.model_validate_json(second.payload).items] == ["m3"]
        assert outbox.ids() == ["m3"] and (agent.status.acked, agent.status.rejected) == (2, 1)
    finally:
        agent.stop()


def _turn(seq: int, chars: int) -> OutboxItem:
    turn = TurnRecord(
        device_id=DEVICE, conversation_id="c", turn_id=f"t{seq}", seq=seq, role="person", text="é" * chars,
        language="pt", started_at=datetime.now(UTC), audio_duration_s=1.0, timings=StageTimings(),
    )  # fmt: skip
    return OutboxItem(msg_id=f"m{seq}", seq=seq, kind="turn", turn=turn)


def test_the_agent_sends_oversized_outboxes_in_byte_bounded_batches() -> None:
    config = AgentConfig(host="127.0.0.1", port=1883, tenant=TENANT, device_id=DEVICE, batch_items=200, window=4)
    client = FakeClient()
    outbox = MemoryOutbox(0)
    outbox._rows = {f"m{n}": _turn(n, 4000) for n in range(200)}  # big rows in the fake outbox
    agent = SyncAgent(config, outbox, session_seq=1, client_factory=lambda _: cast(MqttClient, client), clock=Clock())
    agent.start()
    client.connect()
    try:
        batches = client.wait_for(UP, 2)
        assert all(len(b.payload.encode()) <= MAX_PAYLOAD_BYTES for b in batches)
        assert len(batches[0].payload.encode()) > MAX_PAYLOAD_BYTES - 20_000  # as full as it can be
        sent = [i.msg_id for b in batches for i in SyncBatch.model_validate_json(b.payload).items]
        assert sent == [f"m{n}" for n in range(200)]
    finally:
        agent.stop()


def test_a_remote_broker_without_tls_is_refused_with_the_setting_named(caplog: pytest.LogCaptureFixture) -> None:
    config = AgentConfig(host="mqtt.example.org", port=1883, tenant=TENANT, device_id=DEVICE)
    client = FakeClient()
    agent = SyncAgent(config, MemoryOutbox(1), session_seq=1, client_factory=lambda _: cast(MqttClient, client))
    connects: list[str] = []
    client.connect_async = lambda host, port, keepalive: connects.append(host)  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR):
        agent.start()
    agent.stop()
    assert connects == []
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    line = record.getMessage()
    assert record.__dict__["broker"] == "mqtt.example.org:1883" and "sync.tls_ca" in line and "\n" not in line
    assert agent.status.last_error is not None and "sync.tls_ca" in agent.status.last_error


@pytest.mark.parametrize(("host", "tls"), [("mqtt.example.org", True), ("127.0.0.1", False), ("localhost", False)])
def test_tls_or_a_broker_on_this_machine_may_connect(host: str, tls: bool) -> None:
    config = AgentConfig(host=host, port=8883, tenant=TENANT, device_id=DEVICE, tls_ca=Path("ca.pem") if tls else None)
    client = FakeClient()
    agent = SyncAgent(config, MemoryOutbox(0), session_seq=1, client_factory=lambda _: cast(MqttClient, client))
    connects: list[str] = []
    client.connect_async = lambda host, port, keepalive: connects.append(host)  # type: ignore[method-assign]
    agent.start()
    agent.stop()
    assert connects == [host] and agent.status.last_error is None
