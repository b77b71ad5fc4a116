"""GET /health: is the daemon up, what is the voice pipeline doing, which models are loaded."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.datastructures import State

from papo import __version__
from papo.service import VoiceService


class HealthController(Controller):
    """Liveness and pipeline state for people, supervisors and the fleet."""

    path = "/health"

    @get("/", sync_to_thread=False)
    def health(self, state: State) -> dict[str, Any]:
        """Report the daemon's version, the pipeline state and the models in use."""
        service: VoiceService = state.voice
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
            "models": status.models,
            "model_versions": status.model_versions,
        }
