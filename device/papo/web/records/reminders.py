"""Lembretes, the JSON API: a caregiver adds, changes and removes the reminders Papo says when due."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, post, put
from litestar.params import FromPath, JSONBody, QueryParameter

from papo.web.records.deps import Ctx
from papo.web.records.errors import WITH_BODY, WITH_ID, WITH_ID_AND_BODY, not_found
from papo.web.records.models import NewReminderIn, ReminderIn, ReminderOut
from papo.web.security import owner_required


class RemindersApi(Controller):
    """`/api/v1/reminders`: the same reminders as `papo reminders`, said by the same loop."""

    path = "/api/v1/reminders"
    guards = (owner_required,)
    tags = ("Lembretes",)

    @get("/", sync_to_thread=True, raises=WITH_BODY, summary="Reminders by time")
    def list_reminders(
        self,
        ctx: Ctx,
        include_done: Annotated[bool, QueryParameter(description="Also those already said or missed")] = False,
    ) -> list[ReminderOut]:
        """Reminders by due time (pending ones unless `include_done`)."""
        return [ReminderOut.of(reminder) for reminder in ctx.store.reminders.all(include_done)]

    @post("/", sync_to_thread=True, raises=WITH_BODY, summary="Add a reminder")
    def add(self, ctx: Ctx, data: JSONBody[NewReminderIn]) -> ReminderOut:
        """Keep a new reminder (its time must be in the future); said when due, like one asked for aloud."""
        return ReminderOut.of(ctx.store.reminders.add(data.what, data.due_at, None, data.repeat))

    @put("/{reminder_id:str}", sync_to_thread=True, raises=WITH_ID_AND_BODY, summary="Change a reminder")
    def change(self, ctx: Ctx, reminder_id: FromPath[str], data: JSONBody[ReminderIn]) -> ReminderOut:
        """Change what a reminder says, when and how often; it is pending again."""
        changed = ctx.store.reminders.update(reminder_id, data.what, data.due_at, data.repeat)
        if changed is None:
            raise not_found("reminder", reminder_id)
        return ReminderOut.of(changed)

    @delete("/{reminder_id:str}", sync_to_thread=True, raises=WITH_ID, summary="Remove a reminder")
    def remove(self, ctx: Ctx, reminder_id: FromPath[str]) -> None:
        """Remove a reminder: it will not be said."""
        if not ctx.store.reminders.remove(reminder_id):
            raise not_found("reminder", reminder_id)
