"""Logging in and out (page, JSON API, plain-form fallback), re-entering the password, the owner's account."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.exceptions import HTTPException
from litestar.params import FromQuery, JSONBody, URLEncodedBody
from litestar.response import Redirect

from papo.web.context import Ctx
from papo.web.render import page
from papo.web.security.flows import RefusedFieldError, change_password, log_in, reenter, safe_next
from papo.web.security.guards import owner_required, owner_session, recent_password_required
from papo.web.security.models import (
    TOO_MANY,
    Done,
    FieldError,
    LoginForm,
    NewPassword,
    PasswordRequest,
    field_refusal,
    refusals,
)
from papo.web.security.sessions import end_session

_PASSWORD_REFUSALS = field_refusal(
    "The new password was refused, and why", r403="The current password must be entered again first (`reauth: true`)"
)


class SessionController(Controller):
    """The login page, sessions, password re-entry and the owner's account page."""

    @get("/entrar", sync_to_thread=False, include_in_schema=False)
    def login_page(self, request: Request[Any, Any, Any], next: FromQuery[str | None] = None) -> Response[Any]:
        """The login page (a logged-in owner goes straight on)."""
        if owner_session(request):
            return Redirect(safe_next(next), status_code=303)
        return page(request, "login.html.j2", next=safe_next(next), error="")

    @post("/entrar", status_code=303, include_in_schema=False)
    async def login_form(
        self, request: Request[Any, Any, Any], ctx: Ctx, data: URLEncodedBody[LoginForm]
    ) -> Response[Any]:
        """The login form sent without JavaScript: logged in → where the person was going; else the page again."""
        try:
            await log_in(request, ctx, data.password)
        except HTTPException as refused:
            return page(request, "login.html.j2", status_code=refused.status_code, next=safe_next(data.next),
                        error=refused.detail)  # fmt: skip
        return Redirect(safe_next(data.next), status_code=303)

    @post("/api/v1/session", status_code=200, responses=refusals(r401="Wrong password", r429=TOO_MANY))
    async def login(
        self, request: Request[Any, Any, Any], ctx: Ctx, data: JSONBody[PasswordRequest],
        next: FromQuery[str | None] = None,
    ) -> Done:  # fmt: skip
        """Log in with the owner's password (5 wrong ones a minute from one address: 429)."""
        await log_in(request, ctx, data.password)
        return Done(next=safe_next(next))

    @delete("/api/v1/session", sync_to_thread=False, status_code=204)
    def logout(self, request: Request[Any, Any, Any]) -> None:
        """Log out (the session is deleted)."""
        end_session(request)

    @post("/sair", status_code=303, include_in_schema=False, sync_to_thread=False)
    def logout_form(self, request: Request[Any, Any, Any]) -> Redirect:
        """Log out without JavaScript: the session is deleted, then the login page."""
        end_session(request)
        return Redirect("/entrar", status_code=303)

    @post("/api/v1/session/confirm", guards=[owner_required], status_code=200,
          responses=refusals(r401="Wrong password, or not logged in", r429=TOO_MANY))  # fmt: skip
    async def confirm(self, request: Request[Any, Any, Any], ctx: Ctx, data: JSONBody[PasswordRequest]) -> Done:
        """Enter the password again: destructive actions are allowed for the next 5 minutes."""
        await reenter(request, ctx, data.password)
        return Done(next=safe_next(request.headers.get("hx-current-url")))

    @get("/conta", sync_to_thread=False, include_in_schema=False)
    def account_page(self, request: Request[Any, Any, Any]) -> Response[str]:
        """The owner's account: change the password."""
        return page(request, "account.html.j2", request_ok=request.query_params.get("ok") == "1")

    @post("/api/v1/owner/password", guards=[recent_password_required], status_code=200, responses=_PASSWORD_REFUSALS)
    async def new_password(
        self, request: Request[Any, Any, Any], ctx: Ctx, data: JSONBody[NewPassword]
    ) -> Response[Any]:
        """Change the owner's password: every other session ends, this one goes on."""
        try:
            await change_password(request, ctx, data.password)
        except RefusedFieldError as refused:
            return Response(FieldError(detail=refused.detail, field=refused.field), status_code=400)
        return Response(Done(next="/conta?ok=1"), status_code=200)
