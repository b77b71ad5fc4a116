"""The daemon's start-up as systemd sees it: a STATUS= line per stage, more time while models load, one READY=1.

READY=1 is sent once the store is migrated (create_app opens it before serving), the speech models are loaded and
the audio input is open, or known absent (it is retried), or the pipeline failed for good (/health then says
`failed` with the reason, and the page stays up to show it). After that, STATUS= follows the pipeline (a lost
microphone shows in `systemctl status papo`).
"""

from __future__ import annotations

import logging

from papo.service import PipelineState, PipelineStatus
from papo.system.notify import Notifier

log = logging.getLogger(__name__)

# Loading the speech models on a slow board (a Pi 4 from an SD card): the start-up may take this much longer.
MODEL_LOAD_BUDGET_S = 300.0
_SETTLED = (PipelineState.LISTENING, PipelineState.NO_AUDIO_INPUT, PipelineState.FAILED)


def describe(status: PipelineStatus) -> str:
    """The pipeline's state in plain words, for STATUS= (device names and error texts; never anything heard)."""
    retry = f"; trying again in {status.retry_in_s:g} s" if status.retry_in_s is not None else ""
    if status.state is PipelineState.STARTING:
        return "starting"
    if status.state is PipelineState.LOADING_MODELS:
        return "loading the speech models"
    if status.state is PipelineState.LISTENING:
        return f"listening on {status.device}" if status.device else "listening"
    if status.state is PipelineState.NO_AUDIO_INPUT:
        return f"no microphone ({status.detail}){retry}" if status.detail else f"no microphone{retry}"
    if status.state is PipelineState.FAILED:
        return f"voice pipeline failed: {status.detail}{retry}"
    return "voice pipeline stopped"


class StartupReport:
    """Turns the daemon's stages into sd_notify messages (a no-op notifier outside systemd)."""

    def __init__(self, notifier: Notifier, model_load_budget_s: float = MODEL_LOAD_BUDGET_S) -> None:
        self._notifier = notifier
        self._budget = model_load_budget_s
        self._said = ""
        self.ready = False

    def stage(self, text: str) -> None:
        """A start-up stage outside the pipeline (opening the store, starting the web server)."""
        self._say(text)

    def pipeline(self, status: PipelineStatus) -> None:
        """The pipeline changed state: say so; more time while models load; READY=1 the first time it settles."""
        text = describe(status)
        if status.state is PipelineState.LOADING_MODELS and not self.ready:
            self._notifier.extend_timeout(self._budget)
        if status.state in _SETTLED and not self.ready:
            self.ready = True
            self._said = text
            self._notifier.ready(text)
            log.info("ready", extra={"status": text})
            return
        self._say(text)

    def stopping(self) -> None:
        """The daemon is shutting down (STOPPING=1)."""
        self._said = "stopping"
        self._notifier.stopping("stopping")

    def _say(self, text: str) -> None:
        if text != self._said:
            self._said = text
            self._notifier.status(text)
