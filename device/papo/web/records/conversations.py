"""Conversas, the JSON API: the history by day with search, delete one turn, erase everything, export."""

from __future__ import annotations

from litestar import Controller, Response, delete, get, post
from litestar.datastructures import ResponseHeader
from litestar.params import FromPath, JSONBody

from papo.privacy.export import PersonExport, build_export
from papo.web.records import actions
from papo.web.records.deps import Ctx, PageNumber, Words
from papo.web.records.errors import OWNER, WITH_BODY, WITH_ID, not_found
from papo.web.records.models import EraseAllIn, ErasureOut, HistoryOut
from papo.web.security import owner_required, recent_password_required


class ConversationsApi(Controller):
    """`/api/v1/conversations`: what was said to Papo and what it answered."""

    path = "/api/v1/conversations"
    guards = (owner_required,)
    tags = ("Conversas",)

    @get("/", sync_to_thread=True, raises=WITH_BODY, summary="History by day, newest first, with search")
    def history(
        self,
        ctx: Ctx,
        q: Words = "",
        page: PageNumber = 1,
    ) -> HistoryOut:
        """One page of turns, grouped by day, holding every word of `q` (case and accents ignored)."""
        return actions.history(ctx, q.strip(), page)

    @delete("/turns/{turn_id:str}", status_code=200, sync_to_thread=True, raises=WITH_ID, summary="Delete one turn")
    def delete_turn(self, ctx: Ctx, turn_id: FromPath[str]) -> ErasureOut:
        """Erase one turn, Papo's answers to it and what came from them, here and (by a tombstone) in the cloud."""
        erased = actions.erase_turn(ctx, turn_id)
        if erased is None:
            raise not_found("turn", turn_id)
        return erased

    @post(
        "/erase-all",
        status_code=200,
        sync_to_thread=True,
        guards=[recent_password_required],
        raises=WITH_BODY,
        summary="Erase everything (needs the password re-entered)",
    )
    def erase_all(self, ctx: Ctx, data: JSONBody[EraseAllIn]) -> ErasureOut:
        """Erase every conversation, memory, wellbeing event and reminder already said, here and in the cloud."""
        return actions.erase_everything(ctx, data.include_reminders)

    @get(
        "/export",
        sync_to_thread=True,
        guards=[recent_password_required],
        raises=OWNER,
        summary="Export everything as a JSON download (needs the password re-entered)",
        response_headers=[
            ResponseHeader(
                name="Content-Disposition",
                description='A file to save: attachment; filename="papo-export-YYYY-MM-DD.json"',
                documentation_only=True,
            )
        ],
    )
    def export(self, ctx: Ctx) -> Response[PersonExport]:
        """Everything the device keeps about the person, in the documented format (docs/export-schema.json)."""
        document = build_export(ctx.store, ctx.settings)
        name = f"papo-export-{document.exported_at.astimezone():%Y-%m-%d}.json"
        return Response(
            document, headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
        )
