"""The page's language and its translations: pt-BR by default (the msgids), English from the gettext catalog.

The language is, strongest first: `?lang=en|pt` (kept in the `lang` cookie), the `lang` cookie, the settings'
conversation language. Templates and messages use `_()` with Portuguese msgids.
"""

from __future__ import annotations

import gettext
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any

from litestar.connection import ASGIConnection

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "papo"
LANGUAGES = ("pt", "en")
COOKIE = "lang"

_current: ContextVar[gettext.NullTranslations] = ContextVar("papo_web_translations")


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The catalog of `lang` (Portuguese is the source language: no catalog needed)."""
    if lang == "pt":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang], fallback=True)


def language_of(connection: ASGIConnection[Any, Any, Any, Any], default: str = "pt") -> str:
    """The language the page is shown in for this request."""
    for value in (connection.query_params.get("lang"), connection.cookies.get(COOKIE)):
        if value in LANGUAGES:
            return str(value)
    return default if default in LANGUAGES else "pt"


def N_(message: str) -> str:  # noqa: N802 - gettext's conventional name
    """Mark a Portuguese msgid for extraction where it is defined; it is translated where it is shown."""
    return message


def gettext_for(lang: str) -> Any:
    """The `_` function of `lang`."""
    return translations(lang).gettext


def use(lang: str) -> Any:
    """Make `lang` the language of templates rendered in this context; returns a token for `done`."""
    return _current.set(translations(lang))


def done(token: Any) -> None:
    """Restore the language that was in use before `use`."""
    _current.reset(token)


def current_gettext(message: str) -> str:
    """`gettext` in the language set by `use` (the Jinja i18n extension's callable)."""
    return _current.get(translations("pt")).gettext(message)


def current_ngettext(singular: str, plural: str, count: int) -> str:
    """`ngettext` in the language set by `use`."""
    return _current.get(translations("pt")).ngettext(singular, plural, count)
