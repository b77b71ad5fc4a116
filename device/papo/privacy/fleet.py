"""The fleet's privacy commands on the device: delete-history (erase everything) and forget-memories."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, ValidationError

from papo.fleet import CommandHandler
from papo.privacy.scrub import Scrubber, wipe_now
from papo.store import Erasure, Store
from papo_sync.protocol import Command, CommandResult


class DeleteHistoryArgs(BaseModel):
    """The arguments of the fleet command delete-history."""

    model_config = ConfigDict(extra="forbid", strict=True)

    include_reminders: bool = False


def _result(command: Command, detail: str, erasure: Erasure, wiped: bool) -> CommandResult:
    counts = erasure.model_dump(exclude={"request"})
    data = {**counts, "erasure_id": erasure.request.id, "wiped": wiped}
    return CommandResult(command_id=command.command_id, ok=True, detail=detail, data=data)


def delete_history(store: Store, scrubber: Scrubber) -> CommandHandler:
    """The delete-history handler: erase everything everywhere (pending reminders too with include_reminders)."""

    def handle(command: Command) -> CommandResult:
        try:
            args = DeleteHistoryArgs.model_validate(command.args)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "args"
            return CommandResult(command_id=command.command_id, ok=False, detail=f"{where}: {first['msg']}")
        erasure = store.erasures.erase_all(args.include_reminders)
        return _result(command, "erased everything here; the cloud erases its copy", erasure, wipe_now(scrubber))

    return handle


def forget_memories(store: Store, scrubber: Scrubber) -> CommandHandler:
    """The forget-memories handler: forget every memory and wipe them from every file."""

    def handle(command: Command) -> CommandResult:
        erasure = store.erasures.forget_memories(None)
        if erasure is None:
            return CommandResult(command_id=command.command_id, ok=True, detail="no memories", data={"memories": 0})
        return _result(command, "memories erased", erasure, wipe_now(scrubber))

    return handle
