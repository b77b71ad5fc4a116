"""What Papo says about a caregiver alert, from its real state, and when: a clock the test moves, no thread.

The voice (AlertVoice) runs with `autostart=False`: the test calls `step()` where the thread would, after moving
the clock, so timing is exact and nothing sleeps.
"""

from __future__ import annotations

import pytest

from papo.conversation.alert_state import AlertCases
from papo.conversation.alert_voice import AlertVoice
from papo.conversation.phrases import ALERT_CHECK_IN, ALERT_DELIVERING, ALERT_OFFLINE
from papo.conversation.wellbeing import says_fine
from support.alert_updates import ManualClock, alert_update

OFFLINE = ALERT_OFFLINE["pt"]
CHECK_IN = ALERT_CHECK_IN["pt"]
WAIT_S, CHECKIN_S = 20.0, 180.0


def _voice(clock: ManualClock, language: str = "pt") -> tuple[AlertVoice, list[str]]:
    said: list[str] = []
    voice = AlertVoice(said.append, AlertCases(language, lambda: CHECKIN_S, WAIT_S), clock, autostart=False)
    return voice, said


@pytest.mark.parametrize(
    ("state", "caregiver", "sentence"),
    [
        ("delivering", None, "Estou avisando a sua família."),
        ("delivered", "Ana", "Avisei Ana."),
        ("acknowledged", "Ana", "Ana já viu o seu aviso."),
        ("acknowledged", None, "A sua família já viu o seu aviso."),
        ("failed", None, OFFLINE),
        ("no_caregivers", None, OFFLINE),
    ],
)
def test_each_state_is_said_as_what_it_is(state: str, caregiver: str | None, sentence: str) -> None:
    clock = ManualClock()
    voice, said = _voice(clock)
    voice.opened("event-1", offline_said=False)
    voice.update(alert_update(state, 1, caregiver=caregiver))
    voice.step()
    assert said == [sentence]
    assert "SAMU" in OFFLINE and "Estou sem conexão" in OFFLINE


def test_delivering_then_delivered_says_both_when_time_allows_and_only_the_truth_now_when_not() -> None:
    clock = ManualClock()
    voice, said = _voice(clock)
    voice.opened("event-1", offline_said=False)
    voice.update(alert_update("delivering", 1))
    voice.step()
    voice.update(alert_update("delivered", 2, caregiver="Ana"))
    voice.step()
    assert said == [ALERT_DELIVERING["pt"], "Avisei Ana."]
    voice.opened("event-2", offline_said=False)
    voice.update(alert_update("delivering", 1, msg_id="event-2", alert_id="42"))
    voice.update(alert_update("delivered", 2, msg_id="event-2", alert_id="42", caregiver="Bruno"))
    voice.step()  # both came before Papo could speak: "estou avisando" is no longer the news
    assert said[2:] == ["Avisei Bruno."]


def test_an_update_not_newer_than_the_last_is_not_said_again() -> None:
    voice, said = _voice(ManualClock())
    voice.opened("event-1", offline_said=False)
    voice.update(alert_update("delivered", 2, caregiver="Ana"))
    voice.update(alert_update("delivering", 1))
    voice.update(alert_update("delivered", 2, caregiver="Ana"))
    voice.step()
    assert said == ["Avisei Ana."]


def test_a_failure_after_someone_was_reached_does_not_say_nobody_could_be_told() -> None:
    voice, said = _voice(ManualClock())
    voice.opened("event-1", offline_said=False)
    voice.update(alert_update("delivered", 2, caregiver="Ana"))
    voice.update(alert_update("failed", 3))  # the next step of the escalation failed: Ana still has it
    voice.step()
    assert said == ["Avisei Ana."]


def test_no_word_from_the_cloud_within_the_wait_is_the_offline_phrase_and_a_late_delivery_is_still_said() -> None:
    clock = ManualClock()
    voice, said = _voice(clock)
    voice.opened("event-1", offline_said=False)
    clock.advance(WAIT_S - 0.1)
    voice.step()
    assert said == []
    clock.advance(0.2)
    voice.step()
    assert said == [OFFLINE]
    voice.update(alert_update("delivered", 1, caregiver="Ana"))  # the link came back: delivered after all
    voice.step()
    assert said == [OFFLINE, "Avisei Ana."]


