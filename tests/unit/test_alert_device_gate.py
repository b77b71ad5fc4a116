"""The device's side of a caregiver alert on the wire: only signed, current, newer updates for this device pass.

The sync agent runs on a fake MQTT client (no broker); the gate's replay record is a real file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest

from papo_sync.device.agent import AgentConfig, SyncAgent
from papo_sync.device.gate import FleetGate, RefusedError, ReplayGuard
from papo_sync.device.ports import MqttClient
from papo_sync.protocol import AlertState, AlertUpdate, alert_topic
from papo_sync.signing import generate_private_key
from support.alert_updates import DEVICE, TENANT, Heard, alert_update, signed_alert
from support.fleet import signed_desired
from support.sync_agent_fakes import FakeClient, MemoryOutbox

FLEET_KEY = generate_private_key()
TOPIC = alert_topic(TENANT, DEVICE)


def _gate(path: Path) -> FleetGate:
    return FleetGate(FLEET_KEY.public_key(), ReplayGuard(path), TENANT, DEVICE)


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[tuple[SyncAgent, FakeClient, Heard]]:
    client, heard = FakeClient(), Heard()
    config = AgentConfig(host="127.0.0.1", port=1883, tenant=TENANT, device_id=DEVICE)
    running = SyncAgent(
        config, MemoryOutbox(0), session_seq=1, client_factory=lambda _: cast(MqttClient, client),
        gate=_gate(tmp_path / "replay.json"), on_alert=heard,
    )  # fmt: skip
    running.start()
    client.connect()
    yield running, client, heard
    running.stop()


def _seqs(items: list[object]) -> list[int]:
    return [cast(AlertUpdate, item).seq for item in items]


def test_the_agent_listens_on_its_own_alert_topic(agent: tuple[SyncAgent, FakeClient, Heard]) -> None:
    _, client, _ = agent
    assert (TOPIC, 1) in client.subscriptions


def test_updates_are_handed_on_in_order_and_a_replay_or_an_older_one_is_not(
    agent: tuple[SyncAgent, FakeClient, Heard],
) -> None:
    _, client, heard = agent
    delivering = signed_alert(FLEET_KEY, alert_update("delivering", 1))
    delivered = signed_alert(FLEET_KEY, alert_update("delivered", 2, caregiver="Ana"))
    for payload in (delivering, delivered, delivering, delivered):  # the same two again: a replay, a crossing
        client.deliver(TOPIC, payload)
    client.deliver(TOPIC, signed_alert(FLEET_KEY, alert_update("acknowledged", 4, caregiver="Ana")))
    client.deliver(TOPIC, signed_alert(FLEET_KEY, alert_update("delivered", 3, caregiver="Bruno")))  # late: older
    client.deliver(TOPIC, signed_alert(FLEET_KEY, alert_update("delivering", 1, msg_id="event-2", alert_id="42")))
    items = heard.wait_for(lambda got: any(cast(AlertUpdate, u).alert_id == "42" for u in got))
    assert [(cast(AlertUpdate, u).alert_id, cast(AlertUpdate, u).seq) for u in items] == [
        ("41", 1), ("41", 2), ("41", 4), ("42", 1),
    ]  # fmt: skip
    assert cast(AlertUpdate, items[2]).state is AlertState.ACKNOWLEDGED


def test_unsigned_forged_expired_and_other_devices_updates_are_refused_with_the_reason(
    agent: tuple[SyncAgent, FakeClient, Heard], caplog: pytest.LogCaptureFixture
) -> None:
    _, client, heard = agent
    update = alert_update("delivered", 1, caregiver="Ana")
    long_ago = datetime.now(UTC) - timedelta(hours=3)
    refused = {
        "unsigned": update.model_dump_json(),
        "bad signature": signed_alert(generate_private_key(), update),
        "signed for another device": signed_alert(FLEET_KEY, update, device_id="dev-2"),
        "expired": signed_alert(FLEET_KEY, update, issued_at=long_ago),
        "not an alert update": signed_desired(FLEET_KEY, 1, {"audio": {"volume": 50}}),
    }
    with caplog.at_level(logging.INFO):
        for payload in refused.values():
            client.deliver(TOPIC, payload)
        client.deliver(TOPIC, signed_alert(FLEET_KEY, alert_update("delivering", 2, msg_id="event-2", alert_id="42")))
        items = heard.wait_for(lambda got: bool(got))
    assert _seqs(items) == [2] and cast(AlertUpdate, items[0]).alert_id == "42"  # only the good one passed
    reasons = [
        str(r.__dict__.get("reason")) for r in caplog.records if r.getMessage() == "sync: refused an alert update"
    ]
    assert len(reasons) == len(refused)
    for what, reason in zip(refused, reasons, strict=True):
        assert what in reason, (what, reason)
    assert not any("Ana" in record.getMessage() + str(record.__dict__) for record in caplog.records)  # no names


def test_the_highest_update_of_each_alert_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "replay.json"
    first = _gate(path)
    assert first.alert(signed_alert(FLEET_KEY, alert_update("delivering", 1).model_copy())).seq == 1
    assert first.alert(signed_alert(FLEET_KEY, alert_update("delivered", 2, caregiver="Ana"))).seq == 2
    again = _gate(path)  # the device restarted: a new gate reads the record
    for seq, state in ((2, "delivered"), (1, "delivering")):
        with pytest.raises(RefusedError) as refusal:
            again.alert(signed_alert(FLEET_KEY, alert_update(state, seq, caregiver="Ana" if seq == 2 else None)))
        assert refusal.value.silent and "not newer" in str(refusal.value)
    assert again.alert(signed_alert(FLEET_KEY, alert_update("acknowledged", 3))).seq == 3
    assert path.stat().st_mode & 0o777 == 0o600


def test_an_old_replay_record_without_alerts_is_still_read(tmp_path: Path) -> None:
    path = tmp_path / "replay.json"
    path.write_text('{"desired": 3, "command": 0, "commands": {}}')  # written before alerts existed
    gate = _gate(path)
    assert gate.alert(signed_alert(FLEET_KEY, alert_update("delivering", 1))).seq == 1
    assert ReplayGuard(path).desired == 3
