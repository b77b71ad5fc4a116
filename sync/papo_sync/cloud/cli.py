"""`papo-cloud`: run ingestors and manage the fleet (parsing and calling only)."""

from __future__ import annotations

import argparse
import gc
import json
import logging
import multiprocessing
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from papo_sync.cloud.settings import CloudSettings
from papo_sync.protocol import CommandName

DESCRIPTION = """\
Papo Social cloud: receive what devices sync, and manage the fleet.

  papo-cloud migrate                         create or update the database tables
  papo-cloud ingest [--workers N]            receive synced conversations (Ctrl-C to stop)
  papo-cloud fleet devices                   every device: online or not, version, last seen, backlog
  papo-cloud fleet turns DEVICE              a device's latest synced turns
  papo-cloud fleet erasures                  requests to erase what a person said, and whether they are done
  papo-cloud fleet config set DEVICE k=v     change a device's settings (also --group TENANT)
  papo-cloud fleet cmd DEVICE ping           send a command and wait for the answer

Settings come from PAPO_CLOUD_* variables (PAPO_CLOUD_DATABASE_URL, PAPO_CLOUD_REDIS_URL,
PAPO_CLOUD_BROKER__HOST, PAPO_CLOUD_BROKER__USERNAME, ...). Every fleet command takes --json.
"""
ERASURES_HELP = """\
Requests to erase what a person said to Papo, newest first.

A device asks for an erasure when someone says "apagar tudo" (everything it kept) or forgets one
conversation. The cloud then deletes the conversations, the wellbeing alerts and the error records of that
device from its database and from the live view, and tells the device when all of it is gone.

Columns: what was erased (everything, or a number of turns), when the person asked, when the cloud database
erased it, when the erasure was complete everywhere and the device was told so ("waiting" while the live
view is unreachable: it is finished as soon as it is back), and how many older messages still on their way
arrived afterwards and were thrown away instead of stored.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="papo-cloud", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("migrate", help="create or update the database tables")
    ingest = commands.add_parser("ingest", help="receive synced data into PostgreSQL and Redis")
    ingest.add_argument("--workers", type=int, default=1, help="ingestor processes sharing the load (default 1)")
    fleet = commands.add_parser("fleet", help="see and manage devices")
    actions = fleet.add_subparsers(dest="fleet_command", required=True, metavar="ACTION")
    devices = actions.add_parser("devices", help="every device and its state")
    devices.add_argument("--json", action="store_true", help="print JSON")
    turns = actions.add_parser("turns", help="a device's latest synced turns")
    turns.add_argument("device")
    turns.add_argument("--limit", type=int, default=20)
    turns.add_argument("--json", action="store_true", help="print JSON")
    erasures = actions.add_parser(
        "erasures", help="requests to erase what a person said, and whether they are done",
        description=ERASURES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    erasures.add_argument("--tenant", help="only the devices of this tenant (customer)")
    erasures.add_argument("--device", help="only this device")
    erasures.add_argument("--limit", type=int, default=50, help="show at most this many, newest first (default 50)")
    erasures.add_argument("--json", action="store_true", help="print JSON")
    config = actions.add_parser("config", help="change device settings")
    config_actions = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    config_set = config_actions.add_parser("set", help="set settings (key=value, dotted keys, JSON values)")
    target = config_set.add_mutually_exclusive_group(required=True)
    target.add_argument("device", nargs="?", help="the device")
    target.add_argument("--group", help="every device of this tenant")
    config_set.add_argument("values", nargs="+", metavar="key=value", help="e.g. conversation.follow_up_s=30")
    config_set.add_argument("--expect-version", type=int, help="refuse if the desired version is not this one")
    config_set.add_argument("--json", action="store_true", help="print JSON")
    cmd = actions.add_parser("cmd", help="send a command to a device and wait for its answer")
    cmd.add_argument("device")
    cmd.add_argument("name", choices=[name.value for name in CommandName])
    cmd.add_argument("--timeout", type=float, default=15.0, help="seconds to wait for the answer (default 15)")
    cmd.add_argument("--json", action="store_true", help="print JSON")
    return parser


def _print(data: Any, as_json: bool, lines: Sequence[str]) -> None:
    if as_json:
        print(json.dumps(data, default=_plain, ensure_ascii=False, indent=2))
    else:
        print("\n".join(lines))


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _assignment(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise SystemExit(f"papo-cloud: error: {text!r} is not key=value")
    key, raw = text.split("=", 1)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.split("."), value


def _nested(values: list[str]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for path, value in map(_assignment, values):
        node = result
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return result


def _run_ingestors(settings: CloudSettings, workers: int) -> int:
    from papo_sync.cloud.ingest import Ingestor

    if workers > 1:
        processes = [multiprocessing.Process(target=_run_ingestors, args=(settings, 1)) for _ in range(workers)]
        for process in processes:
            process.start()
        for process in processes:
            process.join()
        return 0
    ingestor = Ingestor(settings)
    signal.signal(signal.SIGTERM, lambda *_: ingestor.stop())
    signal.signal(signal.SIGINT, lambda *_: ingestor.stop())
    gc.freeze()  # what exists now (modules, compiled statements) lives as long as the process: never scan it again
    ingestor.run()
    return 0


def _fleet(args: argparse.Namespace, settings: CloudSettings) -> int:
    from papo_sync.cloud.fleet import Fleet

    fleet = Fleet(settings)
    try:
        if args.fleet_command == "devices":
            rows = fleet.devices()
            _print(rows, args.json, [f"{'device':20} {'presence':9} {'version':9} {'last seen':25} backlog"] + [
                f"{r['device_id']:20} {r['presence']:9} {r['version'] or '-':9} "
                f"{r['last_seen']:%Y-%m-%d %H:%M:%S %Z}   {r['outbox_depth'] if r['outbox_depth'] is not None else '-'}"
                for r in rows
            ])  # fmt: skip
        elif args.fleet_command == "turns":
            rows = fleet.turns(args.device, args.limit)
            _print(rows, args.json, [f"{r['seq']:>6} {r['role']:9} {r['text']}" for r in rows])
        elif args.fleet_command == "erasures":
            rows = fleet.erasures(args.tenant, args.device, args.limit)
            _print(rows, args.json, _erasure_lines(rows))
        elif args.fleet_command == "config":
            devices = [args.device] if args.device else fleet.group(args.group)
            changes = _nested(args.values)
            done = [
                {"device": d, "version": fleet.set_config(d, changes, args.expect_version).version} for d in devices
            ]
            _print(done, args.json, [f"{d['device']}: desired version {d['version']} published" for d in done])
        else:
            result = fleet.command(args.device, CommandName(args.name), {}, args.timeout)
            _print(result.model_dump(), args.json, [f"{'ok' if result.ok else 'FAILED'}: {result.detail}"])
            return 0 if result.ok else 1
    finally:
        fleet.close()
    return 0


def _erasure_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The erasure listing as a table a person can read."""
    if not rows:
        return ["no erasure requests"]

    def when(at: datetime | None, missing: str) -> str:
        return missing if at is None else f"{at.astimezone(UTC):%Y-%m-%d %H:%M:%S}"

    lines = [
        "times in UTC",
        f"{'device':20} {'erased':12} {'asked':19}  {'erased in db':19}  {'complete':19}  late items dropped",
    ]
    for r in rows:
        what = "everything" if r["scope"] == "all_history" else f"{r['turns']} turn(s)"
        lines.append(
            f"{r['device_id']:20} {what:12} {when(r['requested_at'], '-'):19}  {when(r['applied_at'], '-'):19}  "
            f"{when(r['completed_at'], 'waiting'):19}  {r['late_dropped']}"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `papo-cloud` command; errors are one line and exit code 1."""
    from papo_sync.cloud.fleet import FleetError

    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="ts=%(asctime)s level=%(levelname)s logger=%(name)s %(message)s")
    try:
        settings = CloudSettings()
    except ValidationError as exc:
        print(f"papo-cloud: error: invalid PAPO_CLOUD_* settings: {exc.errors()[0]['msg']}", file=sys.stderr)
        return 1
    try:
        if args.command == "migrate":
            from papo_sync.cloud.schema import migrate

            migrate(settings.database_url)
            print("database is up to date")
            return 0
        if args.command == "ingest":
            return _run_ingestors(settings, args.workers)
        return _fleet(args, settings)
    except FleetError as exc:
        print(f"papo-cloud: error: {exc}", file=sys.stderr)
        return 1
