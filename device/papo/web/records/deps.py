"""The names records handlers take: the `ctx` dependency (the daemon's parts) and the request."""

from __future__ import annotations

from typing import Annotated, Any, TypeAlias

from litestar import Request
from litestar.di import NamedDependency
from litestar.params import QueryParameter, URLEncodedBody

from papo.web.context import WebContext

SEARCH_MAX = 200

Ctx: TypeAlias = NamedDependency[WebContext]
"""The app-wide dependency `ctx`: settings, store, scrubber... (named explicitly, as Litestar 3 requires)."""
AnyRequest: TypeAlias = Request[Any, Any, Any]
"""The request of a page handler (no user or auth types of its own: the session says who is logged in)."""
Words: TypeAlias = Annotated[
    str, QueryParameter(max_length=SEARCH_MAX, description="Words to find (every one; case and accents ignored)")
]
"""The search box of the history."""
PageNumber: TypeAlias = Annotated[int, QueryParameter(ge=1, le=1_000_000, description="Page (1: the newest)")]
"""A page of the history."""
Form: TypeAlias = URLEncodedBody[dict[str, str]]
"""A page's posted form (field name → value), read into a pydantic model by the handler."""
