"""The device's sync agent with a fake MQTT client and an in-memory outbox: no broker, no database."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

import papo_sync.device.agent as agent_module
from papo_sync.device.agent import AgentConfig, SyncAgent
from papo_sync.device.gate import FleetGate, ReplayGuard
from papo_sync.device.ports import MqttClient
from papo_sync.protocol import (
    Command,
    CommandName,
    CommandResult,
    DesiredState,
    Presence,
    Rejected,
    ReportedState,
    SyncAck,
    SyncBatch,
    Telemetry,
    alert_topic,
    command_result_topic,
    command_topic,
    shadow_delta_topic,
    shadow_update_topic,
    state_topic,
    sync_ack_topic,
    sync_up_topic,
    telemetry_topic,
)
from papo_sync.signing import generate_private_key
from support.fleet import signed_command, signed_desired
from support.sync_agent_fakes import WAIT_S, Clock, FakeClient, MemoryOutbox, Published

TENANT, DEVICE = "acme", "dev-1"
FLEET_KEY = generate_private_key()  # the fleet's signing key: the agents' gate trusts its public key


@dataclass
class Rig:
    agent: SyncAgent
    client: FakeClient
    outbox: MemoryOutbox
    clock: Clock


Make = Callable[..., Rig]


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Make]:
    """Build and start agents on fake clients, trusting FLEET_KEY; stop them all at the end."""
    agents: list[SyncAgent] = []

    def build(rows: int = 0, connect: bool = True, **options: Any) -> Rig:
        config_keys = {"batch_items", "window", "ack_timeout_s", "telemetry_every_s"}
        config = AgentConfig(host="127.0.0.1", port=1883, tenant=TENANT, device_id=DEVICE,
                             **{k: v for k, v in options.items() if k in config_keys})  # fmt: skip
        client, outbox, clock = FakeClient(), MemoryOutbox(rows), Clock()
        guard = ReplayGuard(tmp_path / f"replay-{len(agents)}.json", options.get("applied_version", 0))
        options.setdefault("gate", FleetGate(FLEET_KEY.public_key(), guard, TENANT, DEVICE))
        agent = SyncAgent(
            config, outbox, session_seq=7, client_factory=lambda _: cast(MqttClient, client), clock=clock,
            **{k: v for k, v in options.items() if k not in config_keys},
        )  # fmt: skip
        agents.append(agent)
        agent.start()
        if connect:
            client.connect()
        return Rig(agent, client, outbox, clock)

    yield build
    for agent in agents:
        agent.stop()


def _batch(message: Published) -> SyncBatch:
    return SyncBatch.model_validate_json(message.payload)


def _ids(message: Published) -> list[str]:
    return [item.msg_id for item in _batch(message).items]


def _ack(rig: Rig, message: Published, rejected: int = 0) -> None:
    ids = _ids(message)
    bad = [Rejected(msg_id=m, reason="bad row") for m in ids[:rejected]]
    ack = SyncAck(batch_id=_batch(message).batch_id, acked=ids[rejected:], rejected=bad)
    rig.client.deliver(sync_ack_topic(TENANT, DEVICE), ack.model_dump_json())


def _command(name: str, command_id: str, expires_at: datetime | None = None) -> str:
    return signed_command(FLEET_KEY, name, command_id, DEVICE, TENANT, expires_at)


def _desired(version: int, settings: dict[str, Any]) -> str:
    return signed_desired(FLEET_KEY, version, settings, DEVICE, TENANT)


def _result(rig: Rig, command_id: str) -> CommandResult:
    (message,) = rig.client.wait_for(command_result_topic(TENANT, DEVICE, command_id), 1)
    return CommandResult.model_validate_json(message.payload)


UP = sync_up_topic(TENANT, DEVICE)


def test_batches_go_out_within_the_window_and_rows_stay_until_the_app_ack(make: Make) -> None:
    rig = make(rows=10, batch_items=2, window=3)
    first = rig.client.wait_for(UP, 3)
    assert [_ids(m) for m in first] == [["m0", "m1"], ["m2", "m3"], ["m4", "m5"]]
    assert all(m.qos == 1 for m in first)
    assert rig.outbox.depth() == 10  # the broker took them; that is no durability
    _ack(rig, first[0])
    assert rig.outbox.ids()[:2] == ["m2", "m3"] and rig.outbox.depth() == 8
    fourth = rig.client.wait_for(UP, 4)[3]
    assert _ids(fourth) == ["m6", "m7"]
    assert len(rig.client.on(UP)) == 4  # one ack freed one slot of the window
    assert rig.agent.status.acked == 2


def test_the_outbox_drains_and_wait_until_drained_wakes_on_the_last_ack(make: Make) -> None:
    rig = make(rows=5, connect=False, batch_items=2, window=2)
    assert not rig.agent.wait_until_drained(0.05)  # not connected: nothing moves
    rig.client.responder = lambda message: _ack(rig, message) if message.topic == UP else None
    rig.client.connect()
    assert rig.agent.wait_until_drained(WAIT_S)
    assert rig.outbox.depth() == 0
    assert rig.agent.status.acked == 5 and rig.agent.status.last_sync_at is not None


def test_rejected_rows_are_deleted_and_counted(make: Make) -> None:
    rig = make(rows=3, batch_items=3)
    (batch,) = rig.client.wait_for(UP, 1)
    _ack(rig, batch, rejected=1)
    assert rig.outbox.depth() == 0
    assert (rig.agent.status.acked, rig.agent.status.rejected) == (2, 1)
    assert rig.agent.wait_until_drained(WAIT_S)


def test_erasures_the_cloud_confirms_are_recorded_in_the_outbox(make: Make) -> None:
    rig = make(rows=2, batch_items=2)
    (batch,) = rig.client.wait_for(UP, 1)
    ids = _ids(batch)
    ack = SyncAck(batch_id=_batch(batch).batch_id, acked=ids, erased=ids[:1])
    rig.client.deliver(sync_ack_topic(TENANT, DEVICE), ack.wire())
    later = SyncAck(batch_id="confirmation", erased=[ids[1], "gone"])  # an erasure finished after a Redis outage
    rig.client.deliver(sync_ack_topic(TENANT, DEVICE), later.wire())

    assert rig.outbox.confirmed == [ids[0], ids[1], "gone"]
    assert rig.agent.status.erasures_confirmed == 2 and rig.agent.status.acked == 2
    assert rig.outbox.depth() == 0 and rig.agent.wait_until_drained(WAIT_S)


def test_an_overdue_batch_is_sent_again(make: Make) -> None:
    rig = make(rows=2, batch_items=2, window=1, ack_timeout_s=10.0)
    (first,) = rig.client.wait_for(UP, 1)
    rig.clock.now += 11.0
    rig.agent.nudge()
    second = rig.client.wait_for(UP, 2)[1]
    assert _ids(second) == _ids(first) and _batch(second).batch_id != _batch(first).batch_id
    assert rig.agent.status.resent == 1
    _ack(rig, first)  # a late ack of the first copy still proves the rows durable
    assert rig.outbox.depth() == 0


def test_presence_birth_will_subscriptions_and_goodbye(make: Make) -> None:
    rig = make()
    presence = state_topic(TENANT, DEVICE)
    assert rig.client.will is not None and rig.client.will[0] == presence
    assert Presence.model_validate_json(rig.client.will[1]).state == "offline"
    (birth,) = rig.client.on(presence)
    born = Presence.model_validate_json(birth.payload)
    assert birth.retain and (born.state, born.session_seq) == ("online", 7)
    assert {topic for topic, _ in rig.client.subscriptions} == {
        sync_ack_topic(TENANT, DEVICE), shadow_delta_topic(TENANT, DEVICE), command_topic(TENANT, DEVICE, "+"),
        alert_topic(TENANT, DEVICE),  # the caregiver alert's signed updates (issue 14)
    }  # fmt: skip
    rig.agent.stop()
    goodbye = rig.client.on(presence)[-1]
    assert goodbye.retain and Presence.model_validate_json(goodbye.payload).state == "offline"
    assert not [t for t in threading.enumerate() if t.name in ("sync-drain", "sync-inbox")]


def test_telemetry_is_published_and_a_failing_report_stops_nothing(make: Make) -> None:
    report = Telemetry(at=datetime.now(UTC), cpu_pct=1, memory_pct=2, disk_pct=3, version="1", outbox_depth=0)
    rig = make(telemetry=lambda: report)
    (sent,) = rig.client.wait_for(telemetry_topic(TENANT, DEVICE), 1)
    assert Telemetry.model_validate_json(sent.payload) == report and sent.qos == 0

    def broken() -> Telemetry:
        raise OSError("no sensors")

    rig = make(rows=1, telemetry=broken)
    rig.client.wait_for(UP, 1)


def test_a_newer_desired_state_is_applied_on_the_worker_thread_and_stale_ones_are_ignored(make: Make) -> None:
    seen: list[tuple[int, threading.Thread]] = []

    def on_desired(desired: DesiredState) -> ReportedState:
        seen.append((desired.version, threading.current_thread()))
        return ReportedState(version=desired.version, settings=desired.settings, accepted=True)

    rig = make(on_desired=on_desired, applied_version=2)
    delta = shadow_delta_topic(TENANT, DEVICE)
    rig.client.deliver(delta, _desired(3, {"a": 1}))
    (report,) = rig.client.wait_for(shadow_update_topic(TENANT, DEVICE), 1)
    assert ReportedState.model_validate_json(report.payload).version == 3
    assert [version for version, _ in seen] == [3]
    assert seen[0][1] is not threading.current_thread() and seen[0][1].name == "sync-inbox"
    assert rig.agent.status.applied_version == 3
    for stale in (3, 1):  # the retained delta seen again (nothing to say), an older one (refused: a replay)
        rig.client.deliver(delta, _desired(stale, {"a": 0}))
    rig.client.deliver(command_topic(TENANT, DEVICE, "c1"), _command("ping", "c1"))
    assert _result(rig, "c1").ok  # the worker is past the stale ones, in order
    assert [version for version, _ in seen] == [3]
    reports = [ReportedState.model_validate_json(m.payload) for m in rig.client.on(shadow_update_topic(TENANT, DEVICE))]
    assert [(r.version, r.accepted, r.reason) for r in reports] == [
        (3, True, None),
        (3, False, "replayed: desired version 1 is older than 3"),  # the version it still runs
    ]


def test_unsigned_and_wrongly_signed_requests_are_refused_with_the_reason(make: Make) -> None:
    seen: list[int] = []

    def on_desired(desired: DesiredState) -> ReportedState:
        seen.append(desired.version)
        return ReportedState(version=desired.version, settings=desired.settings, accepted=True)

    rig = make(on_desired=on_desired, on_command=lambda c: CommandResult(command_id=c.command_id, ok=True))
    delta, other_key = shadow_delta_topic(TENANT, DEVICE), generate_private_key()
    rig.client.deliver(delta, DesiredState(version=5, settings={"a": 1}).model_dump_json())
    rig.client.deliver(delta, signed_desired(other_key, 6, {"a": 2}, DEVICE, TENANT))
    rig.client.deliver(
        command_topic(TENANT, DEVICE, "c1"), Command(command_id="c1", name=CommandName.PING).model_dump_json()
    )
    rig.client.deliver(command_topic(TENANT, DEVICE, "c2"), signed_command(other_key, "delete-history", "c2"))
    reports = rig.client.wait_for(shadow_update_topic(TENANT, DEVICE), 2)
    reasons = [ReportedState.model_validate_json(m.payload).model_dump(include={"version", "accepted", "reason"})
               for m in reports]  # fmt: skip
    assert [(r["version"], r["accepted"], r["reason"][:14]) for r in reasons] == [
        (0, False, "unsigned: not "),
        (0, False, "bad signature:"),
    ]
    assert _result(rig, "c1").model_dump(include={"ok", "detail"}) == {
        "ok": False, "detail": "refused: unsigned: not a message signed by the fleet key",
    }  # fmt: skip
    assert not _result(rig, "c2").ok and _result(rig, "c2").detail.startswith("refused: bad signature")
    assert seen == [] and rig.agent.status.applied_version == 0


def test_an_agent_without_a_gate_refuses_every_request(make: Make) -> None:
    rig = make(gate=None)
    rig.client.deliver(command_topic(TENANT, DEVICE, "c1"), _command("ping", "c1"))
    assert _result(rig, "c1").model_dump(include={"ok", "detail"}) == {
        "ok": False, "detail": "refused: this device has no fleet public key (set sync.fleet_public_key)",
    }  # fmt: skip


def test_a_device_without_a_settings_handler_refuses_desired_state(make: Make) -> None:
    rig = make()
    rig.client.deliver(shadow_delta_topic(TENANT, DEVICE), _desired(1, {}))
    (report,) = rig.client.wait_for(shadow_update_topic(TENANT, DEVICE), 1)
    refused = ReportedState.model_validate_json(report.payload)
    assert not refused.accepted and refused.reason == "this device takes no settings"
    assert rig.agent.status.applied_version == 0


def test_commands_are_answered_in_order(make: Make) -> None:
    rig = make()
    past = datetime.now(UTC) - timedelta(minutes=1)
    commands = [("ping", "c1", None), ("restart-pipeline", "c2", None), ("ping", "c3", past), ("sync-now", "c4", None)]
    for name, command_id, expires in commands:
        rig.client.deliver(command_topic(TENANT, DEVICE, command_id), _command(name, command_id, expires))
    answers = {cid: _result(rig, cid) for _, cid, _ in commands}
    assert (answers["c1"].ok, answers["c1"].detail) == (True, "pong")
    assert (answers["c2"].ok, answers["c2"].detail) == (False, "not supported on this device")
    assert (answers["c3"].ok, answers["c3"].detail) == (False, "expired before it arrived")
    assert (answers["c4"].ok, answers["c4"].detail) == (True, "draining the outbox")
    order = [m.topic.split("/")[-2] for m in rig.client.published if m.topic.endswith("/result")]
    assert order == ["c1", "c2", "c3", "c4"]


def test_a_failing_command_handler_answers_with_its_error(make: Make) -> None:
    def on_command(command: Command) -> CommandResult:
        if command.name == "delete-history":
            raise RuntimeError("disk on fire")
        return CommandResult(command_id=command.command_id, ok=True, detail="done")

    rig = make(on_command=on_command)
    for name, command_id in (("delete-history", "c1"), ("forget-memories", "c2")):
        rig.client.deliver(command_topic(TENANT, DEVICE, command_id), _command(name, command_id))
    assert _result(rig, "c1").model_dump(include={"ok", "detail"}) == {"ok": False, "detail": "failed: disk on fire"}
    assert _result(rig, "c2").ok  # the worker went on


def test_invalid_payloads_and_foreign_topics_are_ignored(make: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []
    real = agent_module.parse_topic
    monkeypatch.setattr(agent_module, "parse_topic", lambda topic: parsed.append(topic) or real(topic))

    def on_desired(desired: DesiredState) -> ReportedState:
        raise RuntimeError("cannot apply")

    rig = make(rows=2, batch_items=2, on_desired=on_desired)
    (batch,) = rig.client.wait_for(UP, 1)
    ack = SyncAck(batch_id=_batch(batch).batch_id, acked=_ids(batch)).model_dump_json()
    ignored = [
        (sync_ack_topic(TENANT, DEVICE), b"{not json"),
        (shadow_delta_topic(TENANT, DEVICE), _desired(1, {})),  # raises
        (f"{command_topic(TENANT, DEVICE, 'x2')}/result", _command("ping", "x2")),
        (command_topic(TENANT, "dev-2", "x3"), _command("ping", "x3")),
        ("elsewhere/cmd/x4", _command("ping", "x4")),
        (f"papo/v1/{TENANT}/{DEVICE}/extra/sync/ack", ack),  # ends like an ack topic, is not one
        (sync_ack_topic("other", DEVICE), ack),
    ]
    for topic, payload in ignored:
        rig.client.deliver(topic, payload)
    assert parsed == [topic for topic, _ in ignored]
    rig.client.deliver(command_topic(TENANT, DEVICE, "c1"), _command("ping", "c1"))
    assert _result(rig, "c1").detail == "pong"  # the worker is alive and past everything above
    assert rig.outbox.depth() == 2 and rig.agent.status.acked == 0
    published = {m.topic for m in rig.client.published}
    assert shadow_update_topic(TENANT, DEVICE) not in published
    assert not [t for t in published if t.endswith(("x2/result", "x3/result", "x4/result"))]
