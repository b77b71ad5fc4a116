"""The local web page in a real browser (Chromium via Playwright) against the real daemon (issue 13).

The daemon listens on the PulseAudio test rig's microphone and speaks on its speaker (recorded with parec); its
LLM is a scripted OpenAI-compatible endpoint. Every page is checked with axe-core (zero serious or critical
violations) and saved at 360 px and 1280 px wide under docs/screenshots/.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np
import pytest

from papo.audio.wav import read_wav, write_wav
from papo.speech.voicegen import with_silence
from papo.store import NewTurn, Store
from papo.web.security.accounts import REAUTH_S
from support.browser import (
    OWNER_PASSWORD,
    WIDTHS,
    Daemon,
    Owner,
    axe_violations,
    daemon_env,
    owner_session,
    running_daemon,
    spoken_code,
)
from support.pulse import PulseRig
from support.scripted_llm import Script, ScriptedLlm
from support.speech import SpeechMaker
from support.wait import wait_until

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

pytestmark = [pytest.mark.browser, pytest.mark.models, pytest.mark.audio]

ROOT = Path(__file__).parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
EXPORT_SCHEMA = ROOT / "docs" / "export-schema.json"
PAGES = {
    "inicio": "/", "conversas": "/conversas", "memorias": "/memorias", "lembretes": "/lembretes",
    "bem-estar": "/bem-estar", "ajustes": "/ajustes", "modelos": "/modelos", "conta": "/conta",
}  # fmt: skip
MARKER = "Zorblaxo"  # a made-up word in one seeded turn: the one deleted on the page
REPLY = "Claro, estou aqui com você."
LOUD = 0.02
SEEDED = [
    ("person", "Hoje eu fui ao mercado comprar pão."),
    ("companion", "Que bom! Comprou pão de queijo também?"),
    ("person", f"O meu gato {MARKER} dormiu o dia todo."),
    ("person", "Amanhã a minha neta vem me visitar."),
]


def _seed_turns(state_dir: Path) -> None:
    """Store a short conversation, as the pipeline would have (before the daemon starts)."""
    with Store(state_dir / "papo.sqlite3", "papo-local", 300) as store:
        for role, text in SEEDED:
            store.turns.record(
                NewTurn(text=text, language="pt", audio_start_s=0, audio_end_s=1, audio_duration_s=1, role=role,
                        stt_model="whisper-base", stt_window="short", vad_model="silero-vad-v6"),
                "mic",
            )  # fmt: skip


def _voice_env(pulse: PulseRig, llm: ScriptedLlm, **extra: str) -> dict[str, str]:
    return pulse.env | {
        "PAPO_AUDIO__INPUT_DEVICE": "papo_mic", "PAPO_AUDIO__OUTPUT_DEVICE": "papo_speaker",
        "PAPO_LLM__ENDPOINT": llm.url, "PAPO_LLM__MODEL": "scripted", "PAPO_CONVERSATION__CREW": "false",
        "PAPO_CACHE__ENABLED": "false",
    } | extra  # fmt: skip


@pytest.fixture(scope="module")
def llm() -> Iterator[ScriptedLlm]:
    """A scripted OpenAI-compatible endpoint (the LLM is not what these tests are about)."""
    scripted = ScriptedLlm(default=Script(text=REPLY)).start()
    yield scripted
    scripted.close()


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, shared_models: Path, pulse: PulseRig, llm: ScriptedLlm
) -> Iterator[Daemon]:
    """The daemon on the test rig (microphone and speaker), a short conversation stored, its owner claimed."""
    state = tmp_path_factory.mktemp("page") / "state"
    state.mkdir()
    (state / "models").symlink_to(shared_models)
    _seed_turns(state)
    with running_daemon(daemon_env(state, _voice_env(pulse, llm))) as daemon:
        daemon.wait_health(lambda h: h["conversation"]["state"] == "ready" and h["conversation"]["speaker"], 120)
        with owner_session(daemon):
            pass  # claimed (the claim in the browser has its own daemon: test_claim_...)
        yield daemon
        daemon.stop()


@dataclass
class EarlyLogins:
    """Owner sessions logged in when the page tests began: by the last tests, the password was entered > 5 min ago."""

    owners: list[Owner]
    at: float

    def stale(self, index: int) -> Owner:
        """The index-th session, once its login is older than the password re-entry window (waiting if needed)."""
        wait_until(lambda: time.monotonic() - self.at > REAUTH_S + 1, REAUTH_S + 60,
                   "the login's password entry to be more than 5 minutes old")  # fmt: skip
        return self.owners[index]


@pytest.fixture(scope="module")
def early_logins(site: Daemon) -> Iterator[EarlyLogins]:
    """Two owner sessions logged in now (for the export and the erase-all, which then ask for the password again)."""
    with ExitStack() as stack:
        at = time.monotonic()
        yield EarlyLogins([stack.enter_context(owner_session(site)) for _ in range(2)], at)


@pytest.fixture
def owner(site: Daemon) -> Iterator[Owner]:
    """A fresh owner session (a new login: no recent password re-entry yet)."""
    with owner_session(site) as session:
        yield session


def _context(chromium: Browser, daemon: Daemon, width: int = 1280) -> BrowserContext:
    return chromium.new_context(
        base_url=daemon.origin, viewport={"width": width, "height": 900}, locale="pt-BR", accept_downloads=True
    )


@pytest.fixture
def page(chromium: Browser, site: Daemon, owner: Owner, early_logins: EarlyLogins) -> Iterator[Page]:
    """A Chromium tab logged in as the owner; fails the test on a CSP refusal, a script error or a server error."""
    with _tab(chromium, site, owner) as tab:
        yield tab


@contextmanager
def _tab(chromium: Browser, site: Daemon, owner: Owner) -> Iterator[Page]:
    context = _context(chromium, site)
    context.add_cookies([{"name": k, "value": v, "url": site.origin} for k, v in owner.client.cookies.items()])
    tab = context.new_page()
    errors = _watch_console(tab)
    yield tab
    context.close()
    assert not errors, f"errors in the page: {errors}"


def _watch_console(tab: Page) -> list[str]:
    """Collect what must never happen in the page: a CSP refusal, an uncaught script error, a server error."""
    errors: list[str] = []
    tab.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 500 else None)
    return errors


def _check_and_save(tab: Page, name: str, width: int) -> None:
    """A screenshot; axe-core: no serious or critical violation; nothing wider than the screen; base type ≥ 18 px."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
    violations = axe_violations(tab)
    assert not violations, f"{name} at {width} px: " + json.dumps(violations, ensure_ascii=False, indent=1)
    scroll_width = tab.evaluate("() => document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{name} at {width} px scrolls sideways ({scroll_width} px wide)"
    base_px = tab.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)")
    assert base_px >= 18, f"{name}: base type {base_px} px"


