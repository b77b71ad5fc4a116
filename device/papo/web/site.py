"""The local web page assembled: routes, the `ctx` dependency, templates, static files and the security layers.

Layers, outside in: the Host allow-list (400), the cross-site check (403), Litestar's CSRF token check (403) on
unsafe requests, server-side sessions, then `site_guard` on every route (403 before an owner exists, 401 or the
login page without an owner session). Every response carries the security headers; nothing sends CORS headers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from litestar import Litestar
from litestar.config.compression import CompressionConfig
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import CacheControlHeader, State
from litestar.di import Provide
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.stores.memory import MemoryStore
from litestar.template.config import TemplateConfig
from litestar.types import ControllerRouterHandler

from papo import __version__
from papo.voice_first import VoiceFirstGate
from papo.web.context import WebContext
from papo.web.health import HealthController
from papo.web.panel import PANEL_HANDLERS
from papo.web.records import RECORD_HANDLERS
from papo.web.render import STATIC, environment
from papo.web.security.files import secret_key
from papo.web.security.guards import site_guard
from papo.web.security.headers import add_security_headers
from papo.web.security.hosts import HostAllowList, HostCheck, mdns_name
from papo.web.security.origin import OriginCheckMiddleware
from papo.web.security.responses import EXCEPTION_HANDLERS
from papo.web.security.session_routes import SessionController
from papo.web.security.sessions import session_config
from papo.web.security.setup_routes import SetupController

STATIC_MAX_AGE_S = 365 * 86400


def web_handlers() -> list[ControllerRouterHandler]:
    """Every route of the daemon: /health, setup and login, the records and panel pages, static files."""
    static = create_static_files_router(
        path="/static", directories=[STATIC], cache_control=CacheControlHeader(max_age=STATIC_MAX_AGE_S, public=True)
    )
    return [HealthController, SetupController, SessionController, *RECORD_HANDLERS, *PANEL_HANDLERS, static]


def allowed_hosts(ctx: WebContext) -> HostAllowList:
    """The Host names the page answers to: its mDNS name, the machine's addresses, localhost, the configured host."""
    names = {mdns_name(ctx.settings.device_id), *ctx.settings.server.names}
    if ctx.settings.server.host not in ("0.0.0.0", "::", ""):
        names.add(ctx.settings.server.host)
    return HostAllowList(names)


def build_app(ctx: WebContext, lifespan: Sequence[Any] = ()) -> Litestar:
    """The daemon's Litestar app serving `ctx`'s parts (the pipeline's lifespan, if any, in `lifespan`)."""
    secure = False  # the daemon serves plain HTTP on the home network; a TLS front end would set Secure cookies
    sessions = session_config(secure)
    app = Litestar(
        route_handlers=web_handlers(),
        lifespan=list(lifespan),
        dependencies={"ctx": Provide(lambda: ctx, use_cache=True, sync_to_thread=False)},
        guards=[site_guard],
        middleware=[OriginCheckMiddleware(), sessions.middleware],
        csrf_config=CSRFConfig(secret=secret_key(ctx.state_dir), cookie_samesite="strict", cookie_secure=secure),
        stores={"sessions": MemoryStore()},
        compression_config=CompressionConfig(backend="gzip", minimum_size=512, exclude_opt_key="skip_compression"),
        template_config=TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment())),
        openapi_config=OpenAPIConfig(
            title="Papo Social local API", version=__version__, path="/schema", render_plugins=[JsonRenderPlugin()]
        ),
        exception_handlers=EXCEPTION_HANDLERS,
        before_send=[add_security_headers],
        state=_state(ctx),
        logging_config=None,  # papo's structured key=value logging (system/logging.py), not Litestar's default
    )
    voice_first = VoiceFirstGate(app.asgi_handler, ctx.voice.voice_first)  # requests wait for a decode in flight
    app.asgi_handler = HostCheck(voice_first, allowed_hosts(ctx))  # outermost, like Litestar's own CORS layer
    return app


def _state(ctx: WebContext) -> State:
    """The app state: what /health reads, the accounts the guards check, the settings and the context itself."""
    return State(
        {
            "voice": ctx.voice, "store": ctx.store, "fleet": ctx.link, "companion_wanted": ctx.companion_wanted,
            "accounts": ctx.accounts, "settings": ctx.settings, "ctx": ctx,
        }
    )  # fmt: skip
