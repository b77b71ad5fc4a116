"""`papo-cloud caregivers …` and `papo-cloud alerts …`: parsing and calling (the CLI's caregiver-alert verbs)."""

from __future__ import annotations

import argparse
import json
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from papo_sync.cloud.alerts import caregivers, store
from papo_sync.cloud.alerts.channels import Channel, send
from papo_sync.cloud.alerts.db import Db, connect
from papo_sync.cloud.alerts.message import Notice
from papo_sync.cloud.alerts.policy import SEVERITIES
from papo_sync.cloud.alerts.targets import CaregiverError, caregiver, new_secret, read_secret_file
from papo_sync.cloud.settings import CloudSettings

CAREGIVERS_ADD_HELP = """\
Add a person to warn when Papo hears a call for help or a fall in this tenant (family).

Give one channel: --email ADDR (a pt-BR e-mail with what was heard, when, which device and a link to
confirm), --webhook URL (signed JSON, for WhatsApp/Telegram/SMS gateways; the HMAC secret comes from
--secret-file, a file only you can read, or is made and shown once), or --ntfy URL/TOPIC (a push to the
ntfy app; --secret-file may hold an access token). URLs must be https (http only to this machine).
--order: who is warned first (1), next (2), ...; nobody confirms within the tenant's delay (5 minutes unless
`caregivers policy` says otherwise) → the next in order, then everybody.
"""
ALERTS_HELP = """\
Caregiver alerts. Without an action: run the alert service (several may run; each alert is sent once).
It serves the acknowledgement page on PAPO_CLOUD_ALERTS__LISTEN_HOST:LISTEN_PORT (links use
PAPO_CLOUD_ALERTS__PUBLIC_URL), sends e-mail through PAPO_CLOUD_ALERTS__SMTP__HOST/PORT/USERNAME/PASSWORD_FILE/
FROM_ADDR and tells each device how its alert goes (signed with the fleet key, as the `fleet` broker user).
"""


def add_parsers(commands: Any) -> None:
    """Add `caregivers` and `alerts` to the `papo-cloud` parser."""
    raw = argparse.RawDescriptionHelpFormatter
    people = commands.add_parser("caregivers", help="who is warned when Papo hears a call for help")
    actions = people.add_subparsers(dest="caregivers_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a caregiver", description=CAREGIVERS_ADD_HELP, formatter_class=raw)
    add.add_argument("tenant", help="the family or organisation, e.g. familia-silva")
    add.add_argument("--name", required=True, help="how Papo names them: «Avisei Ana»")
    channel = add.add_mutually_exclusive_group(required=True)
    channel.add_argument("--email", metavar="ADDR")
    channel.add_argument("--webhook", metavar="URL")
    channel.add_argument("--ntfy", metavar="URL/TOPIC")
    add.add_argument("--secret-file", type=Path, metavar="F", help="webhook HMAC secret / ntfy token (chmod 600)")
    add.add_argument("--order", type=int, default=1, help="1 is warned first (default 1)")
    listing = actions.add_parser("list", help="the caregivers, in the order they are warned")
    listing.add_argument("--tenant")
    listing.add_argument("--json", action="store_true", help="print JSON")
    remove = actions.add_parser("remove", help="remove a caregiver")
    remove.add_argument("id", type=int)
    test = actions.add_parser("test", help="send a test alert through a caregiver's channel and say how it went")
    test.add_argument("id", type=int)
    rules = actions.add_parser("policy", help="a tenant's alert threshold, escalation delay and time zone")
    rules.add_argument("tenant")
    rules.add_argument("--threshold", choices=SEVERITIES, default="high", help="lowest severity that alerts")
    rules.add_argument("--escalate-after", type=int, default=5, metavar="MIN", help="minutes (default 5)")
    rules.add_argument("--timezone", default="America/Sao_Paulo")
    alerts = commands.add_parser("alerts", help="run the alert service; list and acknowledge alerts",
                                 description=ALERTS_HELP, formatter_class=raw)  # fmt: skip
    verbs = alerts.add_subparsers(dest="alerts_command", required=False, metavar="ACTION")
    verbs.add_parser("run", help="run the alert service (the default)")
    shown = verbs.add_parser("list", help="alerts, newest first, with every delivery attempt")
    shown.add_argument("--tenant")
    shown.add_argument("--limit", type=int, default=50)
    shown.add_argument("--json", action="store_true", help="print JSON")
    ack = verbs.add_parser("ack", help="acknowledge an alert (stops its escalation; the device is told)")
    ack.add_argument("id", type=int)
    ack.add_argument("--by", help="the caregiver's name, if one of them asked you to")


