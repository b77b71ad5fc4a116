"""Início: the status page, `GET /api/v1/status` and the live streams (JSON for the API, HTML fragments for htmx)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.response import ServerSentEvent, ServerSentEventMessage

from papo.service import Activity
from papo.web.context import Ctx, WebContext
from papo.web.panel.feed import INTERVAL_S, StatusFeed
from papo.web.panel.fields import N_
from papo.web.panel.status import Status, read_status
from papo.web.render import page, render
from papo.web.security import owner_required

# Streams are sent as they are written: the gzip layer would hold events back.
STREAM_OPT = {"skip_compression": True}

ACTIVITY_LABELS = {
    Activity.STARTING: N_("Começando"),
    Activity.NO_MICROPHONE: N_("Sem microfone"),
    Activity.LISTENING: N_("Ouvindo"),
    Activity.THINKING: N_("Pensando"),
    Activity.SPEAKING: N_("Falando"),
    Activity.STOPPED: N_("Parado"),
    Activity.FAILED: N_("Com erro"),
}
VERDICT_LABELS = {"ok": N_("Tudo certo"), "degraded": N_("Funcionando, com avisos"), "failed": N_("Parado por um erro")}
METER_FLOOR_DBFS = -60.0


def status_feed(state: State, ctx: WebContext) -> StatusFeed:
    """The app's one StatusFeed (made on first use; `panel_feed_interval_s` in the app state overrides the pace)."""
    feed = state.get("panel_feed")
    if not isinstance(feed, StatusFeed):
        interval = float(state.get("panel_feed_interval_s", INTERVAL_S))
        feed = StatusFeed(
            lambda: read_status(ctx.voice, ctx.store, ctx.link, ctx.companion_wanted, ctx.state_dir), interval
        )
        state["panel_feed"] = feed
    return feed


def meter_percent(dbfs: float | None) -> int:
    """The level on a 0-100 meter (-60 dBFS and below: 0)."""
    if dbfs is None:
        return 0
    return round(100 * min(1.0, max(0.0, (dbfs - METER_FLOOR_DBFS) / -METER_FLOOR_DBFS)))


def _view(status: Status) -> dict[str, Any]:
    return {
        "status": status, "activity_label": ACTIVITY_LABELS[status.activity],
        "verdict_label": VERDICT_LABELS[status.verdict], "meter": meter_percent(status.mic_level_dbfs),
    }  # fmt: skip


@get("/", guards=[owner_required], sync_to_thread=False, include_in_schema=False)
def inicio_page(request: Request[Any, Any, Any], ctx: Ctx, state: State) -> Response[str]:
    """The status page (live with JS through /inicio/eventos; readable without)."""
    return page(request, "inicio.html.j2", **_view(status_feed(state, ctx).latest()))


@get("/api/v1/status", guards=[owner_required], sync_to_thread=False)
def status_now(ctx: Ctx, state: State) -> Status:
    """The status now: verdict and plain-words problems, activity, microphone level, cloud, disk, models."""
    return status_feed(state, ctx).latest()


@get("/api/v1/status/stream", guards=[owner_required], opt=STREAM_OPT, media_type="text/event-stream")
async def status_stream(ctx: Ctx, state: State) -> ServerSentEvent:
    """Server-sent events: `status` (the whole Status as JSON) on each change, `level` (dBFS) when only it moved."""

    async def events() -> AsyncIterator[ServerSentEventMessage]:
        async for change in status_feed(state, ctx).changes():
            if change.level_only:
                yield ServerSentEventMessage(event="level", data=str(change.status.mic_level_dbfs))
            else:
                yield ServerSentEventMessage(event="status", data=change.status.model_dump_json())

    return ServerSentEvent(events())


@get("/inicio/eventos", guards=[owner_required], opt=STREAM_OPT, include_in_schema=False)
async def page_stream(request: Request[Any, Any, Any], ctx: Ctx, state: State) -> ServerSentEvent:
    """The page's live parts as HTML for htmx's SSE extension: `status` and `level` fragments."""

    async def events() -> AsyncIterator[ServerSentEventMessage]:
        async for change in status_feed(state, ctx).changes():
            view = _view(change.status)
            if not change.level_only:
                yield ServerSentEventMessage(event="status", data=render(request, "_panel_status.html.j2", **view))
            yield ServerSentEventMessage(event="level", data=render(request, "_panel_level.html.j2", **view))

    return ServerSentEvent(events())


HANDLERS = [inicio_page, status_now, status_stream, page_stream]
