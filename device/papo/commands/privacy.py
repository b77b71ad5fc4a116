"""`papo forget` and `papo export`: erase what was said (one turn, or everything) and take a copy of it all."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

from papo.commands.output import say, say_json
from papo.errors import PapoError
from papo.privacy.export import build_export, write_export
from papo.privacy.finish import Wiped, finish
from papo.settings import Settings
from papo.store import Erasure, ErasureRequest, ErasureScope
from papo.wiring import Wiring

_WHAT = {
    ErasureScope.ALL_HISTORY: "everything",
    ErasureScope.TURNS: "one turn",
    ErasureScope.MEMORIES: "memories",
}


def _counted(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def _summary(erasure: Erasure) -> str:
    parts = [
        _counted(erasure.turns, "turn"),
        _counted(erasure.memories, "memory", "memories"),
        _counted(erasure.wellbeing_events, "wellbeing event"),
        _counted(erasure.reminders, "reminder already said", "reminders already said"),
        _counted(erasure.outbox_rows, "message waiting for the cloud", "messages waiting for the cloud"),
    ]
    kept = [part for part in parts if not part.startswith("0 ")]
    return ", ".join(kept) if kept else "nothing was stored"


def _waiting(elapsed: float) -> None:
    if elapsed == 0.0:
        print("The companion service is running: waiting for it to wipe its memory index and cache...", file=sys.stderr)
    else:
        print(f"  still waiting ({elapsed:.0f} s)", file=sys.stderr)


def report_erasure(parts: Wiring, erasure: Erasure) -> int:
    """Wipe the erasure from the memory index and cache (here or by the service) and tell the person what happened."""
    say(f"Erased on this device: {_summary(erasure)}.")
    wiped = finish(parts, erasure.request, waiting=_waiting)
    if wiped in (Wiped.HERE, Wiped.BY_SERVICE):
        say("It was wiped from the disk too: the records, the memory index and the cache were rewritten without it.")
    elif wiped is Wiped.NOT_YET:
        say(
            "The companion service has not finished wiping it from its memory index and cache yet; it will. "
            "See `papo forget --status`."
        )
    else:
        say(
            "Another papo command is using the memory index and cache, so they were not wiped yet; this is done "
            "when the companion service next starts. See `papo forget --status`."
        )
    if erasure.request.scope is not ErasureScope.MEMORIES:
        if parts.settings.sync.enabled:
            say("The family's cloud is told to erase its copy as soon as the companion is connected.")
        else:
            say("Syncing with a cloud is off; if it is turned on, the cloud is told to erase its copy first.")
    return 0 if wiped in (Wiped.HERE, Wiped.BY_SERVICE) else 1


def _confirmed(include_reminders: bool) -> bool:
    kept = "" if include_reminders else " Reminders not said yet are kept."
    if not sys.stdin.isatty():
        raise PapoError("erasing everything cannot be undone; run it in a terminal to be asked, or add --yes")
    print(
        "This erases everything the companion keeps of what was said: conversations, memories, wellbeing events "
        f"and reminders already said, here and in the family's cloud. It cannot be undone.{kept}",
        file=sys.stderr,
    )
    return input('Type "yes" to erase everything: ').strip().lower() == "yes"


def forget_all(settings: Settings, include_reminders: bool, yes: bool) -> int:
    """Erase everything (after asking, unless `yes`), everywhere it was kept."""
    if not yes and not _confirmed(include_reminders):
        say("Nothing was erased.")
        return 1
    with Wiring(settings) as parts:
        erasure = parts.store().erasures.erase_all(include_reminders)
        code = report_erasure(parts, erasure)
    if erasure.pending_reminders_kept:
        say(
            f"Kept {_counted(erasure.pending_reminders_kept, 'reminder')} not said yet "
            "(`papo forget --all --include-reminders` erases them too)."
        )
    return code


def forget_turn(settings: Settings, turn_id: str, include_reminders: bool) -> int:
    """Erase one turn, the companion's answers to it and what came from them, everywhere it was kept."""
    with Wiring(settings) as parts:
        erasure = parts.store().erasures.erase_turns(turn_id, include_reminders)
        if erasure is None:
            raise PapoError(f"no turn with id {turn_id!r}; `papo history` shows the turns and their ids")
        return report_erasure(parts, erasure)


def _when(moment: datetime | None, missing: str) -> str:
    return missing if moment is None else f"{moment.astimezone():%Y-%m-%d %H:%M:%S}"


def _confirmation(request: ErasureRequest) -> str:
    if request.scope is ErasureScope.MEMORIES:
        return "not needed (memories stay here)"
    return _when(request.confirmed_at, "waiting")


def forget_status(settings: Settings, as_json: bool) -> int:
    """List the erasures asked for: when, wiped from this device's disk, confirmed by the cloud."""
    with Wiring(settings) as parts:
        requests = parts.store().erasures.requests()
    if as_json:
        say_json([request.model_dump(mode="json") for request in requests])
        return 0
    if not requests:
        say("nothing has been erased yet")
        return 0
    say(f"{'asked':19}  {'what':10}  {'wiped from the disk':19}  confirmed by the cloud")
    for request in requests:
        say(
            f"{_when(request.requested_at, '')}  {_WHAT[request.scope]:10}  "
            f"{_when(request.scrubbed_at, 'waiting'):19}  {_confirmation(request)}"
        )
    return 0


def export(settings: Settings, out: Path) -> int:
    """Write everything the device keeps about the person to `out` (JSON, readable by its owner only)."""
    with Wiring(settings) as parts:
        document = build_export(parts.store(), settings)
    try:
        write_export(document, out)
    except OSError as exc:
        raise PapoError(f"cannot write {out}: {exc.strerror}; choose another file with --out") from None
    counts = [
        _counted(len(document.turns), "turn"),
        _counted(len(document.memories), "memory", "memories"),
        _counted(len(document.reminders), "reminder"),
        _counted(len(document.wellbeing_events), "wellbeing event"),
    ]
    say(f"Wrote {out}: {', '.join(counts)}.")
    say("Only you can read the file (it holds the person's words); keep it somewhere safe.")
    return 0
