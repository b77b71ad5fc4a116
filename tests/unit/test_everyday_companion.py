"""The companion answers everyday questions itself, exactly, even before (or without) its language model."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from papo.cache import AudioCache
from papo.conversation.companion import Companion
from papo.conversation.crew import CrewRuntime
from papo.conversation.everyday import date_today
from papo.conversation.phrases import WARMING_UP
from papo.conversation.speech_output import SpeechOutput
from papo.conversation.turn import HeardTurn
from papo.settings import load_settings
from papo.speech.tts import CachedVoice
from papo.store import MemoryKind, Store, utc_now
from support.fakes import JournalVoice, NullSpeaker


@pytest.fixture
def companion(state_dir: Any) -> Iterator[tuple[Companion, Store]]:
    settings = load_settings(conversation={"crew": False, "review_after_idle_s": 0, "companion_name": "Papo"})
    store = Store(settings.store_path, settings.device_id)
    output = SpeechOutput(CachedVoice(JournalVoice([]), AudioCache(None, "tts")), NullSpeaker())
    crew = CrewRuntime("http://127.0.0.1:9/v1", "none", enabled=False)
    made = Companion(settings, store, output, lambda: None, lambda: None, crew)  # no language model at all
    yield made, store
    made.close()
    store.close()


def _ask(companion: Companion, text: str) -> str | None:
    return companion.respond(HeardTurn(text, "test")).reply


def test_the_date_and_the_name_are_answered_without_a_model(companion: tuple[Companion, Store]) -> None:
    papo, _ = companion
    before = date_today(datetime.now().astimezone(), "pt")
    answer = _ask(papo, "Que dia é hoje?")
    assert answer in (before, date_today(datetime.now().astimezone(), "pt"))  # (midnight may pass)
    assert _ask(papo, "Qual é o seu nome?") == "Meu nome é Papo. Estou aqui para conversar com você."
    assert _ask(papo, "Que horas são?") != WARMING_UP["pt"]


def test_repete_says_the_last_reply_again(companion: tuple[Companion, Store]) -> None:
    papo, _ = companion
    assert _ask(papo, "Pode repetir?") == "Eu ainda não disse nada."
    said = _ask(papo, "Qual é o seu nome?")
    assert _ask(papo, "Repete, por favor.") == said


def test_reminders_and_memories_come_from_the_store(companion: tuple[Companion, Store]) -> None:
    papo, store = companion
    assert _ask(papo, "Quais são os meus lembretes?") == "Você não tem nenhum lembrete."
    store.reminders.add("tomar o remédio", utc_now() + timedelta(hours=1), None)
    assert "tomar o remédio" in (_ask(papo, "Quais são os meus lembretes?") or "")
    store.memories.add("A neta dela se chama Júlia.", MemoryKind.FACT, None)
    assert _ask(papo, "O que você lembra de mim?") == "Eu lembro disto: A neta dela se chama Júlia."


def test_a_sentence_that_only_mentions_the_time_goes_to_the_conversation(companion: tuple[Companion, Store]) -> None:
    papo, _ = companion
    assert _ask(papo, "Que horas são os jogos de domingo?") == WARMING_UP["pt"]  # no model here: the fallback


def test_para_makes_papo_quiet_and_says_nothing(companion: tuple[Companion, Store]) -> None:
    papo, _ = companion
    outcome = papo.respond(HeardTurn("Chega, Papo.", "test"))
    assert outcome.reply is None and outcome.spoken_sentences == []
