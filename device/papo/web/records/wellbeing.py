"""Bem-estar, the JSON API: signs of trouble Papo noticed; mark one as seen."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.params import FromPath

from papo.web.records.deps import AnyRequest, Ctx
from papo.web.records.errors import OWNER, WITH_ID, not_found
from papo.web.records.models import WellbeingOut
from papo.web.security import current_owner, owner_required


class WellbeingApi(Controller):
    """`/api/v1/wellbeing`: the wellbeing events (time, kind, severity, the matched words only)."""

    path = "/api/v1/wellbeing"
    guards = (owner_required,)
    tags = ("Bem-estar",)

    @get("/", sync_to_thread=True, raises=OWNER, summary="Wellbeing events, newest first")
    def list_events(self, ctx: Ctx) -> list[WellbeingOut]:
        """Every wellbeing event, newest first."""
        return [WellbeingOut.of(event) for event in ctx.store.wellbeing.all()]

    @post("/{event_id:str}/seen", status_code=200, sync_to_thread=True, raises=WITH_ID, summary="Mark an event seen")
    def mark_seen(self, ctx: Ctx, request: AnyRequest, event_id: FromPath[str]) -> WellbeingOut:
        """Record that the logged-in owner saw the event (the first time counts)."""
        event = ctx.store.wellbeing.mark_seen(event_id, current_owner(request))
        if event is None:
            raise not_found("wellbeing event", event_id)
        return WellbeingOut.of(event)
