"""The companion's urgent answer says only what is true about warning the family, and «estou bem» reaches the cloud.

A companion on a real store (SQLite in the test's state directory) with a journaled voice; its alert voice runs
on a clock the test moves (no thread), and the cloud link is a switch the test flips.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from papo.cache import AudioCache
from papo.conversation.alert_state import AlertCases
from papo.conversation.alert_voice import AlertVoice
from papo.conversation.companion import Companion
from papo.conversation.crew import CrewRuntime
from papo.conversation.phrases import ALERT_CHECK_IN, ALERT_OFFLINE, GLAD_FINE
from papo.conversation.speech_output import SpeechOutput
from papo.conversation.turn import TurnOutcome, decide
from papo.settings import load_settings
from papo.speech.tts import CachedVoice
from papo.store import OutboxKind, Store
from papo_sync.protocol import WellbeingOk
from support.alert_updates import ManualClock, alert_update
from support.fakes import JournalVoice, NullSpeaker
from support.pipeline_fakes import new_turn

FALL = "Papo, socorro, eu caí no banheiro!"
OFFLINE = ALERT_OFFLINE["pt"]
WAIT_S = 20.0


@dataclass
class Rig:
    store: Store
    companion: Companion
    voice: AlertVoice
    clock: ManualClock
    journal: list[str]
    link: list[bool]

    def hear(self, text: str, addressed: bool | None = None) -> TurnOutcome:
        """Let the companion hear `text` (said to it or not as the wake word and follow-up decide, or `addressed`)."""
        admitted = decide(new_turn(text), "mic", time.monotonic(), self.companion._settings, self.companion)
        return self.companion.respond(admitted.heard, admitted.addressed if addressed is None else addressed)

    def said(self) -> str:
        """Everything the voice said so far (sentence by sentence, joined)."""
        return " ".join(line.removeprefix("said ") for line in self.journal if line.startswith("said "))


@pytest.fixture
def rig(state_dir: Path) -> Iterator[Rig]:
    settings = load_settings(conversation={"crew": False, "review_after_idle_s": 0, "checkin_min": 2})
    store = Store(settings.store_path, settings.device_id)
    journal: list[str] = []
    output = SpeechOutput(CachedVoice(JournalVoice(journal), AudioCache(None, "tts")), NullSpeaker())
    clock, link = ManualClock(), [False]
    cases = AlertCases("pt", lambda: settings.conversation.checkin_min * 60, WAIT_S)
    voice = AlertVoice(output.say, cases, clock, autostart=False)
    crew = CrewRuntime("http://127.0.0.1:9/v1", "none", enabled=False)
    companion = Companion(settings, store, output, lambda: None, lambda: None, crew, alerts=voice)
    voice.connect(lambda: link[0])
    yield Rig(store, companion, voice, clock, journal, link)
    companion.close()
    store.close()


def test_without_a_cloud_link_the_urgent_answer_says_nobody_can_be_told_and_to_call_samu(rig: Rig) -> None:
    outcome = rig.hear(FALL)
    assert outcome.reply is not None and outcome.reply.endswith(OFFLINE)
    assert "avisando" not in outcome.reply and "Ainda não consigo" not in outcome.reply
    rig.clock.advance(WAIT_S + 1)
    rig.voice.step()
    assert rig.said() == outcome.reply  # said once, not again when no update comes


def test_with_a_link_papo_claims_nothing_first_then_says_what_the_cloud_signed(rig: Rig) -> None:
    rig.link[0] = True
    outcome = rig.hear(FALL)
    assert outcome.reply == "Estou aqui com você."  # no claim, no offline phrase: the alert's state will tell
    [event] = rig.store.wellbeing.all()
    rig.voice.update(alert_update("delivering", 1, msg_id=event.id))
    rig.voice.step()
    rig.voice.update(alert_update("delivered", 2, msg_id=event.id, caregiver="Ana"))
    rig.voice.step()
    assert rig.said() == "Estou aqui com você. Estou avisando a sua família. Avisei Ana."


def test_with_a_link_but_no_word_from_the_cloud_the_offline_phrase_comes_after_the_wait(rig: Rig) -> None:
    rig.link[0] = True
    rig.hear(FALL)
    rig.clock.advance(WAIT_S + 1)
    rig.voice.step()
    assert rig.said() == f"Estou aqui com você. {OFFLINE}"


def test_the_alert_is_matched_by_the_wellbeing_events_msg_id(rig: Rig) -> None:
    rig.link[0] = True
    rig.hear(FALL)
    [event] = rig.store.wellbeing.all()
    [item] = [i for i in rig.store.outbox.pending(10, set()) if i.kind == "wellbeing"]
    assert item.msg_id == event.id  # the id the cloud's alert names
    rig.voice.update(alert_update("delivered", 1, msg_id="some-other-event", caregiver="Ana"))
    rig.voice.step()
    assert rig.said() == "Estou aqui com você."


def test_estou_bem_after_a_check_in_ends_the_questions_and_is_queued_for_the_cloud(rig: Rig) -> None:
    rig.hear(FALL)
    [event] = rig.store.wellbeing.all()
    rig.clock.advance(120)
    rig.voice.step()
    assert rig.said().endswith(ALERT_CHECK_IN["pt"])
    outcome = rig.hear("Estou bem, obrigada.", addressed=False)  # no wake word: it answers Papo's question
    assert outcome.reply == GLAD_FINE["pt"] and outcome.wellbeing is None
    [ok] = [i for i in rig.store.outbox.pending(10, set()) if i.kind == OutboxKind.WELLBEING_OK.value]
    assert isinstance(ok.wellbeing_ok, WellbeingOk) and ok.wellbeing_ok.msg_id == event.id
    rig.clock.advance(600)
    rig.voice.step()
    assert rig.said().endswith(GLAD_FINE["pt"])  # no more questions


def test_estou_bem_said_to_papo_gets_its_ordinary_reply_and_still_ends_the_check_ins(rig: Rig) -> None:
    rig.hear(FALL)
    outcome = rig.hear("Papo, tô bem, foi só um susto.")
    assert outcome.reply is not None and outcome.reply != GLAD_FINE["pt"]  # the reply (here: no model yet)
    assert [i.kind for i in rig.store.outbox.pending(10, set())].count(OutboxKind.WELLBEING_OK.value) == 1
    assert not rig.voice.checking_in


def test_estou_bem_with_no_alert_open_is_ordinary_speech(rig: Rig) -> None:
    outcome = rig.hear("estou bem")  # not said to Papo, nothing to close
    assert outcome.reply is None and rig.store.outbox.depth() == 0


def test_a_sign_overheard_without_a_link_is_asked_about_and_followed_without_a_late_offline_phrase(rig: Rig) -> None:
    outcome = rig.hear("Socorro, eu caí no corredor!", addressed=False)
    assert outcome.reply == "Ouvi algo que me preocupou. Está tudo bem com você?"
    rig.clock.advance(WAIT_S + 1)
    rig.voice.step()
    assert rig.said() == outcome.reply and rig.voice.checking_in  # the question stands; check-ins will follow
    [event] = rig.store.wellbeing.all()
    rig.voice.update(alert_update("delivered", 1, msg_id=event.id, caregiver="Ana"))  # the link came back
    rig.voice.step()
    assert rig.said().endswith("Avisei Ana.")
