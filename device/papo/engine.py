"""Load the speech models named by Settings (provisioning them first) into one SpeechEngine."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from papo.listener import PendingUtterance
from papo.models.manifest import load_manifest
from papo.models.provision import provision
from papo.settings import Settings
from papo.speech.endpoint import Endpointer
from papo.speech.stt import WhisperTranscriber
from papo.speech.vad import SileroVad
from papo.store import NewTurn
from papo.system.logging import fields

log = logging.getLogger(__name__)

VAD_MODEL = "silero-vad-v6"


@dataclass(frozen=True)
class SpeechEngine:
    """The loaded VAD and STT models, and what they are."""

    settings: Settings
    vad_path: Path
    transcriber: WhisperTranscriber
    load_ms: float

    @property
    def stt_model(self) -> str:
        """Name of the speech-to-text model in use."""
        return self.transcriber.model_name

    @property
    def vad_model(self) -> str:
        """Name of the VAD model in use."""
        return VAD_MODEL

    def model_versions(self) -> dict[str, str]:
        """Each loaded model's name and the sha256 (first 12 hex digits) of its main file."""
        manifest = load_manifest()
        return {name: manifest.get(name).files[0].sha256[:12] for name in (self.stt_model, self.vad_model)}

    def heard(self, pending: PendingUtterance) -> NewTurn | None:
        """Wait for one utterance's transcript: the turn to store, or None when it held no words."""
        transcript = pending.result()
        if transcript is None:
            return None
        utterance = pending.utterance
        return NewTurn(
            text=transcript.text,
            language=transcript.language,
            audio_start_s=utterance.start_s,
            audio_end_s=utterance.end_s,
            audio_duration_s=utterance.duration_s,
            stt_model=self.stt_model,
            stt_window=transcript.window,
            vad_model=self.vad_model,
            vad_ms=round(utterance.vad_ms, 2),
            stt_ms=round(transcript.stt_ms, 2),
            eos_to_text_ms=None if pending.eos_to_text_ms is None else round(pending.eos_to_text_ms, 2),
        )

    def endpointer(self) -> Endpointer:
        """Return a fresh endpointer (its own VAD state) for one audio stream."""
        return Endpointer(SileroVad(self.vad_path), self.settings.vad)


def load_engine(settings: Settings) -> SpeechEngine:
    """Provision (once) and load the VAD and STT models."""
    started = time.perf_counter()
    manifest = load_manifest()
    vad_entry = manifest.get(VAD_MODEL)
    vad_path = provision(vad_entry, settings.models_dir) / vad_entry.files[0].name
    stt_entry = manifest.get(settings.stt.model)
    transcriber = WhisperTranscriber(provision(stt_entry, settings.models_dir), stt_entry.name, settings.stt)
    load_ms = (time.perf_counter() - started) * 1000
    log.info("speech models loaded", extra=fields(stt=stt_entry.name, vad=VAD_MODEL, load_ms=round(load_ms)))
    return SpeechEngine(settings, vad_path, transcriber, load_ms)
