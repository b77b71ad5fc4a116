"""Bem-estar, the page: the signs of trouble Papo noticed; mark one as seen."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect

from papo.store import WellbeingEvent
from papo.web.i18n import gettext_for
from papo.web.records.dates import N_, Translate, today, when_label
from papo.web.records.deps import AnyRequest, Ctx
from papo.web.records.respond import fragment, is_htmx
from papo.web.render import page, page_language
from papo.web.security import current_owner, owner_required

KINDS = {
    "emergency": N_("Emergência"), "fall": N_("Queda"), "unwell": N_("Mal-estar"), "distress": N_("Aflição"),
    "loneliness": N_("Solidão"), "sadness": N_("Tristeza"),
}  # fmt: skip
OTHER_KIND = N_("Outro sinal")
SEVERITIES = {"low": N_("Baixa"), "medium": N_("Média"), "high": N_("Alta"), "critical": N_("Crítica")}


def _shown(event: WellbeingEvent, _: Translate) -> dict[str, Any]:
    """One event as the page says it: kind and urgency in plain words, when noticed and when seen."""
    now = today()
    return {
        "event": event,
        "kind": _(KINDS.get(event.kind, OTHER_KIND)),
        "severity": _(SEVERITIES[event.severity.value]),
        "when": when_label(event.created_at, now, _),
        "seen": None if event.seen_at is None else when_label(event.seen_at, now, _),
    }


class WellbeingPage(Controller):
    """`/bem-estar`: every wellbeing event, newest first; the ones not seen yet stand out."""

    path = "/bem-estar"
    guards = (owner_required,)
    include_in_schema = False

    @get("/", sync_to_thread=True)
    def show(self, request: AnyRequest, ctx: Ctx) -> Response[str]:
        """The wellbeing page."""
        _ = gettext_for(page_language(request))
        events = [_shown(event, _) for event in ctx.store.wellbeing.all()]
        return page(request, "bem_estar.html.j2", events=events, unseen=sum(1 for e in events if e["seen"] is None))

    @post("/{event_id:str}/visto", sync_to_thread=True, status_code=200)
    def mark_seen(self, request: AnyRequest, ctx: Ctx, event_id: FromPath[str]) -> Response[str] | Redirect:
        """Mark one event seen by the logged-in owner; that event again (htmx) or the page."""
        event = ctx.store.wellbeing.mark_seen(event_id, current_owner(request))
        if event is None:
            raise NotFoundException("no such wellbeing event")
        if is_htmx(request):
            return fragment(request, "_rec_event.html.j2", item=_shown(event, gettext_for(page_language(request))))
        return Redirect("/bem-estar", status_code=303)