def _reenter_password(tab: Page, password: str = OWNER_PASSWORD, accepted: bool = True) -> None:
    """Fill the password re-entry dialog the page shows before a destructive action, and confirm."""
    dialog = tab.get_by_role("dialog")
    dialog.get_by_label("Senha", exact=True).fill(password)
    dialog.get_by_role("button", name="Confirmar", exact=True).click()
    if accepted:
        dialog.wait_for(state="hidden")


def _quiet_wav(path: Path) -> Path:
    write_wav(path, np.zeros(32_000, np.float32))
    return path


def _loud_s(path: Path) -> float:
    """Seconds of the recording louder than a whisper."""
    return float((np.abs(read_wav(path).samples) > LOUD).sum() / 16_000)


def test_claim_with_the_spoken_code_wrong_codes_rate_limited_then_log_in(
    chromium: Browser, shared_models: Path, pulse: PulseRig, llm: ScriptedLlm, tmp_path: Path
) -> None:
    state = tmp_path / "claim" / "state"
    state.mkdir(parents=True)
    (state / "models").symlink_to(shared_models)
    env = daemon_env(state, _voice_env(pulse, llm))
    speaker_wav = tmp_path / "speaker.wav"
    with running_daemon(env, "--input", str(_quiet_wav(tmp_path / "quiet.wav"))) as daemon:
        daemon.wait_health(lambda h: h["conversation"]["state"] == "ready" and h["conversation"]["speaker"], 120)
        context = _context(chromium, daemon)
        tab = context.new_page()
        errors = _watch_console(tab)
        assert tab.goto("/").status == 403  # no owner yet: only setup answers
        recorder = pulse.record_speaker(speaker_wav)
        try:
            assert tab.goto("/configurar").status == 200
            _check_and_save(tab, "configurar", 1280)
            tab.set_viewport_size({"width": 360, "height": 800})
            _check_and_save(tab, "configurar", 360)
            tab.set_viewport_size({"width": 1280, "height": 900})
            code = wait_until(lambda: spoken_code(daemon) or "", 30, "the setup code's journal line")
            wait_until(lambda: recorder.loudest() > LOUD, 30, "Papo to say the code aloud")
            wait_until(lambda: not (daemon.health() or {}).get("conversation", {}).get("speaking"), 60, "the code said")
            recorder.stop_once_past(time.monotonic())
        finally:
            recorder.stop()
        assert _loud_s(speaker_wav) > 3  # nine digits, said twice

        wrong = "".join(str((int(d) + 5) % 10) for d in code)
        tab.get_by_label("Código que o Papo falou").fill(wrong)
        tab.get_by_label("Crie uma senha").fill(OWNER_PASSWORD)
        tab.get_by_role("button", name="Configurar", exact=True).click()
        error = tab.get_by_text(re.compile("código errado", re.I))
        error.wait_for()
        assert error.is_visible() and tab.url.endswith("/configurar")

        # Someone else on the network guesses: 4 more wrong codes from another address, then 429 for everyone.
        guesser = httpx.Client(base_url=daemon.base, transport=httpx.HTTPTransport(local_address="127.0.0.2"),
                               headers={"host": daemon.host, "origin": daemon.origin})  # fmt: skip
        with guesser:
            guesser.get("/configurar")
            guesser.headers["x-csrftoken"] = guesser.cookies.get("csrftoken") or ""
            answers = [guesser.post("/api/v1/setup", json={"code": f"{n:03d}482917", "password": OWNER_PASSWORD})
                       for n in range(5)]  # fmt: skip
        statuses = [a.status_code for a in answers]
        assert statuses == [400, 400, 400, 400, 429], statuses
        unlock_at = time.monotonic() + int(answers[-1].headers["retry-after"])
        tab.get_by_label("Código que o Papo falou").fill(code)  # even the right code waits now
        tab.get_by_role("button", name="Configurar", exact=True).click()
        tab.get_by_text(re.compile("muitas tentativas", re.I)).wait_for()

        wait_until(lambda: time.monotonic() >= unlock_at, 70, "the one-minute lockout to pass")
        tab.get_by_role("button", name="Configurar", exact=True).click()
        tab.wait_for_url(re.compile(r"/$"))
        assert tab.goto("/configurar").status == 403  # setup closed for good
        context.close()

        context = _context(chromium, daemon)  # another visit: log in
        tab = context.new_page()
        errors += _watch_console(tab)
        tab.goto("/ajustes")
        tab.wait_for_url(re.compile(r"/entrar"))
        _check_and_save(tab, "entrar", 1280)
        tab.set_viewport_size({"width": 360, "height": 800})
        _check_and_save(tab, "entrar", 360)
        tab.get_by_label("Senha", exact=True).fill(OWNER_PASSWORD)
        tab.get_by_role("button", name="Entrar", exact=True).click()
        tab.wait_for_url(re.compile(r"/ajustes$"))  # back where the person was going
        context.close()
        daemon.stop()
    assert not errors, errors
    assert code not in (state / "papo.sqlite3").read_bytes().decode("latin-1")


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_passes_axe_and_fits_the_screen(chromium: Browser, page: Page, site: Daemon, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    for name, path in PAGES.items():
        response = page.goto(path)
        assert response is not None and response.status == 200, (path, response and response.status)
        assert page.locator("main").count() == 1, path
        _check_and_save(page, name, width)
    context = _context(chromium, site, width)  # and the login page, as a visitor without a session sees it
    try:
        visitor = context.new_page()
        response = visitor.goto("/entrar")
        assert response is not None and response.status == 200
        _check_and_save(visitor, "entrar", width)
    finally:
        context.close()


def test_live_status_changes_when_speech_is_fed(
    page: Page, site: Daemon, pulse: PulseRig, speech: SpeechMaker, tmp_path: Path
) -> None:  # listening → (thinking) → speaking, and the microphone level, without reloading the page
    room = tmp_path / "sala.wav"
    write_wav(room, with_silence([speech.say("Papo, você pode conversar comigo um pouco?")], gap_s=0, lead_s=0.5))
    site.wait_health(lambda h: h["pipeline"]["state"] == "listening" and not h["conversation"]["speaking"], 60)
    loads: list[str] = []
    page.on("load", lambda _: loads.append(page.url))
    page.goto("/")
    state = page.locator("#panel-status dl > div").first.locator("dd").first  # "Agora": what Papo is doing
    state.wait_for()
    seen = {state.inner_text()}
    level = page.locator("#panel-level")
    levels = {level.inner_text()}
    players = [pulse.play_into_room(room)]
    ended_at: dict[int, float] = {}  # when each playing ended, by its number
    try:

        def changed() -> bool:
            seen.add(state.inner_text())
            levels.add(level.inner_text())
            if len(seen) >= 2 and len(levels) >= 2:
                return True
            if players[-1].poll() is not None:  # said and not answered (a wake word misheard): say it again
                ended = ended_at.setdefault(len(players), time.monotonic())
                if time.monotonic() - ended > 10 and len(players) < 3:
                    players.append(pulse.play_into_room(room))
            return False

        # what Papo is doing (hearing, answering) and the microphone level both move live
        wait_until(changed, 90, lambda: f"the page to change (seen {seen}, {levels}, said {len(players)}×)", 0.1)
    finally:
        for player in players:
            player.wait(timeout=60)
    assert loads == [page.url], loads  # updated live, never reloaded
    assert len(levels) > 1 and len(seen) > 1, (levels, seen)  # the microphone level and the activity moved


def _voice_test(page: Page, site: Daemon, pulse: PulseRig, wav: Path) -> float:
    """Press "Testar voz": the sample's length the page shows, once it was heard on the speaker and written as a WAV."""
    before = {p: p.stat().st_mtime_ns for p in site.state_dir.glob("*.wav")}
    recorder = pulse.record_speaker(wav)
    try:
        page.get_by_role("button", name="Testar voz").click()
        result = page.locator("#panel-result").get_by_text(re.compile(r"Amostra de voz gravada \(([\d.]+) s\)"))
        try:
            result.wait_for()
        except Exception as exc:
            raise AssertionError(
                f"no voice sample on the page: {page.locator('#panel-result').inner_text()!r}"
            ) from exc
        wait_until(lambda: recorder.loudest() > LOUD, 30, "the voice test to be heard")
        site.wait_health(lambda h: not h["conversation"]["speaking"], 60)
        recorder.stop_once_past(time.monotonic())
    finally:
        recorder.stop()
    assert "Tocada no alto-falante." in page.locator("#panel-result").inner_text()
    assert _loud_s(wav) > 0.5, "the sample was not heard on the speaker"
    written = {p for p in site.state_dir.glob("*.wav") if before.get(p) != p.stat().st_mtime_ns}
    assert len(written) == 1, written  # the sample, kept as a WAV file
    sample = read_wav(written.pop())
    shown = float(re.findall(r"\(([\d.]+) s\)", result.inner_text())[0])
    assert abs(sample.duration_s - shown) < 0.05
    return shown


def test_changing_the_voice_and_hearing_the_test(page: Page, site: Daemon, pulse: PulseRig, tmp_path: Path) -> None:
    site.wait_health(lambda h: not h["conversation"]["speaking"], 60)
    page.goto("/ajustes")
    before_s = _voice_test(page, site, pulse, tmp_path / "before.wav")
    page.get_by_label("Voz", exact=True).fill("pt")  # espeak-ng's European Portuguese voice
    page.get_by_label(re.compile("velocidade", re.I)).fill("240")  # from 160 words a minute
    page.get_by_role("button", name="Salvar", exact=True).click()
    page.get_by_text("Ajustes salvos.").wait_for()
    restart = page.get_by_text(re.compile("valem depois de reiniciar"))
    assert "tts.voice" in restart.inner_text() and "tts.rate_wpm" not in restart.inner_text()  # the rate is live
    assert page.get_by_role("button", name="Reiniciar agora").is_visible()  # and offers it
    after_s = _voice_test(page, site, pulse, tmp_path / "after.wav")
    assert after_s < 0.85 * before_s, (before_s, after_s)  # the new, faster voice said the sample
    page.reload()
    changes = page.locator("section[aria-labelledby=changes-title]").inner_text()
    assert "tts.rate_wpm" in changes and "160" in changes and "240" in changes  # who, when, old → new


def test_an_invalid_value_is_shown_next_to_its_field_and_nothing_is_applied(page: Page, site: Daemon) -> None:
    before = site.health()
    assert before is not None
    page.goto("/ajustes")
    page.get_by_label(re.compile("velocidade", re.I)).fill("5000")
    page.get_by_role("button", name="Salvar", exact=True).click()
    page.get_by_text(re.compile("nada foi mudado", re.I)).wait_for()
    rate = page.get_by_label(re.compile("velocidade", re.I))
    error = page.locator("[id='f-tts.rate_wpm-error']")
    assert re.search(r"400", error.inner_text()), error.inner_text()  # the reason: the allowed range
    assert rate.get_attribute("aria-invalid") == "true"
    assert "f-tts.rate_wpm-error" in (rate.get_attribute("aria-describedby") or "").split()
    assert rate.input_value() == "5000"  # what was typed stays, to be corrected
    after = site.health()
    assert after is not None and after["conversation"]["voice"] == before["conversation"]["voice"]


def test_a_reminder_added_on_the_page_is_said_when_due(
    page: Page, site: Daemon, owner: Owner, pulse: PulseRig, tmp_path: Path
) -> None:
    page.goto("/lembretes")
    what = "tomar o remédio da pressão"
    page.get_by_label("O que o Papo deve lembrar").fill(what)
    # The page takes whole minutes: the next one at least 10 s ahead (time to type and save).
    due = (datetime.now() + timedelta(seconds=70)).replace(second=0, microsecond=0)
    page.get_by_label("Dia", exact=True).fill(due.strftime("%Y-%m-%d"))
    page.get_by_label("Hora", exact=True).fill(due.strftime("%H:%M"))
    page.get_by_role("button", name="Salvar lembrete").click()
    page.get_by_text("Lembrete salvo.", exact=False).wait_for()
    page.get_by_text(what).first.wait_for()
    added = [r for r in owner.request("GET", "/api/v1/reminders").json() if r["what"] == what]
    assert len(added) == 1 and added[0]["status"] == "pending", added
    speaker_wav = tmp_path / "speaker.wav"
    recorder = pulse.record_speaker(speaker_wav)
    try:

        def said() -> bool:
            listed = owner.request("GET", "/api/v1/reminders", params={"include_done": "true"}).json()
            return any(r["what"] == what and r["status"] == "spoken" for r in listed)

        wait_until(said, (due - datetime.now()).total_seconds() + 60, "the reminder to be said")
        site.wait_health(lambda h: not h["conversation"]["speaking"], 60)
        recorder.stop_once_past(time.monotonic())
    finally:
        recorder.stop()
    assert _loud_s(speaker_wav) > 1
    page.reload()
    assert page.locator("#rec-reminders li").filter(has_text=what).count() == 0  # no longer among those to come


def _history_texts(owner: Owner, words: str = "") -> list[str]:
    answer = owner.request("GET", "/api/v1/conversations", params={"q": words})
    assert answer.status_code == 200, answer.text
    return [t["text"] for day in answer.json()["days"] for t in day["turns"]]


def test_deleting_one_turn(page: Page, owner: Owner) -> None:
    assert _history_texts(owner, MARKER)
    page.goto("/conversas")
    page.once("dialog", lambda d: d.accept())  # "Apagar esta frase? ..." (hx-confirm)
    page.get_by_role("button", name=re.compile(f"^Apagar: .*{MARKER}")).click()
    page.get_by_text("A frase foi apagada").wait_for()
    assert page.get_by_text(MARKER).count() == 0
    assert not _history_texts(owner, MARKER)
    assert "Amanhã a minha neta vem me visitar." in _history_texts(owner)  # only that turn


def test_export_asks_for_the_password_again_and_the_download_matches_its_schema(
    chromium: Browser, site: Daemon, early_logins: EarlyLogins, tmp_path: Path
) -> None:
    import jsonschema

    owner = early_logins.stale(0)
    assert owner.request("GET", "/api/v1/conversations/export").json().get("reauth") is True  # asked for again
    with _tab(chromium, site, owner) as page:
        page.goto("/conversas")
        with page.expect_download() as download_info:
            page.get_by_role("button", name="Baixar uma cópia de tudo").click()
            _reenter_password(page, "senha-errada-123", accepted=False)
            page.get_by_role("dialog").get_by_text("Senha errada.").wait_for()
            _reenter_password(page)
        path = tmp_path / "export.json"
        download_info.value.save_as(path)
    assert download_info.value.suggested_filename.endswith(".json")
    exported: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    schema = json.loads(EXPORT_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(exported)
    texts = [t["text"] for t in exported["turns"]]
    assert "Hoje eu fui ao mercado comprar pão." in texts


def test_erase_all_asks_for_the_password_again(
    chromium: Browser, site: Daemon, owner: Owner, early_logins: EarlyLogins
) -> None:
    assert _history_texts(owner)
    stale = early_logins.stale(1)
    with _tab(chromium, site, stale) as page:
        page.goto("/conversas")
        page.get_by_role("link", name="Apagar tudo…").click()
        page.get_by_role("button", name="Sim, apagar tudo").click()
        _reenter_password(page)
        page.wait_for_url(re.compile(r"/conversas\?apagado=tudo$"))
        page.get_by_text("Nada foi dito ao Papo ainda.").wait_for()
    assert not _history_texts(owner)
    listed = site.papo("history", "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout) == [], listed.stdout


def test_the_pages_work_by_keyboard_and_at_200_percent_zoom(page: Page) -> None:
    page.goto("/")
    focused = ""
    for _ in range(25):  # Tab through the page until the menu's "Lembretes" has the focus
        page.keyboard.press("Tab")
        focused = page.evaluate("() => (document.activeElement?.textContent || '').trim()")
        if focused == "Lembretes":
            break
    assert focused == "Lembretes", "the menu cannot be reached by keyboard"
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none"), "the keyboard focus is not visible"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/lembretes$"))
    page.set_viewport_size({"width": 640, "height": 900})  # a 1280 px screen at 200 % zoom: 640 CSS px wide
    for name, path in PAGES.items():
        page.goto(path)
        scroll_width = page.evaluate("() => document.documentElement.scrollWidth")
        assert scroll_width <= 640, f"{name} at 200 % zoom scrolls sideways ({scroll_width} px wide)"


def _tab_to(page: Page, element_id: str, limit: int = 60) -> None:
    """Press Tab until the element `element_id` has the keyboard focus (fail if it never gets it)."""
    for _ in range(limit):
        if page.evaluate("() => document.activeElement?.id") == element_id:
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"#{element_id} cannot be reached with Tab")


