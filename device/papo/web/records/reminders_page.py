"""Lembretes, the page: a caregiver adds, changes and removes the reminders Papo says when due."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect

from papo.store import Reminder
from papo.web.context import WebContext
from papo.web.i18n import gettext_for
from papo.web.records.dates import today, when_label
from papo.web.records.deps import AnyRequest, Ctx, Form
from papo.web.records.reminder_form import ReminderForm, blank_form, form_of, read_form
from papo.web.records.respond import fragment, is_htmx
from papo.web.render import page, page_language
from papo.web.security import owner_required

UNPROCESSABLE = 422


def _reminders_context(request: AnyRequest, ctx: WebContext, form: ReminderForm) -> dict[str, Any]:
    """The pending reminders by time, each with its time in the page's language, and the form for a new one."""
    _ = gettext_for(page_language(request))
    now = today()
    reminders = [(reminder, when_label(reminder.due_at, now, _)) for reminder in ctx.store.reminders.all()]
    return {"reminders": reminders, "form": form, "today": now.isoformat()}


def _found(ctx: WebContext, reminder_id: FromPath[str]) -> Reminder:
    reminder = ctx.store.reminders.get(reminder_id)
    if reminder is None:
        raise NotFoundException("no such reminder")
    return reminder


class RemindersPage(Controller):
    """`/lembretes`: the reminders Papo will say, by time."""

    path = "/lembretes"
    guards = (owner_required,)
    include_in_schema = False

    @get("/", sync_to_thread=True)
    def show(self, request: AnyRequest, ctx: Ctx) -> Response[str]:
        """The reminders page, with the form for a new one."""
        notice = next((key for key in ("salvo", "mudado", "removido") if request.query_params.get(key)), None)
        context = _reminders_context(request, ctx, blank_form(today()))
        return page(request, "lembretes.html.j2", notice=notice, **context)

    @post("/", sync_to_thread=True, status_code=200)
    def add(self, request: AnyRequest, ctx: Ctx, data: Form) -> Response[str] | Redirect:
        """Keep a new reminder; with a problem, the form again with the reason next to its field."""
        form = read_form(data, new=True, _=gettext_for(page_language(request)))
        if form.reminder is not None:
            ctx.store.reminders.add(form.reminder.what, form.reminder.due_at, None, form.reminder.repeat)
            form, notice = blank_form(today()), "salvo"
        else:
            notice = None
        if is_htmx(request):  # htmx swaps a 200 only: the form with its errors comes back as one
            return fragment(request, "_rec_reminders.html.j2", notice=notice, **_reminders_context(request, ctx, form))
        if notice is not None:
            return Redirect("/lembretes?salvo=1", status_code=303)
        context = _reminders_context(request, ctx, form)
        return page(request, "lembretes.html.j2", UNPROCESSABLE, notice=None, **context)

    @get("/{reminder_id:str}/mudar", sync_to_thread=True)
    def edit(self, request: AnyRequest, ctx: Ctx, reminder_id: FromPath[str]) -> Response[str]:
        """The form to change one reminder."""
        reminder = _found(ctx, reminder_id)
        return page(request, "lembretes_mudar.html.j2", reminder=reminder, form=form_of(reminder))

    @post("/{reminder_id:str}/mudar", sync_to_thread=True, status_code=200)
    def change(self, request: AnyRequest, ctx: Ctx, reminder_id: FromPath[str], data: Form) -> Response[str] | Redirect:
        """Change one reminder; with a problem, the form again with the reason next to its field."""
        reminder = _found(ctx, reminder_id)
        form = read_form(data, new=False, _=gettext_for(page_language(request)))
        if form.reminder is None:
            return page(request, "lembretes_mudar.html.j2", UNPROCESSABLE, reminder=reminder, form=form)
        changed = ctx.store.reminders.update(
            reminder_id, form.reminder.what, form.reminder.due_at, form.reminder.repeat
        )
        if changed is None:
            raise NotFoundException("no such reminder")
        return Redirect("/lembretes?mudado=1", status_code=303)

    @get("/{reminder_id:str}/remover", sync_to_thread=True)
    def confirm_remove(self, request: AnyRequest, ctx: Ctx, reminder_id: FromPath[str]) -> Response[str]:
        """Ask before removing one reminder (the way without JavaScript; htmx asks with a dialog)."""
        reminder = _found(ctx, reminder_id)
        _ = gettext_for(page_language(request))
        return page(
            request, "lembretes_remover.html.j2", reminder=reminder, when=when_label(reminder.due_at, today(), _)
        )

    @post("/{reminder_id:str}/remover", sync_to_thread=True, status_code=200)
    def remove(self, request: AnyRequest, ctx: Ctx, reminder_id: FromPath[str]) -> Response[str] | Redirect:
        """Remove one reminder; the list again, without it."""
        if not ctx.store.reminders.remove(reminder_id):
            raise NotFoundException("no such reminder")
        if is_htmx(request):
            context = _reminders_context(request, ctx, blank_form(today()))
            return fragment(request, "_rec_reminders.html.j2", notice="removido", **context)
        return Redirect("/lembretes?removido=1", status_code=303)
