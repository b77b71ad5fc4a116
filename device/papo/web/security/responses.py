"""How the guards' refusals are answered: JSON for the API, a page or a redirect to the login page for pages."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.response import Redirect
from litestar.types import ExceptionHandlersMap

from papo.web.security.guards import LOGIN_PAGE, LoginRequired, ReauthRequired, SetupClosed, Unclaimed

MACHINE_PREFIXES = ("/api/", "/schema", "/static/", "/health")


def wants_page(request: Request[Any, Any, Any]) -> bool:
    """Whether the request is for a page (HTML) rather than the API, the schema, a static file or /health."""
    path = request.url.path
    return not any(path == p.rstrip("/") or path.startswith(p) for p in MACHINE_PREFIXES)


def _json(exc: HTTPException, **extra: Any) -> Response[dict[str, Any]]:
    return Response({"status_code": exc.status_code, "detail": exc.detail, **extra}, status_code=exc.status_code)


def login_required(request: Request[Any, Any, Any], exc: LoginRequired) -> Response[Any]:
    """401 for the API; pages redirect (303) to the login page, which comes back here afterwards."""
    if not wants_page(request) or request.headers.get("hx-request"):
        return _json(exc)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(f"{LOGIN_PAGE}?next={quote(target, safe='/')}", status_code=303)


def reauth_required(request: Request[Any, Any, Any], exc: ReauthRequired) -> Response[Any]:
    """403 with `reauth: true`: the page asks for the password and tries again."""
    return _json(exc, reauth=True)


def closed(request: Request[Any, Any, Any], exc: Unclaimed | SetupClosed) -> Response[Any]:
    """403: a page explaining what to open instead, or JSON."""
    if not wants_page(request):
        return _json(exc)
    from papo.web.render import page

    unclaimed = isinstance(exc, Unclaimed)
    return page(request, "message.html.j2", status_code=403, unclaimed=unclaimed)


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    LoginRequired: login_required,
    ReauthRequired: reauth_required,
    Unclaimed: closed,
    SetupClosed: closed,
}
