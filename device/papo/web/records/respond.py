"""How the records pages answer: a fragment for htmx, a whole page (or a redirect) for a plain browser."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.enums import MediaType
from litestar.response import Redirect

from papo.web.render import page, render


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    """Whether htmx sent the request (it then swaps in a fragment)."""
    return request.headers.get("hx-request") == "true"


def fragment(request: Request[Any, Any, Any], name: str, status_code: int = 200, **context: Any) -> Response[str]:
    """The partial template `name` alone, for htmx to swap in."""
    return Response(render(request, name, **context), media_type=MediaType.HTML, status_code=status_code)


def fragment_or_page(
    request: Request[Any, Any, Any], partial: str, title: str, status_code: int = 200, **context: Any
) -> Response[str]:
    """htmx: the partial alone; a plain browser: a whole page around it (titled `title`)."""
    if is_htmx(request):
        return fragment(request, partial, status_code, **context)
    return page(request, "_rec_page.html.j2", status_code, partial=partial, title=title, **context)


def fragment_or_redirect(
    request: Request[Any, Any, Any], partial: str, back: str, **context: Any
) -> Response[str] | Redirect:
    """htmx: the partial alone; a plain browser: back to `back` (303, so a reload does not post again)."""
    if is_htmx(request):
        return fragment(request, partial, **context)
    return Redirect(back, status_code=303)
