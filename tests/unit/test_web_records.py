"""The records pages and API of the local web page (issue 13): Conversas, Memórias, Lembretes, Bem-estar.

The daemon's app runs on a temporary state directory (no audio, no conversation) with a logged-in owner; the
records are written with the same store the companion writes to.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from papo.store import (
    EventSource,
    MemoryKind,
    NewTurn,
    ReminderRepeat,
    ReminderStatus,
    Severity,
    Store,
    companion_turn,
    utc_now,
)
from papo.web.security import guards
from support.web import OWNER_PASSWORD, client, owner_client, web_app

SCHEMA = Path(__file__).parents[2] / "docs" / "export-schema.json"


def _said(text: str) -> NewTurn:
    return NewTurn(
        text=text, language="pt", audio_start_s=0.0, audio_end_s=1.0, audio_duration_s=1.0,
        stt_model="whisper-base", stt_window="short", vad_model="silero-vad-v6",
    )  # fmt: skip


@pytest.fixture
def app(tmp_path: Path) -> Litestar:
    return web_app(tmp_path)


@pytest.fixture
def owner(app: Litestar) -> Iterator[TestClient[Litestar]]:
    with owner_client(app) as logged_in:
        yield logged_in


def _store(app: Litestar) -> Store:
    store: Store = app.state["store"]
    return store


def _reauth(owner: TestClient[Litestar]) -> None:
    response = owner.post("/api/v1/session/confirm", json={"password": OWNER_PASSWORD})
    assert response.status_code == 200, response.text


# Conversas


def test_history_is_grouped_by_day_newest_first_and_searched(app: Litestar, owner: TestClient[Litestar]) -> None:
    store = _store(app)
    asked = store.turns.record(_said("Papo, a Júlia vem no domingo"), "mic")
    store.turns.record(companion_turn("Que bom!", "pt", asked.id, "llm", "espeak", None, None, False), "mic")
    store.turns.record(_said("o médico ligou"), "mic")

    body = owner.get("/api/v1/conversations").json()
    assert body["total"] == 3 and body["page"] == 1 and body["pages"] == 1
    (day,) = body["days"]
    assert day["day"] == datetime.now().astimezone().date().isoformat()
    assert [t["text"] for t in day["turns"]] == ["o médico ligou", "Que bom!", "Papo, a Júlia vem no domingo"]
    assert day["turns"][1]["role"] == "companion" and day["turns"][1]["reply_to"] == asked.id

    found = owner.get("/api/v1/conversations", params={"q": "julia"}).json()
    assert found["q"] == "julia" and [t["id"] for d in found["days"] for t in d["turns"]] == [asked.id]
    assert owner.get("/api/v1/conversations", params={"page": 0}).status_code == 400

    page = owner.get("/conversas", params={"q": "JÚLIA"})
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "Papo, a Júlia vem no domingo" in page.text and "o médico ligou" not in page.text
    assert "Hoje" in page.text


def test_a_long_history_comes_in_pages_of_fifty(app: Litestar, owner: TestClient[Litestar]) -> None:
    store = _store(app)
    store.turns.record_many([_said(f"frase número {n}") for n in range(51)], "mic")

    first, second = owner.get("/conversas"), owner.get("/conversas?pagina=2")

    assert "frase número 50" in first.text and "frase número 1<" in first.text and "frase número 0<" not in first.text
    assert 'href="/conversas?pagina=2"' in first.text and "Página 1 de 2" in first.text
    assert "frase número 0<" in second.text and 'href="/conversas?pagina=1"' in second.text
    assert owner.get("/api/v1/conversations", params={"page": 2}).json()["total"] == 51


def test_deleting_one_turn_erases_it_and_its_answer_and_queues_a_tombstone(
    app: Litestar, owner: TestClient[Litestar]
) -> None:
    store = _store(app)
    asked = store.turns.record(_said("esqueça isto"), "mic")
    answer = store.turns.record(companion_turn("Está bem.", "pt", asked.id, "llm", "espeak", None, None, False), "mic")
    kept = store.turns.record(_said("isto fica"), "mic")

    response = owner.delete(f"/api/v1/conversations/turns/{asked.id}")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["turns"] == 2 and body["cloud_told"] is True and body["wiped"] is True
    assert store.turns.get(asked.id) is None and store.turns.get(answer.id) is None
    assert store.turns.get(kept.id) is not None
    (request,) = store.erasures.requests()
    assert request.id == body["erasure_id"] and request.scope == "turns" and request.scrubbed_at is not None
    assert _tombstones(store) == [[asked.id, answer.id]]
    assert owner.delete(f"/api/v1/conversations/turns/{asked.id}").status_code == 404


def _tombstones(store: Store) -> list[list[str]]:
    """The turn ids of the tombstones queued for the cloud."""
    return [item.tombstone.turn_ids for item in store.outbox.pending(100, set()) if item.tombstone is not None]


def test_the_page_deletes_a_turn_with_htmx_and_asks_first_without_it(
    app: Litestar, owner: TestClient[Litestar]
) -> None:
    store = _store(app)
    gone, kept = store.turns.record(_said("apague esta"), "mic"), store.turns.record(_said("esta fica"), "mic")

    ask = owner.get(f"/conversas/{gone.id}/apagar")
    assert ask.status_code == 200 and "apague esta" in ask.text and "Sim, apagar esta frase" in ask.text
    assert store.turns.get(gone.id) is not None  # asking erases nothing

    fragment = owner.post(f"/conversas/{gone.id}/apagar", data={"q": "", "pagina": "1"}, headers={"hx-request": "true"})

    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert 'id="rec-history"' in fragment.text and "esta fica" in fragment.text and "apague esta" not in fragment.text
    assert store.turns.get(gone.id) is None and store.turns.get(kept.id) is not None
    plain = owner.post(f"/conversas/{kept.id}/apagar", data={"q": "", "pagina": "1"}, follow_redirects=False)
    assert plain.status_code == 303 and plain.headers["location"].startswith("/conversas?")
    assert owner.post("/conversas/no-such-turn/apagar", data={}).status_code == 404


def test_erase_all_needs_the_password_entered_again(
    app: Litestar, owner: TestClient[Litestar], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store(app)
    said = store.turns.record(_said("tudo isto"), "mic")
    store.memories.add("gosta de samba", MemoryKind.FACT, said.id)
    pending = store.reminders.add("tomar o remédio", utc_now() + timedelta(hours=2), None, ReminderRepeat.DAILY)

    monkeypatch.setattr(guards, "REAUTH_S", -1.0)  # the password entered at login is no longer recent
    refused = owner.post("/api/v1/conversations/erase-all", json={})
    assert refused.status_code == 403 and refused.json()["reauth"] is True and refused.json()["detail"]
    assert store.turns.count() == 1  # nothing erased

    monkeypatch.undo()
    _reauth(owner)
    response = owner.post("/api/v1/conversations/erase-all", json={})

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["turns"], body["memories"], body["pending_reminders_kept"]) == (1, 1, 1)
    assert store.turns.count() == 0 and store.memories.all() == []
    assert [r.id for r in store.reminders.all()] == [pending.id]  # a medication reminder is not erased with them
    (request,) = store.erasures.requests()
    assert request.scope == "all_history"
    again = owner.post("/api/v1/conversations/erase-all", json={"include_reminders": True})
    assert again.status_code == 200 and again.json()["reminders"] == 1 and store.reminders.all() == []
    ask = owner.get("/conversas/apagar-tudo")
    assert ask.status_code == 200 and 'action="/api/v1/conversations/erase-all"' in ask.text
    assert "Tudo foi apagado" in owner.get("/conversas?apagado=tudo").text


def test_the_export_downloads_as_a_file_valid_against_the_published_schema(
    app: Litestar, owner: TestClient[Litestar], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store(app)
    said = store.turns.record(_said("a neta se chama Júlia"), "mic")
    store.memories.add("A neta se chama Júlia", MemoryKind.FACT, said.id)
    store.reminders.add("tomar o remédio", utc_now() + timedelta(hours=1), None, ReminderRepeat.WEEKLY)
    event = store.wellbeing.add("loneliness", Severity.LOW, "sozinha", EventSource.RULES, said.id)
    store.wellbeing.mark_seen(event.id, "Ana")

    monkeypatch.setattr(guards, "REAUTH_S", -1.0)
    assert owner.get("/api/v1/conversations/export").status_code == 403
    assert owner.post("/conversas/exportar", headers={"hx-request": "true"}).status_code == 403
    monkeypatch.undo()
    _reauth(owner)
    response = owner.get("/api/v1/conversations/export")

    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"].startswith('attachment; filename="papo-export-20')
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"].startswith("application/json")
    document = response.json()
    validator = jsonschema.Draft202012Validator(
        json.loads(SCHEMA.read_text(encoding="utf-8")), format_checker=jsonschema.FormatChecker()
    )
    assert list(validator.iter_errors(document)) == []
    assert [t["text"] for t in document["turns"]] == ["a neta se chama Júlia"]
    assert document["reminders"][0]["repeat"] == "weekly" and document["wellbeing_events"][0]["seen_by"] == "Ana"
    ready = owner.post("/conversas/exportar", headers={"hx-request": "true"})
    assert ready.status_code == 200 and 'href="/api/v1/conversations/export"' in ready.text


# Memórias


def test_a_memory_is_listed_and_forgotten(app: Litestar, owner: TestClient[Litestar]) -> None:
    store = _store(app)
    first = store.memories.add("gosta de samba", MemoryKind.FACT, None)
    second = store.memories.add("tem um gato chamado Miau", MemoryKind.SAID, None)

    listed = owner.get("/api/v1/memories").json()
    assert [m["id"] for m in listed] == [second.id, first.id] and listed[0]["kind"] == "said"
    assert "tem um gato chamado Miau" in owner.get("/memorias").text

    response = owner.delete(f"/api/v1/memories/{first.id}")

    assert response.status_code == 200 and response.json()["memories"] == 1
    assert response.json()["cloud_told"] is False  # memories never leave the device
    assert [m.id for m in store.memories.all()] == [second.id]
    assert owner.delete(f"/api/v1/memories/{first.id}").status_code == 404
    fragment = owner.post(f"/memorias/{second.id}/esquecer", headers={"hx-request": "true"})
    assert fragment.status_code == 200 and "O Papo esqueceu essa memória" in fragment.text
    assert store.memories.all() == []


# Lembretes


def _local(moment: datetime) -> str:
    return moment.astimezone().replace(tzinfo=None).isoformat(timespec="minutes")


def test_a_caregiver_adds_changes_and_removes_a_reminder(app: Litestar, owner: TestClient[Litestar]) -> None:
    store = _store(app)
    at = (utc_now() + timedelta(hours=3)).replace(second=0, microsecond=0)

    added = owner.post(
        "/api/v1/reminders", json={"what": "  tomar o remédio  ", "due_at": _local(at), "repeat": "daily"}
    )

    assert added.status_code == 201, added.text
    body = added.json()
    assert body["what"] == "tomar o remédio" and body["repeat"] == "daily" and body["status"] == "pending"
    assert datetime.fromisoformat(body["due_at"]) == at and body["from_conversation"] is False
    (stored,) = store.reminders.all()
    assert stored.id == body["id"] and stored.due_at == at and stored.turn_id is None

    later = at + timedelta(days=1)
    changed = owner.put(
        f"/api/v1/reminders/{stored.id}", json={"what": "tomar o remédio da pressão", "due_at": later.isoformat()}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["repeat"] == "none" and datetime.fromisoformat(changed.json()["due_at"]) == later
    assert [r["what"] for r in owner.get("/api/v1/reminders").json()] == ["tomar o remédio da pressão"]
    assert "tomar o remédio da pressão" in owner.get("/lembretes").text

    assert owner.delete(f"/api/v1/reminders/{stored.id}").status_code == 204
    assert store.reminders.all(include_done=True) == []
    assert owner.delete(f"/api/v1/reminders/{stored.id}").status_code == 404
    assert (
        owner.put(f"/api/v1/reminders/{stored.id}", json={"what": "x", "due_at": later.isoformat()}).status_code == 404
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"what": ""}, "what"),
        ({"what": "   "}, "what"),
        ({"what": "x" * 201}, "what"),
        ({"due_at": "2020-01-01T08:00"}, "due_at"),
        ({"due_at": "amanhã"}, "due_at"),
        ({"repeat": "monthly"}, "repeat"),
    ],
)
def test_an_invalid_reminder_is_refused_naming_the_field(
    app: Litestar, owner: TestClient[Litestar], change: dict[str, str], field: str
) -> None:
    body = {"what": "tomar o remédio", "due_at": _local(utc_now() + timedelta(hours=1)), "repeat": "none"} | change

    response = owner.post("/api/v1/reminders", json=body)

    assert response.status_code == 400, response.text
    assert response.json()["detail"] and field in {e["key"] for e in response.json()["extra"]}
    assert _store(app).reminders.all() == []


def test_the_reminder_form_shows_each_problem_next_to_its_field(app: Litestar, owner: TestClient[Litestar]) -> None:
    past = (datetime.now() - timedelta(days=1)).date().isoformat()

    page = owner.post("/lembretes", data={"o_que": "", "dia": past, "hora": "08:00", "repetir": "daily"})

    assert page.status_code == 422
    assert "Escreva o que o Papo deve lembrar." in page.text and "ainda vão chegar" in page.text
    assert 'aria-invalid="true"' in page.text and _store(app).reminders.all() == []
    no_time = owner.post("/lembretes", data={"o_que": "regar", "dia": past, "hora": ""}, headers={"hx-request": "true"})
    assert no_time.status_code == 200 and "Escolha a hora." in no_time.text and "<html" not in no_time.text

    tomorrow = (datetime.now() + timedelta(days=1)).date().isoformat()
    saved = owner.post(
        "/lembretes", data={"o_que": "tomar o remédio", "dia": tomorrow, "hora": "08:00", "repetir": "daily"},
        follow_redirects=False,
    )  # fmt: skip
    assert saved.status_code == 303
    (reminder,) = _store(app).reminders.all()
    assert reminder.repeat is ReminderRepeat.DAILY and f"{reminder.due_at.astimezone():%H:%M}" == "08:00"
    edit = owner.get(f"/lembretes/{reminder.id}/mudar")
    assert edit.status_code == 200 and 'value="tomar o remédio"' in edit.text and 'value="08:00"' in edit.text


def test_a_daily_reminder_added_on_the_page_is_said_and_comes_back_tomorrow(
    app: Litestar, owner: TestClient[Litestar]
) -> None:
    """The reminder loop's own steps on the page's reminder: due → said → marked spoken → due again a day later."""
    store = _store(app)
    soon = utc_now() + timedelta(minutes=1)
    created = owner.post(
        "/api/v1/reminders", json={"what": "tomar o remédio", "due_at": soon.isoformat(), "repeat": "daily"}
    )
    assert created.status_code == 201

    (due,) = store.reminders.due(soon + timedelta(seconds=1))  # what Companion.speak_due_reminders reads
    store.reminders.mark_spoken(due.id)  # what it calls once said

    (again,) = owner.get("/api/v1/reminders").json()
    assert again["status"] == "pending" and again["spoken_at"] is not None
    assert datetime.fromisoformat(again["due_at"]) == soon.astimezone(UTC) + timedelta(days=1)


# Bem-estar


def test_a_wellbeing_event_is_marked_seen_by_the_owner(app: Litestar, owner: TestClient[Litestar]) -> None:
    store = _store(app)
    event = store.wellbeing.add("fall", Severity.HIGH, "eu caí", EventSource.RULES, None)

    (listed,) = owner.get("/api/v1/wellbeing").json()
    assert (listed["kind"], listed["severity"], listed["evidence"], listed["seen_at"]) == (
        "fall",
        "high",
        "eu caí",
        None,
    )
    page = owner.get("/bem-estar")
    assert "Queda" in page.text and "eu caí" in page.text and "Marcar como visto" in page.text

    response = owner.post(f"/api/v1/wellbeing/{event.id}/seen")

    assert response.status_code == 200
    assert response.json()["seen_by"] == "Ana" and response.json()["seen_at"] is not None
    assert store.wellbeing.all()[0].seen_by == "Ana"
    assert owner.post("/api/v1/wellbeing/no-such-event/seen").status_code == 404
    assert "Visto por Ana" in owner.get("/bem-estar").text
    other = store.wellbeing.add("loneliness", Severity.LOW, "tão sozinha", EventSource.RULES, None)
    fragment = owner.post(f"/bem-estar/{other.id}/visto", headers={"hx-request": "true"})
    assert fragment.status_code == 200 and fragment.text.lstrip().startswith(f'<li id="rec-event-{other.id}"')
    assert "Visto por Ana" in fragment.text and "Marcar como visto" not in fragment.text


# Every route needs the owner


ROUTES = [
    ("GET", "/api/v1/conversations"), ("DELETE", "/api/v1/conversations/turns/x"),
    ("POST", "/api/v1/conversations/erase-all"), ("GET", "/api/v1/conversations/export"),
    ("GET", "/api/v1/memories"), ("DELETE", "/api/v1/memories/x"),
    ("GET", "/api/v1/reminders"), ("POST", "/api/v1/reminders"), ("PUT", "/api/v1/reminders/x"),
    ("DELETE", "/api/v1/reminders/x"), ("GET", "/api/v1/wellbeing"), ("POST", "/api/v1/wellbeing/x/seen"),
]  # fmt: skip
PAGES = [
    ("GET", "/conversas"), ("GET", "/conversas/x/apagar"), ("POST", "/conversas/x/apagar"),
    ("GET", "/conversas/apagar-tudo"), ("POST", "/conversas/exportar"),
    ("GET", "/memorias"), ("GET", "/memorias/x/esquecer"), ("POST", "/memorias/x/esquecer"),
    ("GET", "/lembretes"), ("POST", "/lembretes"), ("GET", "/lembretes/x/mudar"), ("POST", "/lembretes/x/mudar"),
    ("GET", "/lembretes/x/remover"), ("POST", "/lembretes/x/remover"),
    ("GET", "/bem-estar"), ("POST", "/bem-estar/x/visto"),
]  # fmt: skip


def test_every_records_route_needs_an_owner_session(app: Litestar) -> None:
    with owner_client(app):
        pass  # the device is claimed; the clients below never logged in
    with client(app) as stranger:
        token = stranger.get("/health") and str(stranger.cookies.get("csrftoken"))
        headers = {"x-csrftoken": token}
        for method, path in ROUTES:
            response = stranger.request(method, path, json={}, headers=headers)
            assert response.status_code == 401, (method, path, response.status_code)
        for method, path in PAGES:
            response = stranger.request(method, path, headers=headers, follow_redirects=False)
            assert response.status_code == 303, (method, path, response.status_code)
            assert response.headers["location"].startswith("/entrar?next=")
    assert _store(app).reminders.all() == [] and ReminderStatus.PENDING


def test_the_records_pages_speak_english_when_asked(app: Litestar, owner: TestClient[Litestar]) -> None:
    _store(app).wellbeing.add("loneliness", Severity.LOW, "me sinto sozinha", EventSource.RULES, None)

    reminders, wellbeing = owner.get("/lembretes?lang=en"), owner.get("/bem-estar?lang=en")

    assert "New reminder" in reminders.text and "Every week" in reminders.text and "Novo lembrete" not in reminders.text
    assert "Loneliness" in wellbeing.text and "Mark as seen" in wellbeing.text
    assert "me sinto sozinha" in wellbeing.text  # the person's words are shown as said


def test_no_log_line_carries_what_was_said(
    app: Litestar, owner: TestClient[Litestar], caplog: pytest.LogCaptureFixture
) -> None:
    store = _store(app)
    secret = "segredo-da-vovó"
    said = store.turns.record(_said(f"o {secret} é meu"), "mic")
    memory = store.memories.add(f"guarda o {secret}", MemoryKind.FACT, said.id)
    caplog.set_level(logging.DEBUG)

    owner.get("/api/v1/conversations", params={"q": secret})
    owner.post("/api/v1/reminders", json={"what": secret, "due_at": _local(utc_now() + timedelta(hours=1))})
    owner.post("/lembretes", data={"o_que": secret, "dia": "2020-01-01", "hora": "08:00"})
    owner.delete(f"/api/v1/memories/{memory.id}")
    owner.delete(f"/api/v1/conversations/turns/{said.id}")

    assert any("erased from the web page" in record.getMessage() for record in caplog.records)
    for record in caplog.records:
        assert secret not in record.getMessage() and secret not in str(record.__dict__), record.name
