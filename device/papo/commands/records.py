"""`papo memory` and `papo reminders`: what the companion remembers and will say."""

from __future__ import annotations

from papo.commands.output import say, say_json
from papo.errors import PapoError
from papo.settings import Settings
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
    """Forget one memory, or all of them (in the store and the memory index)."""
    if (memory_id is None) == (not everything):
        raise PapoError("give one memory id (see `papo memory list`) or --all")
    with Wiring(settings) as parts:
        memory = parts.memory()
        if everything:
            say(f"forgot {memory.forget_all()} memories")
        elif memory_id is not None and not memory.forget(memory_id):
            raise PapoError(f"no memory with id {memory_id!r}; see `papo memory list`")
        else:
            say(f"forgot {memory_id}")
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
