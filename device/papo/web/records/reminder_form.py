"""The reminder form of the Lembretes page: what was typed, read into the API's own model, errors per field.

The rules (1–200 characters, a time still to come for a new one) are the API model's; this only joins the day and
the hour fields and says each problem in the page's language next to its field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time

from pydantic import ValidationError

from papo.store import Reminder, ReminderRepeat
from papo.web.records.dates import Translate
from papo.web.records.models import NewReminderIn, ReminderIn

FIELDS = ("o_que", "dia", "hora", "repetir")


@dataclass
class ReminderForm:
    """The form's values (as typed, to show again), its errors by field, and the reminder when all is well."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    reminder: ReminderIn | None = None


def blank_form(day: date) -> ReminderForm:
    """An empty form for a new reminder, on `day`."""
    return ReminderForm({"o_que": "", "dia": day.isoformat(), "hora": "", "repetir": ReminderRepeat.NONE.value})


def form_of(reminder: Reminder) -> ReminderForm:
    """The form filled with a stored reminder (in local time), to change it."""
    local = reminder.due_at.astimezone()
    return ReminderForm(
        {
            "o_que": reminder.what,
            "dia": local.date().isoformat(),
            "hora": f"{local:%H:%M}",
            "repetir": reminder.repeat.value,
        }
    )


def _moment(values: dict[str, str], errors: dict[str, str], _: Translate) -> datetime | None:
    """The local day and hour typed, as one naive local time (None, with errors, if either is not valid)."""
    try:
        day = date.fromisoformat(values["dia"])
    except ValueError:
        errors["dia"] = _("Escolha o dia.")
    try:
        hour = time.fromisoformat(values["hora"])
    except ValueError:
        errors["hora"] = _("Escolha a hora.")
    return None if errors else datetime.combine(day, hour.replace(second=0, microsecond=0))


def _reason(field_name: str, kind: str, _: Translate) -> tuple[str, str]:
    """The form field and the plain words for one problem the API model found."""
    if field_name == "what":
        if kind == "string_too_long":
            return "o_que", _("Use no máximo 200 letras.")
        return "o_que", _("Escreva o que o Papo deve lembrar.")
    if field_name == "due_at":
        return "quando", _("Escolha um dia e uma hora que ainda vão chegar.")
    return "repetir", _("Escolha se o lembrete se repete.")


def read_form(data: dict[str, str], new: bool, _: Translate) -> ReminderForm:
    """Read the posted form into the API's model (a new reminder must be in the future); errors by field."""
    values = {name: str(data.get(name, "")).strip() for name in FIELDS}
    form = ReminderForm(values)
    due_at = _moment(values, form.errors, _)
    model = NewReminderIn if new else ReminderIn
    try:
        form.reminder = model.model_validate({"what": values["o_que"], "due_at": due_at, "repeat": values["repetir"]})
    except ValidationError as exc:
        for error in exc.errors():
            name, reason = _reason(str(error["loc"][0]) if error["loc"] else "", error["type"], _)
            if not (name == "quando" and due_at is None):  # the day or hour itself is already marked
                form.errors.setdefault(name, reason)
    if form.errors:
        form.reminder = None
    return form
