"""Cross-site requests refused: an unsafe request from another site (Origin or Sec-Fetch-Site says so) gets 403.

This stands beside Litestar's CSRF token check: a browser always sends `Sec-Fetch-Site` and `Origin` with a
cross-site POST, so a forged form is refused even before its (missing) token is looked at.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from litestar.datastructures import Headers
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.response.base import ASGIResponse
from litestar.types import ASGIApp, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SAME_SITE = frozenset({"same-origin", "none"})


def cross_site(method: str, headers: Headers) -> bool:
    """Whether an unsafe request comes from another site than the Host it was sent to.

    `Sec-Fetch-Site` decides when the browser sends it (every current one does). Else the Origin must be the Host;
    an Origin of "null" proves nothing either way (a same-page form POST under `Referrer-Policy: no-referrer` has
    it), so the CSRF token alone decides then.
    """
    if method in SAFE_METHODS:
        return False
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site.lower() not in SAME_SITE
    origin = headers.get("origin")
    if origin is None or origin == "null":
        return False
    return urlsplit(origin).netloc.lower() != (headers.get("host") or "").lower()


class OriginCheckMiddleware(ASGIMiddleware):
    """Refuses unsafe requests (403) and websockets (closed, 1008) opened from another site."""

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        """Pass same-site requests on."""
        headers = Headers.from_scope(scope)
        if scope["type"] == ScopeType.WEBSOCKET and cross_site("WEBSOCKET", headers):
            await send({"type": "websocket.close", "code": 1008, "reason": "opened from another site"})
            return
        if scope["type"] == ScopeType.HTTP and cross_site(scope["method"], headers):
            body = b'{"status_code":403,"detail":"refused: this request came from another site"}'
            await ASGIResponse(body=body, status_code=403, media_type="application/json")(scope, receive, send)
            return
        await next_app(scope, receive, send)
