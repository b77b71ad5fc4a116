"""Claiming the device: the setup page (Papo says the code), its JSON API and its plain-form fallback."""

from __future__ import annotations

import threading
import time
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import JSONBody, URLEncodedBody
from litestar.response import Redirect

from papo.web.context import Ctx, WebContext
from papo.web.render import page, page_language
from papo.web.security.announce import say_code, speech_output
from papo.web.security.flows import RefusedFieldError, address, claim, too_many
from papo.web.security.models import (
    TOO_MANY,
    CodeState,
    Done,
    FieldError,
    SetupForm,
    SetupRequest,
    field_refusal,
    refusals,
)
from papo.web.security.setup_code import issue_for_page

REPEAT_AFTER_S = 20.0  # the code is said again when the page is reopened, at most this often
_opening = threading.Lock()
_CLOSED = "Setup is closed: the device has an owner"
_SETUP_REFUSALS = field_refusal("A field was refused: which one and why", r403=_CLOSED, r429=TOO_MANY)


def _setup_page(request: Request[Any, Any, Any], ctx: WebContext, status_code: int = 200, **form: Any) -> Response[str]:
    """The setup page; a code is issued (and said) when none is current."""
    codes = ctx.accounts.codes
    with _opening:  # two visitors at once get the same code
        known = codes.known()
        if known is None and codes.pending():
            source = "console"  # a code `papo setup-code` printed is current: kept (this process cannot say it)
        else:
            if known is None:
                known, codes.said_at = issue_for_page(codes), 0.0
            source = "spoken" if speech_output(ctx.voice) is not None else "no-speaker"
            if source == "spoken" and time.time() - codes.said_at >= REPEAT_AFTER_S:
                codes.said_at = time.time()
                say_code(ctx.voice, known.code, page_language(request))
    context = {"code": "", "owner_name": "", "errors": {}} | form
    return page(
        request, "setup.html.j2", status_code=status_code, source=source,
        can_speak=speech_output(ctx.voice) is not None, valid_min=round(codes.valid_for() / 60), **context,
    )  # fmt: skip


class SetupController(Controller):
    """The setup page and its API: open only until the device has an owner."""

    @get("/configurar", sync_to_thread=True, include_in_schema=False)
    def setup_page(self, request: Request[Any, Any, Any], ctx: Ctx) -> Response[str]:
        """The setup page: Papo says the code aloud; the person types it and chooses the owner password."""
        return _setup_page(request, ctx)

    @post("/configurar", status_code=303, include_in_schema=False)
    async def setup_form(
        self, request: Request[Any, Any, Any], ctx: Ctx, data: URLEncodedBody[SetupForm]
    ) -> Response[Any]:
        """The setup form sent without JavaScript: claimed → the home page; refused → the page with the reason."""
        try:
            await claim(request, ctx, data.code, data.password, data.name)
        except RefusedFieldError as refused:
            form = {"code": data.code, "owner_name": data.name, "errors": {refused.field: refused.detail}}
            return _setup_page(request, ctx, status_code=400, **form)
        return Redirect("/", status_code=303)

    @post("/api/v1/setup/code", sync_to_thread=True, status_code=200,
          responses=refusals(r403=_CLOSED, r429="A new code once a minute"))  # fmt: skip
    def new_code(self, request: Request[Any, Any, Any], ctx: Ctx) -> CodeState:
        """Issue a new setup code and say it aloud (the old one stops working; at most one a minute)."""
        codes = ctx.accounts.codes
        wait_s = max(ctx.accounts.setup_tries.retry_after(address(request)), int(codes.age_limit_s()))
        if wait_s:
            raise too_many(wait_s, "a new code can be asked for once a minute")
        issued = issue_for_page(codes)
        codes.said_at = time.time()
        said = say_code(ctx.voice, issued.code, page_language(request))
        return CodeState(spoken=said, valid_s=int(issued.expires_at - time.time()))

    @post("/api/v1/setup", status_code=201, responses=_SETUP_REFUSALS)
    async def setup(self, request: Request[Any, Any, Any], ctx: Ctx, data: JSONBody[SetupRequest]) -> Response[Any]:
        """Claim the device with the setup code and a new owner password; setup then closes for good."""
        try:
            await claim(request, ctx, data.code, data.password, data.name)
        except RefusedFieldError as refused:
            return Response(FieldError(detail=refused.detail, field=refused.field), status_code=400)
        return Response(Done(next="/"), status_code=201)
