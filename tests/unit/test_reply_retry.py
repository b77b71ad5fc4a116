"""A model reply unfit to be said, or brief, is asked for once more; if nothing fit came, a follow-up is said."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from papo.cache import AudioCache
from papo.conversation.companion import Companion
from papo.conversation.crew import CrewRuntime
from papo.conversation.llm import ChatMessage
from papo.conversation.phrases import NOTHING_FIT
from papo.conversation.speech_output import SpeechOutput
from papo.conversation.tuning import LEGACY, TUNED, Tuning
from papo.conversation.turn import HeardTurn
from papo.settings import load_settings
from papo.speech.tts import CachedVoice
from papo.store import Store
from support.fakes import JournalVoice, NullSpeaker

ECHO = "Fui à feira com a minha vizinha."  # an example's saying: Papo went nowhere
REFUSAL = "Não posso fornecer informações sobre isso."


class TakesChat:
    """A ChatClient answering each request with the next of its takes, recording each request's attempt."""

    model = "fake-llm"
    first_token_timeout_s = 6.0

    def __init__(self, *takes: str) -> None:
        self._takes = list(takes)
        self.attempts: list[int] = []
        self.last_words: list[str] = []

    def stream(
        self,
        messages: list[ChatMessage],
        max_tokens: int,
        temperature: float,
        first_token_timeout_s: float | None = None,
        attempt: int = 0,
    ) -> Iterator[str]:
        self.attempts.append(attempt)
        self.last_words.append(messages[-1].content)
        yield self._takes.pop(0)


def _reply(state_dir: Path, chat: TakesChat, tuning: Tuning = TUNED) -> tuple[str | None, list[str]]:
    settings = load_settings(conversation={"crew": False, "review_after_idle_s": 0})
    store = Store(settings.store_path, settings.device_id)
    journal: list[str] = []
    output = SpeechOutput(CachedVoice(JournalVoice(journal), AudioCache(None, "tts")), NullSpeaker())
    crew = CrewRuntime("http://127.0.0.1:9/v1", "none", enabled=False)
    companion = Companion(settings, store, output, lambda: chat, lambda: None, crew, tuning=tuning)  # type: ignore[arg-type,return-value]
    try:
        return companion.respond(HeardTurn("Meu cachorro late muito de noite.", "test")).reply, journal
    finally:
        companion.close()
        store.close()


@pytest.mark.parametrize("first", [ECHO, REFUSAL, ""])
def test_an_unfit_reply_is_asked_for_again_and_the_second_is_said(state_dir: Path, first: str) -> None:
    chat = TakesChat(first, "Ele deve estar protegendo a casa. Como ele se chama?")
    reply, journal = _reply(state_dir, chat)
    assert reply == "Ele deve estar protegendo a casa. Como ele se chama?"
    assert chat.attempts == [0, 1] and journal == ["said Ele deve estar protegendo a casa.", "said Como ele se chama?"]
    assert chat.last_words[0] == "Meu cachorro late muito de noite."
    assert chat.last_words[1].startswith(chat.last_words[0]) and "frases completas" in chat.last_words[1]


def test_two_unfit_replies_give_the_short_follow_up(state_dir: Path) -> None:
    chat = TakesChat(ECHO, REFUSAL)
    reply, journal = _reply(state_dir, chat)
    assert reply == NOTHING_FIT["pt"] and journal == [f"said {NOTHING_FIT['pt']}"]
    assert chat.attempts == [0, 1]


def test_a_fit_reply_is_asked_for_once_and_the_baseline_never_again(state_dir: Path) -> None:
    chat = TakesChat("Que cachorro esperto! Ele late para quem?")
    assert _reply(state_dir, chat)[0] == "Que cachorro esperto! Ele late para quem?" and chat.attempts == [0]
    baseline = TakesChat(ECHO)
    assert _reply(state_dir, baseline, LEGACY)[0] == ECHO and baseline.attempts == [0]
    silent_baseline = TakesChat("")
    assert _reply(state_dir, silent_baseline, LEGACY)[0] is None and silent_baseline.attempts == [0]


def test_a_brief_reply_is_said_at_once_and_continued_by_a_second_try(state_dir: Path) -> None:
    better = TakesChat("Que ótimo!", "Que ótimo! Ele é companheiro? Como ele se chama?")
    reply, journal = _reply(state_dir, better)
    assert reply == "Que ótimo! Ele é companheiro? Como ele se chama?" and better.attempts == [0, 1]
    assert journal == ["said Que ótimo!", "said Ele é companheiro?", "said Como ele se chama?"]  # nothing twice
    brief_twice = TakesChat("Que ótimo!", "Entendi.")
    assert _reply(state_dir, brief_twice)[0] == "Que ótimo! Entendi." and brief_twice.attempts == [0, 1]


def test_a_brief_first_sentence_with_more_after_it_is_asked_for_once(state_dir: Path) -> None:
    chat = TakesChat("Que ótimo! Ele late para avisar quem chega?")
    assert _reply(state_dir, chat)[0] == "Que ótimo! Ele late para avisar quem chega?" and chat.attempts == [0]
