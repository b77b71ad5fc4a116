"""Benchmark: a device's wellbeing event → the caregiver's webhook and e-mail, vs the plain turn sync.

Through the real pieces: Mosquitto (own instance, ACL), `papo-cloud ingest` and `papo-cloud alerts` (processes),
PostgreSQL, a local SMTP server (aiosmtpd) and a local webhook receiver. One device publishes 200 wellbeing
events one after another (each in its own sync batch, as its agent sends them); each is timed from the publish
to the webhook request and to the e-mail arriving. The baseline, measured in the same run: 200 plain turns,
publish → the cloud's `sync/ack` (sent after the PostgreSQL commit). Goal: event → caregiver notified p99 ≤ 2 s.

Run: uv run python bench/alerts.py [--events N]   (about a minute; needs PostgreSQL and Redis on their standard
ports and the mosquitto program; it starts its own broker and uses a database `papo_bench_alerts`)
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from papo_sync.cloud.alerts import caregivers
from papo_sync.cloud.alerts.targets import NewCaregiver
from papo_sync.cloud.schema import migrate
from papo_sync.connection import new_client
from papo_sync.protocol import (
    OutboxItem,
    StageTimings,
    SyncBatch,
    TurnRecord,
    WellbeingRecord,
    sync_ack_topic,
    sync_up_topic,
)
from support.alerts import HttpReceiver, SmtpServer
from support.broker import CLOUD_USERS, Broker, device_password, enrol, free_port
from support.fleet import FleetKey
from support.wait import wait_until

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "postgresql://postgres@127.0.0.1:5432/papo_bench_alerts"
TENANT, DEVICE = "bench", "dev-0001"
SECRET = "bench-webhook-secret-0123456789"
PAPO_CLOUD = str(Path(sys.executable).with_name("papo-cloud"))


def _env(broker: Broker, role: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ, "PAPO_CLOUD_DATABASE_URL": DATABASE, "PAPO_CLOUD_REDIS_PREFIX": "benchalerts",
        "PAPO_CLOUD_BROKER__PORT": str(broker.port), "PAPO_CLOUD_BROKER__USERNAME": role,
        "PAPO_CLOUD_BROKER__PASSWORD": CLOUD_USERS[role], **extra,
    }  # fmt: skip


class _Device:
    """The device's end: publishes batches as dev-0001 and times the cloud's acks."""

    def __init__(self, broker: Broker) -> None:
        self.acked: dict[str, float] = {}
        self._arrived = threading.Condition()
        subscribed = threading.Event()
        self.client = new_client("bench-device", DEVICE, device_password(DEVICE))
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_connect = lambda c, *_: c.subscribe(sync_ack_topic(TENANT, DEVICE), 1)
        self.client.on_message = self._on_ack
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        assert subscribed.wait(10)

    def _on_ack(self, _: Any, __: Any, message: Any) -> None:
        now = time.monotonic()
        with self._arrived:
            for msg_id in json.loads(message.payload)["acked"]:
                self.acked.setdefault(msg_id, now)
            self._arrived.notify_all()

    def send(self, item: OutboxItem) -> float:
        """Publish one item in a batch of its own; when it was published."""
        batch = SyncBatch(device_id=DEVICE, batch_id=uuid.uuid4().hex, items=[item])
        sent = time.monotonic()
        self.client.publish(sync_up_topic(TENANT, DEVICE), batch.model_dump_json(), qos=1)
        return sent

    def wait_acked(self, msg_id: str, timeout_s: float = 30) -> float | None:
        """When the ack of `msg_id` arrived (None if it did not within `timeout_s`)."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: msg_id in self.acked, timeout_s):
                return None
            return self.acked[msg_id]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _turn(seq: int) -> OutboxItem:
    turn = TurnRecord(device_id=DEVICE, conversation_id="c", turn_id=uuid.uuid4().hex, seq=seq, role="person",
                      text="Hoje eu fui à feira.", language="pt", started_at=datetime.now(UTC), audio_duration_s=1.0,
                      timings=StageTimings())  # fmt: skip
    return OutboxItem(msg_id=uuid.uuid4().hex, seq=seq, kind="turn", turn=turn)


def _wellbeing(seq: int) -> OutboxItem:
    event = WellbeingRecord(kind="fall", severity="high", evidence="eu caí", source="rules",
                            created_at=datetime.now(UTC))  # fmt: skip
    return OutboxItem(msg_id=uuid.uuid4().hex, seq=seq, kind="wellbeing", wellbeing=event)


def _quantiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def _arrival(items: list[Any], key: Any, msg_id: str) -> float | None:
    return next((item.at for item in items if key(item) == msg_id), None)


def _up(device: _Device) -> bool:
    """Whether the ingestor answers: a turn sent now is acked within a second (before it subscribed, none is)."""
    probe = _turn(0)
    device.send(probe)
    return device.wait_acked(probe.msg_id, 1.0) is not None


