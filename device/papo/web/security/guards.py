"""The guards of the web page: claimed device, logged-in owner, recently re-entered password.

`site_guard` runs on every route (app level): before an owner exists only setup, static files and /health answer
(403 otherwise); after, everything but login, static files and /health needs an owner session. The handlers of the
other web packages also name `owner_required` explicitly, and `recent_password_required` for destructive actions.
"""

from __future__ import annotations

import time
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from papo.web.security.accounts import REAUTH_S, Accounts

ALWAYS_OPEN = ("/health", "/static/")
SETUP_PATHS = ("/configurar", "/api/v1/setup")
LOGIN_PATHS = ("/entrar", "/api/v1/session")
LOGIN_PAGE = "/entrar"


class Unclaimed(PermissionDeniedException):
    """No owner yet: only the setup page answers."""


class SetupClosed(PermissionDeniedException):
    """The device has an owner: setup is closed."""


class LoginRequired(NotAuthorizedException):
    """No valid owner session (the API answers 401, pages redirect to the login page)."""


class ReauthRequired(PermissionDeniedException):
    """The action needs the password entered again (within the last 5 minutes)."""


def accounts_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Accounts:
    """The Accounts the app was built with."""
    accounts: Accounts = connection.app.state["accounts"]
    return accounts


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p.rstrip("/") or path.startswith(p if p.endswith("/") else p + "/") for p in prefixes)


def session_of(connection: ASGIConnection[Any, Any, Any, Any]) -> dict[str, Any]:
    """The connection's session data ({} without the session middleware or a session)."""
    if "session" not in connection.scope:
        return {}
    session = connection.scope["session"]
    return session if isinstance(session, dict) else {}


def owner_session(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """Whether the connection carries a session of the current owner (a reset owner ends every session)."""
    owner = accounts_of(connection).owners.get()
    session = session_of(connection)
    return owner is not None and bool(session.get("owner_id")) and session.get("owner_id") == owner.owner_id


def site_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Every route: setup only before an owner exists; afterwards an owner session except for login."""
    path = connection.url.path
    if _under(path, ALWAYS_OPEN):
        return
    claimed = accounts_of(connection).claimed
    if _under(path, SETUP_PATHS):
        if claimed:
            raise SetupClosed("setup is closed: this device already has an owner")
        return
    if not claimed:
        raise Unclaimed("this device has no owner yet: open /configurar to set it up")
    if _under(path, LOGIN_PATHS):
        return
    if not owner_session(connection):
        raise LoginRequired("log in first")


def owner_required(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """A logged-in owner: 401 (API) or a redirect to the login page; 403 before an owner exists."""
    if not accounts_of(connection).claimed:
        raise Unclaimed("this device has no owner yet: open /configurar to set it up")
    if not owner_session(connection):
        raise LoginRequired("log in first")


def recent_password_required(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """The owner entered the password again within the last 5 minutes (403 with `reauth: true` otherwise)."""
    owner_required(connection, handler)
    confirmed = session_of(connection).get("reauth_at")
    if not isinstance(confirmed, int | float) or time.time() - confirmed > REAUTH_S:
        raise ReauthRequired("enter your password again to do this")


def current_owner(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """Who is logged in (the owner's name), for change logs; "owner" when the name is unknown."""
    name = session_of(connection).get("owner")
    return name if isinstance(name, str) and name else "owner"