def _print(data: Any, as_json: bool, lines: list[str]) -> None:
    if as_json:
        print(json.dumps(data, default=_plain, ensure_ascii=False, indent=2))
    else:
        print("\n".join(lines))


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def run_caregivers(args: argparse.Namespace, settings: CloudSettings) -> int:
    """`papo-cloud caregivers ACTION`."""
    if args.caregivers_command == "add":  # checked before anything is stored
        made_secret = None
        secret = None if args.secret_file is None else read_secret_file(args.secret_file)
        if args.webhook is not None and secret is None:
            secret = made_secret = new_secret()
        new = caregiver(args.tenant, args.name, args.order, args.email, args.webhook, args.ntfy, secret)
    with connect(settings.database_url) as db:
        if args.caregivers_command == "add":
            made = caregivers.add(db, new)
            print(f"caregiver {made} added: {new.name} ({new.target.channel}) in {new.tenant}, order {new.position}")
            if made_secret is not None:
                print(f"webhook secret (shown only now; verify X-Papo-Signature with it): {made_secret}")
        elif args.caregivers_command == "list":
            rows = caregivers.listing(db, args.tenant)
            _print(rows, args.json, [f"{'id':>5} {'tenant':20} {'order':>5} {'name':20} {'channel':8} target"] + [
                f"{r['id']:>5} {r['tenant']:20} {r['position']:>5} {r['name']:20} {r['channel']:8} {r['target']}"
                for r in rows
            ])  # fmt: skip
        elif args.caregivers_command == "remove":
            caregivers.remove(db, args.id)
            print(f"caregiver {args.id} removed")
        elif args.caregivers_command == "policy":
            caregivers.set_policy(db, args.tenant, args.threshold, args.escalate_after, args.timezone)
            print(f"{args.tenant}: alerts from {args.threshold}, next caregiver after {args.escalate_after} min")
        else:
            return _test(db, args.id, settings)
    return 0


def _test(db: Db, caregiver_id: int, settings: CloudSettings) -> int:
    """Send a test notice to one caregiver (one attempt) and say how it went."""
    row = caregivers.get(db, caregiver_id)
    rules = caregivers.policy(db, row["tenant"], settings.alerts.timezone)
    notice = Notice(
        alert_id=0, tenant=row["tenant"], device_id="-", msg_id="-", kind="test", severity="low", heard=None,
        at=datetime.now(UTC), timezone=rules["timezone"], caregiver=row["name"],
        ack_url=settings.alerts.public_url.rstrip("/") + "/", step=0, test=True,
    )  # fmt: skip
    key = f"papo-test-{caregiver_id}-{int(notice.at.timestamp())}"
    outcome = send(notice, Channel(row["channel"], row["target"], row["secret"]), settings.alerts, key)
    verdict = "delivered" if outcome.ok else "NOT delivered"
    print(f"test alert to {row['name']} ({row['channel']} {row['target']}): {verdict}: {outcome.detail}")
    return 0 if outcome.ok else 1


def run_alerts(args: argparse.Namespace, settings: CloudSettings) -> int:
    """`papo-cloud alerts [run|list|ack ID]`."""
    if args.alerts_command in (None, "run"):
        from papo_sync.cloud.alerts.service import AlertService

        try:
            service = AlertService(settings)
        except OSError as exc:
            where = f"{settings.alerts.listen_host}:{settings.alerts.listen_port}"
            raise CaregiverError(f"cannot serve the acknowledgement page on {where}: {exc.strerror}") from None
        signal.signal(signal.SIGTERM, lambda *_: service.stop())
        signal.signal(signal.SIGINT, lambda *_: service.stop())
        service.run()
        return 0
    with connect(settings.database_url) as db:
        if args.alerts_command == "ack":
            try:
                new = store.acknowledge(db, args.id, args.by, "cli")
            except LookupError:
                raise CaregiverError(f"no alert {args.id}; see `papo-cloud alerts list`") from None
            print(f"alert {args.id} acknowledged" if new else f"alert {args.id} was already acknowledged")
            return 0
        rows = store.listing(db, args.tenant, args.limit)
        _print(rows, args.json, _alert_lines(rows))
    return 0


_UPDATE = {"ok": " (estou bem)"}  # how a delivery that is not the alert itself is named in the listing


def _alert_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The alert listing as a table a person can read (times in UTC)."""
    if not rows:
        return ["no alerts"]
    lines = [f"{'id':>5} {'created (UTC)':19} {'tenant':16} {'device':16} {'kind':10} {'state':14} deliveries"]
    for r in rows:
        sent = (
            ", ".join(
                f"{d['caregiver']} {d['channel']}{_UPDATE.get(d.get('update'), '')} {d['status']} ×{d['attempts']}"
                for d in r["deliveries"]
            )
            or "-"
        )
        by = f" by {r['acknowledged_by']}" if r["acknowledged_by"] else ""
        lines.append(
            f"{r['id']:>5} {r['created_at'].astimezone(UTC):%Y-%m-%d %H:%M:%S} {r['tenant']:16} {r['device_id']:16} "
            f"{r['kind']:10} {r['state'] + by:14} {sent}"
        )
    return lines