def test_the_offline_phrase_already_said_with_the_first_answer_is_not_said_again() -> None:
    clock = ManualClock()
    voice, said = _voice(clock)
    voice.opened("event-1", offline_said=True)
    clock.advance(WAIT_S + 1)
    voice.update(alert_update("failed", 1))
    voice.step()
    assert said == []


def test_an_event_that_could_not_be_stored_is_the_offline_phrase_at_once() -> None:
    voice, said = _voice(ManualClock())
    voice.opened(None, offline_said=False)
    voice.step()
    assert said == [OFFLINE]


def test_an_update_that_overtakes_the_bookkeeping_is_applied_when_the_event_is_opened() -> None:
    voice, said = _voice(ManualClock())
    voice.update(alert_update("delivered", 2, caregiver="Ana"))  # before `opened`: kept for a moment
    voice.step()
    assert said == []
    voice.opened("event-1", offline_said=False)
    voice.step()
    assert said == ["Avisei Ana."]


def test_check_ins_come_every_interval_while_nobody_answers_and_stop_on_acknowledgement() -> None:
    clock = ManualClock()
    voice, said = _voice(clock)
    voice.opened("event-1", offline_said=True)
    clock.advance(CHECKIN_S - 1)
    voice.step()
    assert said == []
    for _ in range(3):  # silence after a fall: Papo keeps asking (the cloud escalates by itself)
        clock.advance(CHECKIN_S)
        voice.step()
    assert said == [CHECK_IN] * 3 and voice.checking_in
    voice.update(alert_update("acknowledged", 1, caregiver="Ana"))
    clock.advance(CHECKIN_S * 5)
    voice.step()
    assert said == [CHECK_IN] * 3 + ["Ana já viu o seu aviso."]
    assert not voice.checking_in


def test_estou_bem_ends_the_check_ins_and_names_the_alerts_to_tell_the_cloud_about() -> None:
    clock = ManualClock()
    voice, said = _voice(clock)
    voice.opened("event-1", offline_said=True)
    voice.opened("event-2", offline_said=True)
    clock.advance(CHECKIN_S)
    assert voice.step() == 1 and said == [CHECK_IN]  # one question for both alerts
    assert sorted(voice.fine()) == ["event-1", "event-2"]
    assert voice.fine() == []  # nothing left to close
    clock.advance(CHECKIN_S * 3)
    voice.step()
    assert said == [CHECK_IN] and not voice.checking_in
    voice.update(alert_update("delivered", 1, caregiver="Ana"))  # what the cloud does is still said truthfully
    voice.step()
    assert said == [CHECK_IN, "Avisei Ana."]


def test_a_speaker_that_fails_does_not_stop_the_voice() -> None:
    calls: list[str] = []

    def say(text: str) -> None:
        calls.append(text)
        if len(calls) == 1:
            raise OSError("the speaker went away")

    voice = AlertVoice(say, AlertCases("pt", lambda: CHECKIN_S, WAIT_S), ManualClock(), autostart=False)
    voice.opened(None, offline_said=False)
    voice.opened("event-1", offline_said=False)
    voice.update(alert_update("delivered", 1, caregiver="Ana"))
    assert voice.step() == 1 and calls == [OFFLINE, "Avisei Ana."]


@pytest.mark.parametrize(
    "text", ["Estou bem", "tô bem, obrigada", "Papo, eu estou bem sim", "Tudo bem comigo.", "Tá bem", "I'm fine"]
)
def test_estou_bem_and_close_variants_are_recognised(text: str) -> None:
    assert says_fine(text)


@pytest.mark.parametrize("text", ["Não estou bem", "eu não tô bem não", "I'm not fine", "Bem-vindo", "o bolo"])
def test_a_negation_or_anything_else_is_not_estou_bem(text: str) -> None:
    assert not says_fine(text)


def test_english_sentences() -> None:
    voice, said = _voice(ManualClock(), "en")
    voice.opened("event-1", offline_said=False)
    voice.update(alert_update("delivered", 1, caregiver="Ana"))
    voice.update(alert_update("acknowledged", 2, caregiver="Ana"))
    voice.step()
    assert said == ["I let Ana know.", "Ana has seen your alert."]
