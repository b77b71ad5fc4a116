"""Days and times as the pages say them, in the device's local time ("Hoje", "Ontem", "terça-feira, 3 de março")."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

Translate = Callable[[str], str]


def N_(message: str) -> str:  # noqa: N802 (the name gettext's extractors look for)
    """Mark `message` for translation where it is defined; it is translated where it is shown."""
    return message


WEEKDAYS = (
    N_("segunda-feira"), N_("terça-feira"), N_("quarta-feira"), N_("quinta-feira"), N_("sexta-feira"),
    N_("sábado"), N_("domingo"),
)  # fmt: skip
MONTHS = (
    N_("janeiro"), N_("fevereiro"), N_("março"), N_("abril"), N_("maio"), N_("junho"),
    N_("julho"), N_("agosto"), N_("setembro"), N_("outubro"), N_("novembro"), N_("dezembro"),
)  # fmt: skip


def day_label(day: date, today: date, _: Translate) -> str:
    """The day as said on the page: "Hoje", "Ontem", "Amanhã", or "terça-feira, 3 de março de 2026"."""
    if day == today:
        return _("Hoje")
    if day == today + timedelta(days=1):
        return _("Amanhã")
    if day == today - timedelta(days=1):
        return _("Ontem")
    return _("%(weekday)s, %(day)s de %(month)s de %(year)s") % {
        "weekday": _(WEEKDAYS[day.weekday()]), "day": day.day, "month": _(MONTHS[day.month - 1]), "year": day.year,
    }  # fmt: skip


def when_label(moment: datetime, today: date, _: Translate) -> str:
    """A moment as "Hoje às 14:05" or "terça-feira, 3 de março de 2026 às 08:00" (local time)."""
    local = moment.astimezone()
    return _("%(day)s às %(time)s") % {"day": day_label(local.date(), today, _), "time": f"{local:%H:%M}"}


def today() -> date:
    """Today on the device's clock."""
    return datetime.now().astimezone().date()
