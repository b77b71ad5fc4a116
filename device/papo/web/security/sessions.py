"""Server-side sessions: a random id in an `HttpOnly; SameSite=Strict` cookie, a new id at every login, 12 h idle."""

from __future__ import annotations

import secrets
import time
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.types import Empty, Message, ScopeSession

from papo.web.security.accounts import IDLE_S
from papo.web.security.owner import Owner

COOKIE = "papo_session"
_NEW_ID = "papo_new_session_id"


class RotatingBackend(ServerSideSessionBackend):
    """Litestar's server-side sessions, with a new session id at each login (no session fixation).

    A visitor without a session gets none (no cookie, nothing stored), so a flood of requests cannot fill the store.
    """

    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        """The id chosen at login, else the cookie's (Litestar's rule)."""
        fresh = connection.scope.get("state", {}).get(_NEW_ID)
        return fresh if isinstance(fresh, str) else super().get_session_id(connection)

    async def store_in_message(
        self, scope_session: ScopeSession, message: Message, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> None:
        """Store a session with data; an empty one is deleted (its cookie emptied) or, without a cookie, ignored."""
        if not scope_session:
            if not connection.cookies.get(self.config.key):
                return
            scope_session = Empty
        await super().store_in_message(scope_session, message, connection)


class PapoSessionConfig(ServerSideSessionConfig):
    """The session settings of the page, with the rotating backend."""

    _backend_class = RotatingBackend


def session_config(secure: bool) -> PapoSessionConfig:
    """Sessions kept in memory (a restart logs out), renewed on use; the cookie `Secure` only over TLS."""
    return PapoSessionConfig(
        key=COOKIE, max_age=IDLE_S, renew_on_access=True, httponly=True, samesite="strict", secure=secure
    )


async def start_session(request: Request[Any, Any, Any], owner: Owner) -> None:
    """Log `owner` in on a new session id (the old session, if any, is dropped)."""
    old = request.cookies.get(COOKIE)
    if old:
        store = request.app.stores.get("sessions")
        await store.delete(old)
    request.scope.setdefault("state", {})[_NEW_ID] = secrets.token_hex(32)
    now = time.time()
    request.set_session({"owner_id": owner.owner_id, "owner": owner.name, "login_at": now, "reauth_at": now})


def confirm_password(request: Request[Any, Any, Any]) -> None:
    """Record that the owner entered the password again now."""
    session = dict(request.session)
    session["reauth_at"] = time.time()
    request.set_session(session)


def end_session(request: Request[Any, Any, Any]) -> None:
    """Log out: the session is deleted and its cookie emptied."""
    request.clear_session()
