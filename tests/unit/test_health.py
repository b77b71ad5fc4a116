"""/health is honest (issue 12): ok, degraded with its reasons, or failed with HTTP 503."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from litestar import Litestar
from litestar.datastructures import State
from litestar.testing import TestClient

from papo.conversation.runtime import ConversationState, ConversationStatus
from papo.conversation.supervisor import ServerState, ServerStatus
from papo.service import PipelineState, VoiceService
from papo.settings import load_settings
from papo.store import Store
from papo.web.health import HealthController


class Parts:
    """The parts /health looks at: a real voice service and store, a stand-in companion and fleet link."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.voice = VoiceService(load_settings(), store)
        self.voice.status.state = PipelineState.LISTENING
        self.companion = SimpleNamespace(
            output=SimpleNamespace(has_speaker=True), llm_failing=False, speaking=False, reminders_missed=0
        )
        self.runtime = SimpleNamespace(
            status=ConversationStatus(state=ConversationState.READY), companion=self.companion,
            crew=SimpleNamespace(state=SimpleNamespace(value="off")), memory=None,
        )  # fmt: skip
        self.voice.conversation = self.runtime  # type: ignore[assignment]
        self.link: Any = None

    def get(self) -> tuple[int, dict[str, Any]]:
        """The status code and body of GET /health."""
        state = State({"voice": self.voice, "store": self.store, "fleet": self.link, "companion_wanted": True})
        with TestClient(Litestar(route_handlers=[HealthController], state=state)) as client:
            response = client.get("/health")
        return response.status_code, response.json()


@pytest.fixture
def parts(state_dir: Path) -> Iterator[Parts]:
    with Store(state_dir / "papo.sqlite3", "dev-1") as store:
        yield Parts(store)


def test_all_well_is_ok(parts: Parts) -> None:
    code, body = parts.get()
    assert (code, body["status"], body["reasons"]) == (200, "ok", [])
    assert body["store"]["full"] is False and body["store"]["outbox_dropped"] == 0


def test_each_missing_part_is_a_reason_to_be_degraded(parts: Parts) -> None:
    parts.voice.status.state = PipelineState.NO_AUDIO_INPUT
    parts.companion.output.has_speaker = False
    parts.runtime.status.state = ConversationState.NO_LLM
    parts.store.status.full = True
    parts.store.status.quarantined = Path("papo.sqlite3.corrupt-20260101T000000Z")
    parts.store.outbox.dropped = 7
    parts.link = SimpleNamespace(agent=SimpleNamespace(status=SimpleNamespace(
        connected=False, last_sync_at=None, acked=0, rejected=0, applied_version=None, last_error="refused",
    )))  # fmt: skip
    code, body = parts.get()
    assert (code, body["status"]) == (200, "degraded")
    assert body["reasons"] == ["no mic", "no speaker", "LLM down", "disk full", "store quarantined",
                               "broker unreachable"]  # fmt: skip
    assert body["store"]["quarantined"] == "papo.sqlite3.corrupt-20260101T000000Z"
    assert body["store"]["outbox_dropped"] == 7


def test_a_reply_that_fell_back_means_the_llm_is_down(parts: Parts) -> None:
    parts.companion.llm_failing = True
    assert parts.get()[1]["reasons"] == ["LLM down"]


def test_starting_and_a_companion_that_cannot_speak_are_degraded(parts: Parts) -> None:
    parts.voice.status.state = PipelineState.LOADING_MODELS
    parts.voice.conversation = None
    code, body = parts.get()
    assert (code, body["status"], body["reasons"]) == (200, "degraded", ["starting", "companion off"])


def test_a_failed_pipeline_is_503_with_its_reason_first(parts: Parts) -> None:
    parts.voice.status.state, parts.voice.status.detail = PipelineState.FAILED, "model whisper-base is missing"
    parts.store.status.full = True
    code, body = parts.get()
    assert (code, body["status"]) == (503, "failed")
    assert body["reasons"] == ["pipeline failed: model whisper-base is missing", "disk full"]


def test_the_embedded_model_restarting_is_llm_down_with_its_restarts(parts: Parts) -> None:
    server = ServerStatus(state=ServerState.RESTARTING, restarts=2, detail="exited with code -9")
    parts.runtime.status.llm_server = server
    code, body = parts.get()
    assert (code, body["status"], body["reasons"]) == (200, "degraded", ["LLM down"])
    llm = body["conversation"]["llm"]
    assert (llm["state"], llm["restarts"], llm["url"]) == ("restarting", 2, None)
    server.state, server.url = ServerState.READY, "http://127.0.0.1:40000/v1"
    code, body = parts.get()
    assert (code, body["status"], body["reasons"]) == (200, "ok", [])
    assert body["conversation"]["llm"] == {
        "url": "http://127.0.0.1:40000/v1", "model": None, "failing": False, "state": "ready", "restarts": 2,
    }  # fmt: skip
