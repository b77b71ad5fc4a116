"""The panel pages and their API (issue 13): Início's status and live stream, Ajustes, Modelos.

The live stream is read from a real server (uvicorn on a free port): Litestar's TestClient waits for a response
to end, and a stream of server-sent events never does.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from litestar import Litestar

from papo.audio.wav import read_wav
from papo.errors import NoAudioInputError
from papo.models.inventory import ModelRow
from papo.models.manifest import ModelEntry
from papo.service import PipelineState, VoiceService
from papo.settings import Settings, fleet_settings_path, load_settings, local_settings_path
from papo.system import restart
from papo.web.panel import audio_checks, changelog, modelos
from papo.web.panel.feed import StatusFeed
from papo.web.panel.fields import EDITABLE
from support.wait import wait_until
from support.web import OWNER_PASSWORD, client, owner_client, setup_code, web_app


@pytest.fixture
def app(tmp_path: Path) -> Litestar:
    built = web_app(tmp_path)
    built.state["panel_feed_interval_s"] = 0.01  # read the status afresh on every request and event
    return built


def _voice(app: Litestar) -> VoiceService:
    voice: VoiceService = app.state["voice"]
    return voice


def test_status_says_each_problem_plainly_with_what_to_do(app: Litestar) -> None:
    _voice(app).status.state = PipelineState.NO_AUDIO_INPUT
    with owner_client(app) as owner:
        body = owner.get("/api/v1/status").json()
        page = owner.get("/")
    assert body["verdict"] == "degraded" and body["activity"] == "no microphone"
    assert body["problems"] == [
        {"code": "no mic", "message": "Nenhum microfone encontrado", "action": "Verifique o cabo USB do microfone."}
    ]
    assert set(body) >= {"cloud", "disk", "models", "mic_level_dbfs", "reasons"}
    assert body["cloud"] == {"enabled": False, "connected": False, "last_sync_at": None}
    assert body["disk"]["free_bytes"] > 0 and body["models"]["state"] == "ready"
    assert page.status_code == 200 and "Nenhum microfone encontrado" in page.text and "Sem microfone" in page.text
    assert 'sse-connect="/inicio/eventos"' in page.text


def test_status_in_english(app: Litestar) -> None:
    with owner_client(app) as owner:
        page = owner.get("/?lang=en")
    assert page.status_code == 200 and "How Papo is doing" in page.text and "Como está" not in page.text


def test_the_panel_needs_an_owner(app: Litestar) -> None:
    with client(app) as anyone:
        setup_code(app)
        anyone.get("/health")
        anyone.post(
            "/api/v1/setup", json={"code": setup_code(app), "password": OWNER_PASSWORD, "name": "Ana"},
            headers={"x-csrftoken": str(anyone.cookies.get("csrftoken"))},
        )  # fmt: skip
    with client(app) as stranger:
        for path in ("/api/v1/status", "/api/v1/settings", "/api/v1/models", "/api/v1/status/stream"):
            assert stranger.get(path).status_code == 401, path
        assert stranger.get("/ajustes", follow_redirects=False).status_code == 303


@contextmanager
def _serve(app: Litestar) -> Iterator[str]:
    """Serve `app` on a free port of 127.0.0.1 in a thread; its base URL."""
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    port = listening.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        listening.close()


@contextmanager
def _logged_in(app: Litestar, base: str) -> Iterator[httpx.Client]:
    """An HTTP client that claimed the device and logged in as its owner."""
    with httpx.Client(base_url=base, timeout=10) as http:
        http.get("/health")
        http.headers["x-csrftoken"] = str(http.cookies.get("csrftoken"))
        claimed = http.post("/api/v1/setup", json={"code": setup_code(app), "password": OWNER_PASSWORD, "name": "Ana"})
        assert claimed.status_code == 201, claimed.text
        http.headers["x-csrftoken"] = str(http.cookies.get("csrftoken"))
        assert http.post("/api/v1/session", json={"password": OWNER_PASSWORD}).status_code == 200
        yield http


def _events(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """(event, data) of each server-sent event."""
    event, data = "message", list[str]()
    for line in lines:
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", list[str]()
        elif line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data.append(line.removeprefix("data: "))


def test_the_status_stream_sends_each_change_and_ends_when_the_client_leaves(app: Litestar) -> None:
    voice = _voice(app)
    with _serve(app) as base, _logged_in(app, base) as http:
        with http.stream("GET", "/api/v1/status/stream") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            events = _events(response.iter_lines())
            event, data = next(events)
            assert event == "status" and json.loads(data)["activity"] == "starting"
            voice.status.state = PipelineState.NO_AUDIO_INPUT
            event, data = next(events)
            assert event == "status" and json.loads(data)["problems"][0]["code"] == "no mic"
            voice.status.state = PipelineState.LISTENING
            voice.level.dbfs = -31.5
            event, data = next(events)
            assert event == "status" and json.loads(data)["mic_level_dbfs"] == -31.5
            voice.level.dbfs = -12.0
            assert next(events) == ("level", "-12.0")
        feed: StatusFeed = app.state["panel_feed"]
        wait_until(lambda: feed.clients == 0, 10, "the stream to end once its client left")
        with http.stream("GET", "/inicio/eventos") as page_stream:
            events = _events(page_stream.iter_lines())
            event, html = next(events)
            assert event == "status" and "Ouvindo" in html
            event, html = next(events)
            assert event == "level" and "<meter" in html
        wait_until(lambda: feed.clients == 0, 10, "the page's stream to end once its client left")


def test_a_live_setting_applies_at_once(app: Litestar, monkeypatch: pytest.MonkeyPatch) -> None:
    voice = _voice(app)
    with owner_client(app) as owner:
        response = owner.put("/api/v1/settings", json={"values": {"privacy.history": False, "audio.volume": 55}})
        settings = owner.get("/api/v1/settings").json()
    assert response.status_code == 200, response.text
    body = response.json()
    assert sorted(body["applied"]) == ["audio.volume", "privacy.history"] and body["restart_needed"] == []
    assert voice.settings.privacy.history is False and voice.settings.audio.volume == 55
    assert settings["values"]["audio.volume"] == 55
    assert sorted(settings["held_locally"]) == ["audio.volume", "privacy.history"]


def test_an_invalid_value_is_refused_naming_its_field_and_nothing_changes(app: Litestar, state_dir: Path) -> None:
    path = local_settings_path(app.state["ctx"].state_dir)
    with owner_client(app) as owner:
        assert owner.put("/api/v1/settings", json={"values": {"audio.volume": 80}}).status_code == 200
        kept = path.read_bytes()
        refused = owner.put("/api/v1/settings", json={"values": {"audio.volume": 20, "tts.rate_wpm": 9000}})
        form = owner.post("/ajustes", data={"tts.rate_wpm": "9000", "audio.volume": "20"})
    assert refused.status_code == 422
    assert refused.json()["extra"] == [{"key": "tts.rate_wpm", "message": "no máximo 400"}]
    assert path.read_bytes() == kept and _voice(app).settings.audio.volume == 80
    assert form.status_code == 422
    error = form.text.split('data-error-for="tts.rate_wpm"', 1)[1].split("</p>", 1)[0]
    assert "no máximo 400" in error
    assert path.read_bytes() == kept


def test_a_change_that_needs_a_restart_says_so_and_offers_it(app: Litestar, monkeypatch: pytest.MonkeyPatch) -> None:
    stopped = threading.Event()
    monkeypatch.setattr(restart, "_stop_self", stopped.set)
    monkeypatch.setattr(restart, "_requested", threading.Event())
    monkeypatch.delenv("INVOCATION_ID", raising=False)
    with owner_client(app) as owner:
        body = owner.put("/api/v1/settings", json={"values": {"tts.voice": "pt"}}).json()
        page = owner.get("/ajustes")
        refused = owner.post("/api/v1/restart")
        assert refused.status_code == 409 and not stopped.is_set()  # no service manager would start papo again
        monkeypatch.setenv("INVOCATION_ID", "0123")
        accepted = owner.post("/api/v1/restart")
    assert body["restart_needed"] == ["tts.voice"] and body["applied"] == []
    assert "Reiniciar agora" in page.text and "tts.voice" in page.text
    assert accepted.status_code == 202 and accepted.json()["restarting"] is True
    assert stopped.is_set() and restart.restart_requested()


def test_the_page_settings_win_over_the_fleet_and_are_reported_as_held(app: Litestar) -> None:
    from papo.fleet import apply_desired
    from papo_sync.protocol import DesiredState

    state_dir = app.state["ctx"].state_dir
    fleet_settings_path(state_dir).write_text(json.dumps({"tts": {"rate_wpm": 120}}))
    with owner_client(app) as owner:
        assert owner.put("/api/v1/settings", json={"values": {"tts.rate_wpm": 230}}).status_code == 200
        shown = owner.get("/api/v1/settings").json()["values"]["tts.rate_wpm"]
    assert shown == 230 and load_settings(state_dir=state_dir).tts.rate_wpm == 230
    report = apply_desired(DesiredState(version=2, settings={"tts": {"rate_wpm": 100}}), state_dir)
    assert report.accepted and report.held_locally == ["tts.rate_wpm"]


def test_each_change_is_recorded_with_who_and_secrets_masked(app: Litestar, tmp_path: Path) -> None:
    secret = tmp_path / "broker-password"
    secret.write_text("hunter2")
    secret.chmod(0o600)
    with owner_client(app) as owner:
        owner.put("/api/v1/settings", json={"values": {"sync.password_file": str(secret), "tts.rate_wpm": 150}})
        changes = owner.get("/api/v1/settings/changes").json()
        page = owner.get("/ajustes").text
    by_key = {c["key"]: c for c in changes}
    assert by_key["tts.rate_wpm"]["old"] == 160 and by_key["tts.rate_wpm"]["new"] == 150
    assert by_key["sync.password_file"]["new"] == changelog.MASK and by_key["sync.password_file"]["who"] == "Ana"
    recent = page.split('id="changes-title"', 1)[1]
    assert str(secret) not in json.dumps(changes) and str(secret) not in recent and changelog.MASK in recent
    log = changelog.changes_path(app.state["ctx"].state_dir)
    assert log.stat().st_mode & 0o777 == 0o600


def test_the_voice_test_says_a_sample_into_a_wav(app: Litestar) -> None:
    with owner_client(app) as owner:
        response = owner.post("/api/v1/settings/voice-test", json={"values": {"tts.rate_wpm": 240}})
        refused = owner.post("/api/v1/settings/voice-test", json={"values": {"tts.rate_wpm": 5}})
    assert response.status_code == 200, response.text
    body = response.json()
    wav = audio_checks.voice_test_path(app.state["ctx"].state_dir)
    assert body["file"] == wav.name and body["played"] is False  # no speaker in the unit tests
    assert read_wav(wav).duration_s == pytest.approx(body["duration_s"], abs=0.05) and body["duration_s"] > 0.5
    assert refused.status_code == 422 and refused.json()["extra"][0]["key"] == "tts.rate_wpm"
    assert not local_settings_path(app.state["ctx"].state_dir).exists()  # a test changes no setting


def test_the_device_test_without_a_microphone_says_why(app: Litestar, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_microphone(*_: Any) -> None:
        raise NoAudioInputError("no audio input: plug in a microphone")

    monkeypatch.setattr(audio_checks, "device_test", no_microphone)
    with owner_client(app) as owner:
        response = owner.post("/api/v1/settings/device-test", json={})
        page = owner.post("/ajustes/testar-som", headers={"hx-request": "true"})
    assert response.status_code == 409 and "plug in a microphone" in response.json()["detail"]
    assert page.status_code == 200 and "plug in a microphone" in page.text


def _entry(name: str, data: bytes, size: int | None = None) -> ModelEntry:
    import hashlib

    file = {"name": "model.bin", "size": size or len(data), "sha256": hashlib.sha256(data).hexdigest(),
            "sources": [{"module": "none", "path": "none"}]}  # fmt: skip
    return ModelEntry.model_validate(
        {
            "name": name,
            "kind": "stt",
            "description": "test",
            "license": "MIT",
            "languages": ["pt"],
            "packages": ["none"],
            "files": [file],
        }
    )


def test_models_are_listed_and_verified_again(app: Litestar, monkeypatch: pytest.MonkeyPatch) -> None:
    settings: Settings = app.state["ctx"].settings
    good, bad = _entry("tiny-good", b"good weights"), _entry("tiny-bad", b"the real weights")
    for entry, data in ((good, b"good weights"), (bad, b"the fake weight")):
        (settings.models_dir / entry.name).mkdir()
        (settings.models_dir / entry.name / "model.bin").write_bytes(data.ljust(entry.size, b"!"))
    try:
        with owner_client(app) as owner:
            listed = owner.get("/api/v1/models").json()
            monkeypatch.setattr(
                modelos, "inventory", lambda _: [ModelRow(good, "ready", True), ModelRow(bad, "ready", False)]
            )
            started = owner.post("/api/v1/models/verify")
            assert modelos.verify_job(app.state).wait(30)
            verified = owner.get("/api/v1/models").json()
            page = owner.get("/modelos").text
    finally:
        for entry in (good, bad):
            shutil.rmtree(settings.models_dir / entry.name)
    whisper = next(m for m in listed["models"] if m["name"] == "whisper-base")
    assert whisper["license"] == "MIT" and whisper["size_bytes"] > 100_000_000 and "pt" in whisper["languages"]
    assert whisper["verified"] == "not checked" and whisper["in_use"] is True
    assert started.status_code == 202 and started.json()["verification"]["state"] in ("running", "done")
    state = {m["name"]: (m["verified"], m["problems"]) for m in verified["models"]}
    assert state["tiny-good"] == ("ok", [])
    assert state["tiny-bad"][0] == "failed" and "sha256 mismatch" in state["tiny-bad"][1][0]
    assert verified["verification"] == {"state": "done", "checked_files": 2, "total_files": 2}
    assert "Com problema" in page and "Íntegro" in page


def test_the_settings_page_shows_every_field_labelled(app: Litestar) -> None:
    with owner_client(app) as owner:
        page = owner.get("/ajustes").text
        saved = owner.post("/ajustes", data={"audio.volume": "35", "privacy.history": "on", "tts.voice": ""})
    for key in EDITABLE:
        assert f'for="f-{key}"' in page and f'id="f-{key}"' in page, key
    assert saved.status_code == 200 and "Ajustes salvos" in saved.text
    assert _voice(app).settings.audio.volume == 35


def test_the_voice_test_never_prepares_a_model(app: Litestar) -> None:
    settings: Settings = app.state["ctx"].settings
    with owner_client(app) as owner:
        response = owner.post("/api/v1/settings/voice-test", json={"values": {"tts.engine": "kokoro"}})
    assert response.status_code == 409 and "papo models provision kokoro-82m" in response.json()["detail"]
    assert not any(settings.models_dir.iterdir())
