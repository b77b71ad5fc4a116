"""GET /health: is the daemon up and well, what is the voice pipeline doing, which models are loaded.

`status` is honest about what works:
- `ok` (HTTP 200): listening, speaking, storing; the LLM and (when sync is on) the broker reachable.
- `degraded` (HTTP 200): Papo still listens and answers, with `reasons` saying what is missing — "starting",
  "no mic", "no speaker", "companion off", "LLM down", "disk full", "store quarantined", "broker unreachable".
- `failed` (HTTP 503): the voice pipeline failed (models cannot load, capture broke); `reasons` says why
  (first), followed by anything else that is degraded.
Supervisors treat 503 as down; 200 with `degraded` is up but worth a look (the fleet shows the reasons).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from litestar import Controller, Response, get
from litestar.datastructures import State

from papo import __version__
from papo.conversation.runtime import ConversationState, ConversationStatus
from papo.conversation.supervisor import ServerState
from papo.errors import PapoError
from papo.fleet import FleetLink
from papo.service import PipelineState, VoiceService
from papo.store import Store

log = logging.getLogger(__name__)

HTTP_OK, HTTP_UNAVAILABLE = 200, 503


class Health(StrEnum):
    """The daemon's overall state."""

    OK = "ok"
    DEGRADED = "degraded"
    FAILED = "failed"


@dataclass
class Verdict:
    """The overall state and the reasons for it."""

    status: Health = Health.OK
    reasons: list[str] = field(default_factory=list)

    @property
    def http_status(self) -> int:
        """200 while Papo works (ok, degraded), 503 when the pipeline failed."""
        return HTTP_UNAVAILABLE if self.status is Health.FAILED else HTTP_OK


def judge(service: VoiceService, store: Store | None, link: FleetLink | None, companion_wanted: bool) -> Verdict:
    """The verdict on the daemon's parts: failed if the pipeline failed, degraded with reasons, else ok."""
    pipeline = service.status
    failed = pipeline.state is PipelineState.FAILED
    reasons = [f"pipeline failed: {pipeline.detail}".rstrip(": ")] if failed else []
    if pipeline.state in (PipelineState.STARTING, PipelineState.LOADING_MODELS):
        reasons.append("starting")
    if pipeline.state is PipelineState.NO_AUDIO_INPUT:
        reasons.append("no mic")
    reasons += _conversation_reasons(service, companion_wanted)
    if store is not None and store.status.full:
        reasons.append("disk full")
    if store is not None and store.status.quarantined is not None:
        reasons.append("store quarantined")
    if link is not None and not link.agent.status.connected:
        reasons.append("broker unreachable")
    return Verdict(Health.FAILED if failed else Health.DEGRADED if reasons else Health.OK, reasons)


def _conversation_reasons(service: VoiceService, wanted: bool) -> list[str]:
    runtime = service.conversation
    if runtime is None:
        return ["companion off"] if wanted else []
    if runtime.status.state is ConversationState.DISABLED:
        return []
    reasons = [] if runtime.companion.output.has_speaker else ["no speaker"]
    if _llm_state(runtime.status) is not ServerState.READY or runtime.companion.llm_failing:
        reasons.append("LLM down")
    return reasons


class HealthController(Controller):
    """Liveness and pipeline state for people, supervisors and the fleet."""

    path = "/health"

    @get("/", sync_to_thread=False)
    def health(self, state: State) -> Response[dict[str, Any]]:
        """Report the verdict and its reasons, the daemon's version, the pipeline state and the models in use."""
        service: VoiceService = state.voice
        link: FleetLink | None = state.fleet
        store: Store | None = state.get("store")
        verdict = judge(service, store, link, bool(state.get("companion_wanted", False)))
        status = service.status
        body = {
            "status": verdict.status.value,
            "reasons": verdict.reasons,
            "version": __version__,
            "pipeline": {
                "state": status.state.value,
                "detail": status.detail,
                "device": status.device,
                "retry_in_s": status.retry_in_s,
                "utterances": status.utterances,
                "dropped_samples": status.dropped_samples,
                "last_heard_at": status.last_heard_at,
            },
            "conversation": _conversation(service),
            "store": _store(store),
            "sync": _sync(link),
            "models": status.models,
            "model_versions": status.model_versions,
        }
        return Response(body, status_code=verdict.http_status)


def _conversation(service: VoiceService) -> dict[str, Any]:
    runtime = service.conversation
    if runtime is None:
        return {"state": "off", "detail": "the companion cannot speak (see the log)"}
    status = runtime.status
    return {
        "state": status.state.value,
        "detail": status.detail,
        "llm": _llm(status, runtime.companion.llm_failing),
        "voice": status.voice,
        "speaker": runtime.companion.output.has_speaker,
        "reminders": {"missed": runtime.companion.reminders_missed},
        "crew": runtime.crew.state.value,
        "memories": None if runtime.memory is None else runtime.memory.count(),
        "speaking": runtime.companion.speaking,
        "load_ms": None if status.load_ms is None else round(status.load_ms),
    }


def _llm_state(status: ConversationStatus) -> ServerState:
    """The embedded model's supervised state; an endpoint is down only if there is no language model at all."""
    if status.llm_server is not None:
        return status.llm_server.state
    return ServerState.DOWN if status.state is ConversationState.NO_LLM else ServerState.READY


def _llm(status: ConversationStatus, failing: bool) -> dict[str, Any]:
    server = status.llm_server
    return {
        "url": status.llm_url if server is None else server.url, "model": status.llm_model, "failing": failing,
        "state": _llm_state(status).value, "restarts": 0 if server is None else server.restarts,
    }  # fmt: skip


def _store(store: Store | None) -> dict[str, Any]:
    if store is None:
        return {}
    status = store.status
    try:
        depth: int | None = store.outbox.depth()
    except PapoError as exc:
        log.warning("outbox depth unknown", extra={"reason": str(exc)})
        depth = None
    return {
        "full": status.full,
        "quarantined": None if status.quarantined is None else str(status.quarantined),
        "quarantine_reason": status.quarantine_reason,
        "failures": status.failures,
        "last_error": status.last_error,
        "outbox_depth": depth,
        "outbox_dropped": store.outbox.dropped,
    }


def _sync(link: FleetLink | None) -> dict[str, Any]:
    if link is None:
        return {"enabled": False}
    status = link.agent.status
    return {
        "enabled": True,
        "connected": status.connected,
        "last_sync_at": status.last_sync_at,
        "acked": status.acked,
        "rejected": status.rejected,
        "applied_version": status.applied_version,
        "last_error": status.last_error,
    }
