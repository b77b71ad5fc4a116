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
from pathlib import Path
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
  papo-cloud fleet keygen                    make the fleet's signing key (devices take only what it signs)
  papo-cloud devices add DEVICE --tenant T   let a new device connect (prints its password once)
  papo-cloud devices remove DEVICE           stop a device from connecting (lost, stolen, returned)
  papo-cloud devices list                    every enrolled device and its tenant
  papo-cloud broker setup                    write the broker's configuration (TLS for devices)
  papo-cloud caregivers add TENANT --name N --email A   who is warned (also --webhook URL, --ntfy URL/TOPIC)
  papo-cloud caregivers list|remove ID|test ID|policy   see, remove, try a caregiver's channel; tenant policy
  papo-cloud alerts                          run the caregiver alert service (Ctrl-C to stop)
  papo-cloud alerts list | ack ID            alerts and every delivery attempt; acknowledge one

Settings come from PAPO_CLOUD_* variables (PAPO_CLOUD_DATABASE_URL, PAPO_CLOUD_REDIS_URL,
PAPO_CLOUD_BROKER__HOST, PAPO_CLOUD_BROKER__USERNAME, PAPO_CLOUD_FLEET_SIGNING_KEY, ...).
Every fleet command takes --json.
"""
KEYGEN_HELP = """\
Make the fleet's signing key: an Ed25519 private key (FILE, readable only by you) and its public key
(the same name ending in .pub). Every setting and command the fleet sends is signed with it, and each
device takes only what it signed (`papo-cloud devices add` writes the public key with the device's
credentials). An existing key is never replaced: the devices trust it. Keep it private and back it up.
FILE defaults to PAPO_CLOUD_FLEET_SIGNING_KEY (/etc/papo-cloud/fleet.key); `broker setup` makes it too.
"""
DEVICES_ADD_HELP = """\
Let a new Papo device connect to the fleet.

