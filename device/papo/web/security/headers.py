"""Headers on every response: a strict Content-Security-Policy, no framing, no sniffing, no referrer."""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}
STATIC_CACHE = "public, max-age=31536000, immutable"


async def add_security_headers(message: Message, scope: Scope) -> None:
    """Litestar `before_send` hook: add the security headers (and long caching for static files)."""
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    for name, value in SECURITY_HEADERS.items():
        headers[name] = value
    path = scope.get("path", "")
    if path.startswith("/static/") and message.get("status") == 200:
        headers["cache-control"] = STATIC_CACHE
    elif "cache-control" not in headers:
        headers["cache-control"] = "no-store"
