"""The checks behind claiming, logging in and re-entering the password, shared by the JSON API and the plain forms."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from litestar import Request
from litestar.exceptions import HTTPException

from papo.system.logging import fields
from papo.web.context import WebContext
from papo.web.i18n import gettext_for
from papo.web.render import page_language
from papo.web.security.attempts import Attempts
from papo.web.security.passwords import password_problem
from papo.web.security.sessions import confirm_password, start_session

log = logging.getLogger(__name__)

TOO_MANY_TRIES = "Muitas tentativas erradas. Espere um minuto e tente de novo."
# A path of this site: no scheme, no backslash, no whitespace or control characters (browsers drop tabs and
# newlines, so "/\t/evil.example" would become "//evil.example").
_LOCAL_PATH = re.compile(r"/[A-Za-z0-9\-._~%!$&'()*+,;=:@/?]*")


class RefusedFieldError(Exception):
    """A field was refused: which one, and why (already in the page's language)."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field
        self.detail = detail


def address(request: Request[Any, Any, Any]) -> str:
    """The client's address (the rate limits' key)."""
    return request.client.host if request.client is not None else "unknown"


def safe_next(target: str | None) -> str:
    """Only paths of this site (no `//host`, no scheme): the login page never sends the person elsewhere."""
    if not target or not _LOCAL_PATH.fullmatch(target) or target.startswith("//"):
        return "/"
    return target


def too_many(wait_s: int, message: str) -> HTTPException:
    """429 with Retry-After."""
    return HTTPException(status_code=429, detail=message, headers={"Retry-After": str(max(1, wait_s))})


def _not_limited(request: Request[Any, Any, Any], tries: Attempts) -> None:
    wait_s = tries.retry_after(address(request))
    if wait_s:
        raise too_many(wait_s, gettext_for(page_language(request))(TOO_MANY_TRIES))


async def claim(request: Request[Any, Any, Any], ctx: WebContext, code: str, password: str, name: str) -> None:
    """Claim the device and log in; RefusedFieldError (wrong code, weak password), 429, or 403 once it has an owner."""
    _ = gettext_for(page_language(request))
    accounts = ctx.accounts
    if accounts.claimed:
        raise HTTPException(status_code=403, detail="setup is closed: this device already has an owner")
    _not_limited(request, accounts.setup_tries)
    if not await asyncio.to_thread(accounts.codes.check, code):
        accounts.setup_tries.failed(address(request))
        log.warning("wrong setup code", extra=fields(address=address(request)))
        raise RefusedFieldError("code", _("Código errado ou vencido. Peça um novo código."))
    problem = password_problem(password)
    if problem is not None:
        raise RefusedFieldError("password", _(problem))
    owner = await asyncio.to_thread(accounts.owners.create, name.strip() or _("Dono"), password)
    accounts.codes.close()
    log.info("device claimed: owner created", extra=fields(address=address(request)))
    await start_session(request, owner)


async def log_in(request: Request[Any, Any, Any], ctx: WebContext, password: str) -> None:
    """Start an owner session; 401 for a wrong password, 429 after 5 a minute from one address."""
    _not_limited(request, ctx.accounts.login_tries)
    owner = await asyncio.to_thread(ctx.accounts.owners.verify, password)
    if owner is None:
        ctx.accounts.login_tries.failed(address(request))
        log.warning("wrong password at login", extra=fields(address=address(request)))
        raise HTTPException(status_code=401, detail=gettext_for(page_language(request))("Senha errada."))
    await start_session(request, owner)
    log.info("owner logged in", extra=fields(address=address(request)))


async def reenter(request: Request[Any, Any, Any], ctx: WebContext, password: str) -> None:
    """Record that the owner entered the password again (401 if wrong, 429 past the limit)."""
    _not_limited(request, ctx.accounts.login_tries)
    if await asyncio.to_thread(ctx.accounts.owners.verify, password) is None:
        ctx.accounts.login_tries.failed(address(request))
        raise HTTPException(status_code=401, detail=gettext_for(page_language(request))("Senha errada."))
    confirm_password(request)


async def change_password(request: Request[Any, Any, Any], ctx: WebContext, password: str) -> None:
    """Give the owner a new password (RefusedFieldError if weak); every other session ends, this one goes on."""
    problem = password_problem(password)
    if problem is not None:
        raise RefusedFieldError("password", gettext_for(page_language(request))(problem))
    owner = await asyncio.to_thread(ctx.accounts.owners.change_password, password)
    await start_session(request, owner)
    log.info("owner password changed", extra=fields(address=address(request)))
