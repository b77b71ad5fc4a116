"""`papo history`, `papo memory` and `papo reminders`: what the companion keeps, remembers and will say."""

from __future__ import annotations

from papo.commands.output import say, say_json
from papo.commands.privacy import report_erasure
from papo.errors import PapoError
from papo.settings import Settings
from papo.store import Role
from papo.wiring import Wiring


def memory_list(settings: Settings, as_json: bool) -> int:
    """Print what the companion remembers."""
    with Wiring(settings) as parts:
        rows = parts.store().memories.all()
    if as_json:
        say_json([r.model_dump(mode="json") for r in rows])
    elif not rows:
        say("the companion remembers nothing yet")
    for row in [] if as_json else rows:
        say(f"{row.id}  {row.created_at:%Y-%m-%d %H:%M}  {row.text}")
    return 0


def memory_forget(settings: Settings, memory_id: str | None, everything: bool) -> int:
    """Forget one memory, or all of them, and wipe them from the memory index and cache files."""
    if (memory_id is None) == (not everything):
        raise PapoError("give one memory id (see `papo memory list`) or --all")
    with Wiring(settings) as parts:
        erasure = parts.store().erasures.forget_memories(None if memory_id is None else [memory_id])
        if erasure is None:
            if everything:
                say("the companion remembers nothing; nothing to forget")
                return 0
            raise PapoError(f"no memory with id {memory_id!r}; see `papo memory list`")
        return report_erasure(parts, erasure)


def history(settings: Settings, limit: int, as_json: bool) -> int:
    """Print the newest turns, oldest first, with the ids `papo forget` takes."""
    if limit < 1:
        raise PapoError("--limit must be at least 1")
    with Wiring(settings) as parts:
        turns = list(reversed(parts.store().turns.recent(limit)))
    if as_json:
        say_json([turn.model_dump(mode="json") for turn in turns])
        return 0
    if not turns:
        say("nothing was said yet")
    for turn in turns:
        who = "Papo" if turn.role is Role.COMPANION else "person"
        say(f"{turn.id}  {turn.started_at.astimezone():%Y-%m-%d %H:%M}  {who:6}  {turn.text}")
    return 0


def reminders_list(settings: Settings, include_done: bool, as_json: bool) -> int:
    """Print the reminders (pending ones unless --all)."""
    with Wiring(settings) as parts:
        rows = parts.store().reminders.all(include_done)
    if as_json:
        say_json([r.model_dump(mode="json") for r in rows])
        return 0
    if not rows:
        say("no reminders")
    for row in rows:
        say(f"{row.due_at.astimezone():%Y-%m-%d %H:%M}  {row.status.value:9} {row.what}")
    return 0
