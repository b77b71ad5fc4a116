"""GET /health: is the daemon up, what is the voice pipeline doing, which models are loaded."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.datastructures import State

from papo import __version__
from papo.fleet import FleetLink
from papo.service import VoiceService


class HealthController(Controller):
    """Liveness and pipeline state for people, supervisors and the fleet."""

    path = "/health"

    @get("/", sync_to_thread=False)
    def health(self, state: State) -> dict[str, Any]:
        """Report the daemon's version, the pipeline state and the models in use."""
        service: VoiceService = state.voice
        link: FleetLink | None = state.fleet
        status = service.status
        return {
            "status": "ok",
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
            "sync": _sync(link),
            "models": status.models,
            "model_versions": status.model_versions,
        }


def _conversation(service: VoiceService) -> dict[str, Any]:
    runtime = service.conversation
    if runtime is None:
        return {"state": "off", "detail": "the companion cannot speak (see the log)"}
    status = runtime.status
    return {
        "state": status.state.value,
        "detail": status.detail,
        "llm": {"url": status.llm_url, "model": status.llm_model},
        "voice": status.voice,
        "crew": runtime.crew.state.value,
        "memories": None if runtime.memory is None else runtime.memory.count(),
        "speaking": runtime.companion.speaking,
        "load_ms": None if status.load_ms is None else round(status.load_ms),
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
