"""A forged ack from an account that may write acks cannot make a real device drop its queued rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from papo_sync.device.agent import AgentConfig, SyncAgent
from papo_sync.protocol import Rejected, SyncAck, sync_ack_topic
from support.broker import CLOUD_USERS, Broker, device_password
from support.sync_clients import RawMqttClient, store_with_turns
from support.wait import wait_until

pytestmark = pytest.mark.services


def test_a_forged_ack_with_ids_not_in_flight_deletes_no_outbox_row(broker: Broker, tmp_path: Path) -> None:
    store = store_with_turns(tmp_path / "device.sqlite3", "dev-1", 6)
    queued = [item.msg_id for item in store.outbox.pending(100, set())]
    config = AgentConfig(
        host="127.0.0.1", port=broker.port, tenant="acme", device_id="dev-1", username="dev-1",
        password=device_password("dev-1"), batch_items=1, window=1, ack_timeout_s=60.0,
    )  # fmt: skip
    agent = SyncAgent(config, store.outbox, session_seq=1)  # no ingestor: the first row stays in flight
    forger = RawMqttClient(broker, "ingest", CLOUD_USERS["ingest"])
    agent.start()
    try:
        wait_until(lambda: agent.status.connected, 10, "the device to connect")
        forged = SyncAck(
            batch_id="forged", acked=[*queued[1:4], "no-such-row"],
            rejected=[Rejected(msg_id=m, reason="forged") for m in queued[4:]],
        )  # fmt: skip
        forger.publish(sync_ack_topic("acme", "dev-1"), forged.wire())
        wait_until(lambda: agent.status.ignored_acks == 6, 10, "the device to ignore the forged ids")
    finally:
        forger.close()
        agent.stop()
    assert [item.msg_id for item in store.outbox.pending(100, set())] == queued  # every row is still there
    assert (agent.status.acked, agent.status.rejected) == (0, 0)
