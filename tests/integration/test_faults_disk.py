"""A full disk never silences an emergency (issue 12): the state directory on a small tmpfs filled to the brim.

The real VoiceService, Companion (espeak-ng voice, a recording speaker), Store (SQLite) and /health run; only the
speech models are scripted (the transcriber says the sentences), so the fault under test is the disk's alone.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from litestar import Litestar
from litestar.datastructures import State
from litestar.testing import TestClient

from papo.audio.recorder import RecordingSpeaker
from papo.audio.wav import read_wav
from papo.conversation.phrases import urgent_reply
from papo.conversation.runtime import ConversationRuntime, ConversationState
from papo.conversation.wellbeing import assess
from papo.service import PipelineState, VoiceService
from papo.settings import load_settings
from papo.speech.tts import EspeakVoice
from papo.store import Store
from papo.web.health import HealthController
from support.disk import fill
from support.pipeline_fakes import BlockSource, BlockTranscriber, FakeEngine, new_turn

DISTRESS = "Papo, socorro, eu caí e não consigo levantar!"


def test_on_a_full_disk_the_distress_call_is_answered_and_health_says_disk_full(
    small_disk: Path, tmp_path: Path
) -> None:
    state = small_disk / "state"
    state.mkdir()
    (state / "models").mkdir()
    settings = load_settings(state_dir=state, conversation={"crew": False, "review_after_idle_s": 0})
    store = Store(settings.store_path, settings.device_id)
    speaker = RecordingSpeaker(EspeakVoice.rate)
    runtime = ConversationRuntime(settings, store, speaker, None)  # espeak-ng; the LLM is never started
    runtime.status.state = ConversationState.READY
    engine = FakeEngine(settings, Path("unused.onnx"), BlockTranscriber([DISTRESS]), 0.0)
    service: VoiceService
    service = VoiceService(settings, store, lambda: BlockSource(1, service.stop), lambda _: engine, runtime)
    try:
        fill(small_disk)
        asyncio.run(asyncio.wait_for(service.run(), timeout=60))
        assert service.status.state is PipelineState.STOPPED and service.status.utterances == 1
        reply = tmp_path / "reply.wav"
        seconds = speaker.write(reply)
        sign = assess(DISTRESS)
        assert sign is not None
        words = len((urgent_reply(sign, "pt") or "").split())
        assert seconds > words * 0.2, seconds  # the whole caring answer, not a blip
        assert abs(read_wav(reply).samples).max() > 0.05
        assert store.status.full and store.status.failures >= 1
        assert store.turns.count() == 0  # nothing new was stored
        health_state = State({"voice": service, "store": store, "fleet": None, "companion_wanted": True})
        with TestClient(Litestar(route_handlers=[HealthController], state=health_state)) as client:
            response = client.get("/health")
        assert response.status_code == 200
        assert response.json()["status"] == "degraded" and "disk full" in response.json()["reasons"]
        (small_disk / "filler").unlink()  # space again: the next turn is stored and the status clears
        store.turns.record(new_turn(DISTRESS), "mic")
        assert not store.status.full
    finally:
        runtime.close()
        store.close()
