"""`page(request, name, **context)`: render a template with what every page needs (`_`, csrf_token, lang, owner).

`_` is Jinja's i18n extension in its "newstyle" form, in the request's language: `{{ _("Olá, %(name)s", name=x) }}`
formats and escapes, and a literal percent sign in a msgid is written `%%`.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.enums import MediaType
from litestar.utils.scope.state import ScopeState

from papo import __version__
from papo.web import i18n
from papo.web.i18n import N_
from papo.web.security.guards import current_owner, owner_session

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
NAV = (
    ("/", N_("Início")),
    ("/conversas", N_("Conversas")),
    ("/memorias", N_("Memórias")),
    ("/lembretes", N_("Lembretes")),
    ("/bem-estar", N_("Bem-estar")),
    ("/ajustes", N_("Ajustes")),
    ("/modelos", N_("Modelos")),
)


@cache
def environment() -> Environment:
    """The Jinja environment of the page: autoescaped, strict about missing names, with gettext."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(("html", "j2", "html.j2"), default_for_string=True),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(i18n.current_gettext, i18n.current_ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals["nav"] = NAV
    env.globals["version"] = __version__
    env.globals["asset_version"] = asset_version()
    return env


@cache
def asset_version() -> str:
    """A short hash of the static files (`?v=` on their URLs, so a long browser cache never serves stale ones)."""
    digest = hashlib.sha256()
    for path in sorted(STATIC.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def csrf_token(request: Request[Any, Any, Any]) -> str:
    """The CSRF token of this request (set by Litestar's CSRF middleware on safe requests)."""
    token = ScopeState.from_scope(request.scope).csrf_token
    return token if isinstance(token, str) else ""


def page_language(request: Request[Any, Any, Any]) -> str:
    """The language of this request's page (query, cookie, else the settings' conversation language)."""
    settings = request.app.state.get("settings")
    default = settings.conversation.language if settings is not None else "pt"
    return i18n.language_of(request, default)


def render(request: Request[Any, Any, Any], name: str, **context: Any) -> str:
    """The HTML of template `name` for this request."""
    lang = page_language(request)
    logged_in = owner_session(request)
    values = {
        "csrf_token": csrf_token(request),
        "lang": lang,
        "owner": current_owner(request) if logged_in else None,
        "path": request.url.path,
        **context,
    }
    token = i18n.use(lang)
    try:
        return environment().get_template(name).render(values)
    finally:
        i18n.done(token)


def page(request: Request[Any, Any, Any], name: str, status_code: int = 200, **context: Any) -> Response[str]:
    """A page response: template `name` rendered with `context` and what every page needs."""
    cookies = []
    chosen = request.query_params.get("lang")
    if chosen in i18n.LANGUAGES:
        cookies.append(Cookie(key=i18n.COOKIE, value=str(chosen), max_age=365 * 86400, samesite="strict"))
    return Response(
        render(request, name, **context), media_type=MediaType.HTML, status_code=status_code, cookies=cookies
    )
