"""Memórias, the page: what Papo remembers about the person; forget one."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect

from papo.web.context import WebContext
from papo.web.i18n import gettext_for
from papo.web.records import actions
from papo.web.records.dates import today, when_label
from papo.web.records.deps import AnyRequest, Ctx
from papo.web.records.respond import fragment_or_redirect
from papo.web.render import page, page_language
from papo.web.security import owner_required


def _memories_context(request: AnyRequest, ctx: WebContext) -> dict[str, Any]:
    """Every memory, newest first, with when it was noted in the page's language."""
    _ = gettext_for(page_language(request))
    now = today()
    return {
        "memories": [(memory, when_label(memory.created_at, now, _)) for memory in reversed(ctx.store.memories.all())]
    }


class MemoriesPage(Controller):
    """`/memorias`: the same memories as `papo memory list`."""

    path = "/memorias"
    guards = (owner_required,)
    include_in_schema = False

    @get("/", sync_to_thread=True)
    def show(self, request: AnyRequest, ctx: Ctx) -> Response[str]:
        """The memories page."""
        notice = "esquecida" if request.query_params.get("esquecida") else None
        return page(request, "memorias.html.j2", notice=notice, **_memories_context(request, ctx))

    @get("/{memory_id:str}/esquecer", sync_to_thread=True)
    def confirm_forget(self, request: AnyRequest, ctx: Ctx, memory_id: FromPath[str]) -> Response[str]:
        """Ask before forgetting one memory (the way without JavaScript; htmx asks with a dialog)."""
        memory = ctx.store.memories.get(memory_id)
        if memory is None:
            raise NotFoundException("no such memory")
        return page(request, "memorias_esquecer.html.j2", memory=memory)

    @post("/{memory_id:str}/esquecer", sync_to_thread=True, status_code=200)
    def forget(self, request: AnyRequest, ctx: Ctx, memory_id: FromPath[str]) -> Response[str] | Redirect:
        """Forget one memory; the list again, without it."""
        if actions.forget_memory(ctx, memory_id) is None:
            raise NotFoundException("no such memory")
        return fragment_or_redirect(
            request, "_rec_memories.html.j2", "/memorias?esquecida=1", notice="esquecida",
            **_memories_context(request, ctx),
        )  # fmt: skip