def _typed_date_and_time(page: Page, when: datetime) -> tuple[str, str]:
    """The keys a person types into this browser's date and time fields for `when` (their parts' order and clock
    follow the browser's language: dd/mm/aaaa and 24 h in pt-BR, mm/dd/yyyy and AM/PM in en-US), found on a
    scratch page of the same browser."""
    probe = page.context.new_page()
    try:
        probe.set_content('<input id="d" type="date"><input id="t" type="time">')
        probe.focus("#d")
        probe.keyboard.type("01022003")
        order = {"2003-02-01": "%d%m%Y", "2003-01-02": "%m%d%Y"}.get(probe.input_value("#d"), "%Y%m%d")
        probe.focus("#t")
        probe.keyboard.type("0930")
        twenty_four_hours = probe.input_value("#t") == "09:30"  # else the field waits for AM or PM
    finally:
        probe.close()
    hour = when.strftime("%H%M") if twenty_four_hours else when.strftime("%I%M") + when.strftime("%p")[0]
    return when.strftime(order), hour


def test_a_reminder_is_added_and_removed_with_the_keyboard_alone(page: Page, owner: Owner) -> None:
    what = "ligar para a Dona Cida"
    due = (datetime.now() + timedelta(days=2)).replace(hour=9, minute=30, second=0, microsecond=0)
    day_keys, time_keys = _typed_date_and_time(page, due)
    page.goto("/lembretes")
    _tab_to(page, "f-o_que")
    page.keyboard.type(what)
    _tab_to(page, "f-dia")
    page.keyboard.type(day_keys)
    _tab_to(page, "f-hora")
    page.keyboard.type(time_keys)
    typed = (page.input_value("#f-dia"), page.input_value("#f-hora"))
    assert typed == (due.strftime("%Y-%m-%d"), due.strftime("%H:%M")), (typed, day_keys, time_keys)
    _tab_to(page, "f-repetir-none")  # the radio group: the arrow keys choose within it
    page.keyboard.press("ArrowDown")
    assert page.evaluate("() => document.activeElement.id") == "f-repetir-daily"
    page.keyboard.press("Tab")
    focused = page.evaluate("() => (document.activeElement?.textContent || '').trim()")
    assert focused == "Salvar lembrete", focused
    page.keyboard.press("Enter")
    try:
        page.get_by_text("Lembrete salvo.", exact=False).wait_for()
    except Exception as exc:
        raise AssertionError(f"not saved: {page.locator('main').inner_text()!r}") from exc
    [added] = [r for r in owner.request("GET", "/api/v1/reminders").json() if r["what"] == what]
    assert added["repeat"] == "daily" and datetime.fromisoformat(added["due_at"]).astimezone().strftime(
        "%Y-%m-%d %H:%M") == due.strftime("%Y-%m-%d %H:%M"), added  # fmt: skip
    page.on("dialog", lambda dialog: dialog.accept())  # "Remover este lembrete?": Enter on the browser's question
    remove = page.get_by_role("button", name=f"Remover: {what}")
    for _ in range(80):
        if remove.evaluate("button => button === document.activeElement"):
            break
        page.keyboard.press("Tab")
    else:
        raise AssertionError("the reminder's Remover button cannot be reached with Tab")
    page.keyboard.press("Enter")
    wait_until(lambda: not [r for r in owner.request("GET", "/api/v1/reminders").json() if r["what"] == what], 10,
               "the reminder to be removed")  # fmt: skip
