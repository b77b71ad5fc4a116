"""Conversas, the page: the history by day with search; delete one turn; ask before erasing everything; a copy."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect

from papo.web.i18n import gettext_for
from papo.web.records import actions
from papo.web.records.dates import day_label, today, when_label
from papo.web.records.deps import SEARCH_MAX, AnyRequest, Ctx, Form, PageNumber, Words
from papo.web.records.models import HistoryOut
from papo.web.records.respond import fragment_or_page, fragment_or_redirect
from papo.web.render import page, page_language
from papo.web.security import owner_required, recent_password_required


def _history_context(request: AnyRequest, history: HistoryOut) -> dict[str, Any]:
    """The history with each day and time said in the page's language."""
    _ = gettext_for(page_language(request))
    now = today()
    days = [
        (day_label(day.day, now, _), [(turn, f"{turn.started_at.astimezone():%H:%M}") for turn in day.turns])
        for day in history.days
    ]
    query = {"q": history.q} if history.q else {}
    older = f"/conversas?{urlencode({**query, 'pagina': history.page + 1})}" if history.page < history.pages else None
    newer = f"/conversas?{urlencode({**query, 'pagina': history.page - 1})}" if history.page > 1 else None
    return {"history": history, "days": days, "older": older, "newer": newer}


def _page_of(form: dict[str, str]) -> tuple[str, int]:
    """The search and page the form was sent from (to show the same view again)."""
    number = form.get("pagina", "1")
    return form.get("q", "")[:SEARCH_MAX], int(number) if number.isdigit() and 0 < int(number) < 10**6 else 1


class ConversationsPage(Controller):
    """`/conversas`: what was said to Papo, by day, newest first."""

    path = "/conversas"
    guards = (owner_required,)
    include_in_schema = False

    @get("/", sync_to_thread=True)
    def show(self, request: AnyRequest, ctx: Ctx, q: Words = "", pagina: PageNumber = 1) -> Response[str]:
        """The history page (a search narrows it)."""
        history = actions.history(ctx, q.strip(), pagina)
        notice = {"1": "apagado", "tudo": "tudo"}.get(request.query_params.get("apagado", ""))
        return page(request, "conversas.html.j2", notice=notice, **_history_context(request, history))

    @get("/{turn_id:str}/apagar", sync_to_thread=True)
    def confirm_delete(
        self,
        request: AnyRequest,
        ctx: Ctx,
        turn_id: FromPath[str],
        q: Words = "",
        pagina: PageNumber = 1,
    ) -> Response[str]:
        """Ask before deleting one turn (the way without JavaScript; htmx asks with a dialog)."""
        turn = ctx.store.turns.get(turn_id)
        if turn is None:
            raise NotFoundException("no such turn")
        _ = gettext_for(page_language(request))
        return page(
            request, "conversas_apagar.html.j2", turn=turn, when=when_label(turn.started_at, today(), _), q=q,
            pagina=pagina,
        )  # fmt: skip

    @post("/{turn_id:str}/apagar", sync_to_thread=True, status_code=200)
    def delete(self, request: AnyRequest, ctx: Ctx, turn_id: FromPath[str], data: Form) -> Response[str] | Redirect:
        """Delete one turn (and Papo's answers to it); the history again, without it."""
        if actions.erase_turn(ctx, turn_id) is None:
            raise NotFoundException("no such turn")
        q, number = _page_of(data)
        history = actions.history(ctx, q, number)
        if history.page > history.pages:  # the last turn of the last page went: show the page before
            history = actions.history(ctx, q, history.pages)
        back = f"/conversas?{urlencode({'q': q, 'pagina': number, 'apagado': 1})}"
        return fragment_or_redirect(
            request, "_rec_history.html.j2", back, notice="apagado", **_history_context(request, history)
        )

    @get("/apagar-tudo", sync_to_thread=True)
    def confirm_erase_all(self, request: AnyRequest) -> Response[str]:
        """Say what erasing everything does, and ask."""
        return page(request, "conversas_apagar_tudo.html.j2")

    @post("/exportar", sync_to_thread=True, status_code=200, guards=[recent_password_required])
    def export(self, request: AnyRequest) -> Response[str]:
        """The copy may be downloaded (the password entered within 5 minutes): a link to it.

        The page's script posts here first (asking for the password again when needed), then downloads.
        """
        _ = gettext_for(page_language(request))
        return fragment_or_page(request, "_rec_export_ready.html.j2", _("Cópia de tudo"))