def _accepting(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200, help="wellbeing events (and turns) to time")
    args = parser.parse_args()
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS papo_bench_alerts WITH (FORCE)")
        admin.execute("CREATE DATABASE papo_bench_alerts")
    migrate(DATABASE)
    smtp, hook = SmtpServer(), HttpReceiver()
    with psycopg.connect(DATABASE, autocommit=True, row_factory=dict_row) as db:
        enrol(db, {DEVICE: TENANT})
        caregivers.add(db, NewCaregiver(tenant=TENANT, name="Ana",
                                        target={"channel": "email", "address": "ana@example.org"}))  # fmt: skip
        caregivers.add(
            db,
            NewCaregiver(
                tenant=TENANT, name="Bruno", target={"channel": "webhook", "url": hook.url + "/hook", "secret": SECRET}
            ),
        )
    processes: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as scratch:
        broker = Broker(Path(scratch) / "broker", {DEVICE: TENANT})
        key = FleetKey.create(Path(scratch))
        port = free_port()
        alerts_env = _env(
            broker, "fleet", PAPO_CLOUD_FLEET_SIGNING_KEY=str(key.private),
            PAPO_CLOUD_ALERTS__SMTP__PORT=str(smtp.port), PAPO_CLOUD_ALERTS__LISTEN_PORT=str(port),
            PAPO_CLOUD_ALERTS__PUBLIC_URL=f"http://127.0.0.1:{port}",
        )  # fmt: skip
        processes.append(
            subprocess.Popen([PAPO_CLOUD, "ingest"], env=_env(broker, "ingest"), stderr=subprocess.DEVNULL)
        )
        processes.append(subprocess.Popen([PAPO_CLOUD, "alerts"], env=alerts_env, stderr=subprocess.DEVNULL))
        device = _Device(broker)
        try:
            seq = 0
            print(f"baseline: {args.events} plain turns...", file=sys.stderr, flush=True)
            wait_until(lambda: _up(device), 60, "the ingestor")
            wait_until(lambda: _accepting(port), 60, "the alert service")
            sync: list[float] = []
            for _ in range(args.events):
                seq += 1
                item = _turn(seq)
                sent = device.send(item)
                acked = device.wait_acked(item.msg_id)
                assert acked is not None, "a turn was not acked"
                sync.append(acked - sent)
            print(f"{args.events} wellbeing events...", file=sys.stderr, flush=True)
            webhook: list[float] = []
            mail: list[float] = []
            for n in range(args.events):
                seq += 1
                item = _wellbeing(seq)
                sent = device.send(item)
                hook.wait_for(n + 1, 30)
                smtp.wait_for(n + 1, 30)
                got_hook = _arrival(hook.items, lambda r: json.loads(r.body)["msg_id"], item.msg_id)
                got_mail = _arrival(smtp.items, lambda m: m.message["X-Papo-Event"], item.msg_id)
                assert got_hook is not None and got_mail is not None, "a notice for another event arrived"
                webhook.append(got_hook - sent)
                mail.append(got_mail - sent)
            with psycopg.connect(DATABASE, autocommit=True) as db:
                done = "SELECT count(*) FROM alert_delivery WHERE status = 'succeeded'"
                wait_until(lambda: db.execute(done).fetchone() == (2 * args.events,), 30, "every delivery recorded")
            duplicates = len(hook.items) + len(smtp.items) - 2 * args.events
        finally:
            device.close()
            for process in processes:
                process.terminate()
                process.wait(timeout=15)
            broker.stop()
            smtp.stop()
            hook.stop()
    notified = [max(w, m) for w, m in zip(webhook, mail, strict=True)]
    _, sync_p99 = _quantiles(sync)
    print(f"\n{args.events} events from one device, one ingestor, one alert service; times in seconds")
    print(f"{'path':44} {'p50':>7} {'p99':>7} {'p99 vs sync':>12}")
    for label, values in (
        ("turn sync: publish → commit ack (baseline)", sync),
        ("wellbeing event → webhook received", webhook),
        ("wellbeing event → e-mail received", mail),
        ("wellbeing event → both notified", notified),
    ):
        p50, p99 = _quantiles(values)
        print(f"{label:44} {p50:7.3f} {p99:7.3f} {p99 / sync_p99:11.1f}x")
    alert_p50, alert_p99 = _quantiles(notified)
    print(f"goal: event → caregiver notified p99 ≤ 2 s: {'met' if alert_p99 <= 2 else 'NOT met'}; "
          f"duplicate notices: {duplicates}")  # fmt: skip
    print(json.dumps({"alert_p50_s": round(alert_p50, 3), "alert_p99_s": round(alert_p99, 3),
                      "sync_p99_s": round(sync_p99, 3), "duplicates": duplicates}))  # fmt: skip


if __name__ == "__main__":
    main()