This makes a long random password for the device, lets it use only its own messages under its tenant
(the family or organisation it belongs to), records the tenant in the database and tells the broker.
The password is shown once. Three files are written: the device's settings (FILE, default DEVICE.toml)
and its password (the same name ending in .password), readable only by you, and the fleet's public key
(ending in .fleet.pub: the device takes only the settings and commands signed by the fleet's key). Copy
all three to the device (into PAPO_CLOUD_ENROL_DEVICE_DIR, default /etc/papo) and use the settings file as
its /etc/papo/papo.toml (or add its lines there). Running it again for the same device gives it a new password.

Where the broker's files are and the address devices use come from PAPO_CLOUD_ENROL_BROKER_DIR,
PAPO_CLOUD_ENROL_HOST and PAPO_CLOUD_ENROL_PORT (a broker on another machine always needs TLS:
the device is told to check it with PAPO_CLOUD_ENROL_DEVICE_CA).
"""
BROKER_SETUP_HELP = """\
Write the MQTT broker's configuration for the fleet (Mosquitto): its settings file, the list of who may
use which messages, and the password file. Enrolled devices keep their passwords.

Devices connect with TLS on PAPO_CLOUD_ENROL_LISTEN:PAPO_CLOUD_ENROL_LISTEN_PORT (default 0.0.0.0:8883),
using the certificate in PAPO_CLOUD_ENROL_TLS_CERT and PAPO_CLOUD_ENROL_TLS_KEY (signed by
PAPO_CLOUD_ENROL_TLS_CA); the cloud's own services use port PAPO_CLOUD_ENROL_LOCAL_PORT (1883) on
127.0.0.1 only. Two cloud accounts are made the first time, each with its password in a file next to the
configuration: `ingest` (receives what devices send) and `fleet` (sends settings and commands). The
fleet's signing key is made too if there is none (PAPO_CLOUD_FLEET_SIGNING_KEY; see `fleet keygen`).
Start or reload the broker afterwards: mosquitto -c DIR/mosquitto.conf.
"""
DEVICES_REMOVE_HELP = """\
Stop a device from connecting: for a lost, stolen or returned device.

Its password and its rights on the broker are removed at once (a connected device is disconnected) and it
is marked revoked in the database. What it synced before stays. To use it again, enrol it again with
`papo-cloud devices add`, which gives it a new password.
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
    keygen = actions.add_parser(
        "keygen", help="make the fleet's signing key", description=KEYGEN_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    keygen.add_argument("--out", type=Path, metavar="FILE", help="where to write the private key")
    _devices_parser(commands)
    from papo_sync.cloud.alerts.commands import add_parsers

    add_parsers(commands)
    return parser


def _devices_parser(commands: Any) -> None:
    """`papo-cloud devices add|remove|list`."""
    raw = argparse.RawDescriptionHelpFormatter
    devices = commands.add_parser("devices", help="let devices connect, or stop them (enrolment)")
    actions = devices.add_subparsers(dest="devices_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="let a new device connect", description=DEVICES_ADD_HELP, formatter_class=raw)
    add.add_argument("device", help="the device's name (its device_id), e.g. sala-silva-01")
    add.add_argument("--tenant", required=True, help="the family or organisation it belongs to, e.g. familia-silva")
    add.add_argument(
        "--out", type=Path, metavar="FILE", help="where to write the device's settings (default DEVICE.toml)"
    )
    remove = actions.add_parser(
        "remove", help="stop a device from connecting", description=DEVICES_REMOVE_HELP, formatter_class=raw
    )
    remove.add_argument("device", help="the device's name")
    listing = actions.add_parser("list", help="every enrolled device and its tenant")
    listing.add_argument("--json", action="store_true", help="print JSON")
    broker = commands.add_parser("broker", help="the MQTT broker's configuration")
    broker_actions = broker.add_subparsers(dest="broker_command", required=True, metavar="ACTION")
    broker_actions.add_parser(
        "setup", help="write the broker's configuration", description=BROKER_SETUP_HELP, formatter_class=raw
    )


def _devices(args: argparse.Namespace, settings: CloudSettings) -> int:
    from papo_sync.cloud.enrol import Enrolment, EnrolSettings, enrolled_at_text
    from papo_sync.cloud.keys import ensure_fleet_key

    try:
        enrol_settings = EnrolSettings()
    except ValidationError as exc:
        print(f"papo-cloud: error: invalid PAPO_CLOUD_ENROL_* settings: {exc.errors()[0]['msg']}", file=sys.stderr)
        return 1
    enrolment = Enrolment(settings.database_url, enrol_settings)
    reload_note = (
        "the broker was not running here: it reads the change when it starts (or `systemctl reload mosquitto`)"
    )
    try:
        if args.command == "broker":
            created = enrolment.setup_broker()
            print(f"broker configuration written: {enrol_settings.broker_dir / 'mosquitto.conf'}")
            for account in created:
                print(f"new cloud account {account}: password in {enrol_settings.broker_dir / (account + '.password')}")
            if ensure_fleet_key(settings.fleet_signing_key):
                print(f"new fleet signing key: {settings.fleet_signing_key} (keep it private; back it up)")
        elif args.devices_command == "add":
            out = args.out or Path(f"{args.device}.toml")
            made = enrolment.add(args.device, args.tenant, out, settings.fleet_signing_key)
            print(f"{made.device_id} enrolled in tenant {made.tenant}")
            print(f"password (shown only now): {made.password}")
            print(f"device settings: {made.settings_file}\ndevice password file: {made.password_file}")
            print(f"fleet public key: {made.fleet_key_file}")
            print("copy all three to the device; keep the first two private")
            if not made.broker_reloaded:
                print(reload_note)
        elif args.devices_command == "remove":
            reloaded = enrolment.remove(args.device)
            print(f"{args.device} can no longer connect" if reloaded else f"{args.device} revoked; {reload_note}")
        else:
            rows = enrolment.listing()
            _print(rows, args.json, [f"{'device':24} {'tenant':24} {'enrolled':17} revoked"] + [
                f"{r['device_id']:24} {r['tenant']:24} {enrolled_at_text(r['enrolled_at']):17} "
                f"{enrolled_at_text(r['revoked_at'])}"
                for r in rows
            ])  # fmt: skip
    finally:
        enrolment.close()
    return 0


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


def _keygen(out: Path) -> int:
    """`papo-cloud fleet keygen`: a new signing key (never replacing one)."""
    from papo_sync.cloud.keys import create_fleet_key, public_key_path

    made = create_fleet_key(out)
    print(f"fleet signing key: {out} (keep it private; back it up)")
    print(f"public key: {public_key_path(out)} (key id {made}); `papo-cloud devices add` copies it to each device")
    return 0


def _fleet(args: argparse.Namespace, settings: CloudSettings) -> int:
    from papo_sync.cloud.fleet import Fleet

    if args.fleet_command == "keygen":
        return _keygen(args.out or settings.fleet_signing_key)
    fleet = Fleet(settings)
    try:
        if args.fleet_command == "devices":
            rows = fleet.devices()
            head = f"{'device':20} {'presence':9} {'version':9} {'last seen':25} {'backlog':8} health"
            _print(rows, args.json, [head] + [
                f"{r['device_id']:20} {r['presence']:9} {r['version'] or '-':9} "
                f"{r['last_seen']:%Y-%m-%d %H:%M:%S %Z}   "
                f"{r['outbox_depth'] if r['outbox_depth'] is not None else '-':<8} {_health(r)}"
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


def _health(row: dict[str, Any]) -> str:
    """A device's last reported health verdict and its reasons ('-' before any)."""
    reasons = row.get("health_reasons") or []
    return f"{row.get('health') or '-'}{': ' + ', '.join(map(str, reasons)) if reasons else ''}"


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


def _alerts(args: argparse.Namespace, settings: CloudSettings) -> int:
    """`papo-cloud caregivers …` and `papo-cloud alerts …` (papo_sync.cloud.alerts.commands)."""
    import psycopg

    from papo_sync.cloud.alerts.commands import run_alerts, run_caregivers
    from papo_sync.cloud.alerts.targets import CaregiverError

    try:
        return run_caregivers(args, settings) if args.command == "caregivers" else run_alerts(args, settings)
    except psycopg.OperationalError as exc:
        raise CaregiverError(f"cannot reach the database: {str(exc).strip()}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `papo-cloud` command; errors are one line and exit code 1."""
    from papo_sync.cloud.alerts.targets import CaregiverError
    from papo_sync.cloud.enrol import EnrolError
    from papo_sync.cloud.fleet import FleetError
    from papo_sync.cloud.keys import FleetKeyError

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
        if args.command in ("devices", "broker"):
            return _devices(args, settings)
        if args.command in ("caregivers", "alerts"):
            return _alerts(args, settings)
        return _fleet(args, settings)
    except (FleetError, EnrolError, FleetKeyError, CaregiverError) as exc:
        print(f"papo-cloud: error: {exc}", file=sys.stderr)
        return 1
