"""Speak an answer: a fixed one, or the LLM's streamed sentence by sentence (from the anticipated reply if ready).

A model reply with nothing fit to be said, or only a few words ("Que ótimo!", "Júlia."), is asked for once more;
if that one has nothing better, the brief reply is said, else a short follow-up question (the companion's
NOTHING_FIT). Without that follow-up (the benchmark's baseline) every reply is said as it comes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator

from papo.conversation.anticipation import Anticipator, PreparedReply
from papo.conversation.llm import ChatClient, ChatMessage, LlmUnavailableError
from papo.conversation.phrases import FALLBACK
from papo.conversation.reply_filter import Shape, unshaped
from papo.conversation.sentences import sentences
from papo.conversation.speech_output import SpeechOutput, Utterance
from papo.conversation.turn import TurnContext, TurnOutcome
from papo.settings import LlmSettings
from papo.speech.tts import Speech
from papo.system.logging import fields

log = logging.getLogger(__name__)

_TRIES = 2  # a reply with nothing fit to be said is asked for once more
BRIEF_WORDS = 3  # a whole reply of fewer words is asked for again (kept, if nothing better comes)


def _brief(sentence: str) -> bool:
    return len(sentence.split()) < BRIEF_WORDS


def _unless_brief(fit: Iterator[str], held: list[str]) -> Iterator[str]:
    """The sentences of `fit`, unless the whole reply is one brief sentence: that one goes to `held` instead."""
    first = next(fit, None)
    if first is None:
        return
    if _brief(first):
        following = next(fit, None)
        if following is None:
            held.append(first)
            return
        yield first
        first = following
    yield first
    yield from fit


class Replier:
    """Turns text (fixed, prepared or streamed) into speech on the output, recording what was said and when."""

    def __init__(
        self,
        output: SpeechOutput,
        anticipator: Anticipator,
        settings: LlmSettings,
        language: str,
        shape: Shape = unshaped,
        instead: str | None = None,
    ) -> None:
        self._output = output
        self._shape = shape  # what makes the model's sentences fit to be said (reply_filter.speakable)
        self._instead = instead  # said when no try gave anything fit to be said
        self._anticipator = anticipator
        self._settings = settings
        self._language = language

    def say_fixed(self, turn: TurnContext, outcome: TurnOutcome, text: str) -> None:
        """Say a fixed answer (an urgent one, a reminder's confirmation)."""
        with self._output.utterance() as said:
            self._say_sentences(turn, outcome, said, [text])
        outcome.interrupted = self._output.interrupted

    def say_llm(
        self, turn: TurnContext, outcome: TurnOutcome, llm: ChatClient, messages: Callable[[], list[ChatMessage]]
    ) -> None:
        """Say the model's answer; the fallback phrase if it fails before saying anything."""
        with self._output.utterance() as said:
            prepared = (
                self._anticipator.take(turn.heard.text, self._settings.first_token_timeout_s)
                if turn.sign is None
                else None
            )
            held: list[str] = []  # brief replies kept back while a better one is asked for
            tries = 1 if self._instead is None else _TRIES
            attempt = 1 if prepared is not None and self._said_prepared(turn, outcome, said, prepared, held) else 0
            while not self._answered(outcome) and attempt < tries:
                if attempt:
                    log.info("model reply unfit or brief; asking again", extra=fields(attempt=attempt + 1))
                self._stream(turn, outcome, said, llm, messages(), attempt, held)
                attempt += 1
            if not self._answered(outcome) and (held or self._instead is not None):
                self._say_sentences(turn, outcome, said, held[:1] or [self._instead or ""])
        outcome.interrupted = self._output.interrupted

    def _answered(self, outcome: TurnOutcome) -> bool:
        """Whether the turn needs nothing more: something was said, the fallback phrase, or the person barged in."""
        return bool(outcome.spoken_sentences) or outcome.fallback or self._output.interrupted

    def _said_prepared(
        self, turn: TurnContext, outcome: TurnOutcome, said: Utterance, prepared: PreparedReply, held: list[str]
    ) -> bool:
        """Say the anticipated reply (a brief one goes to `held`); False when it failed before a word was said."""
        if prepared.first_token_at is not None:
            outcome.first_token_ms = max(0.0, prepared.first_token_at - turn.started) * 1000
        try:
            first, rest = prepared.first_sentence, prepared.rest
            if first is not None and prepared.first_speech is not None:
                following = next(rest, None) if self._instead is not None and _brief(first) else ""
                if following is None:
                    held.append(first)
                    return True
                self._play(turn, outcome, said, first, prepared.first_speech)
                self._say_sentences(turn, outcome, said, [following] if following else [])
            self._say_sentences(turn, outcome, said, rest)
        except LlmUnavailableError as exc:
            log.warning("language model failed mid-reply", extra=fields(reason=str(exc)[:200]))
            return bool(outcome.spoken_sentences)
        finally:
            prepared.close()
        return True

    def _stream(
        self,
        turn: TurnContext,
        outcome: TurnOutcome,
        said: Utterance,
        llm: ChatClient,
        messages: list[ChatMessage],
        attempt: int,
        held: list[str],
    ) -> None:
        stream = llm.stream(messages, self._settings.max_tokens, self._settings.temperature, attempt=attempt)

        def timed() -> Iterator[str]:
            for piece in stream:
                if outcome.first_token_ms is None:
                    outcome.first_token_ms = (time.monotonic() - turn.started) * 1000
                yield piece

        try:
            fit = self._shape(turn.heard.text, sentences(timed()))
            self._say_sentences(turn, outcome, said, fit if self._instead is None else _unless_brief(fit, held))
        except LlmUnavailableError as exc:
            log.warning("language model unavailable; fallback answer", extra=fields(reason=str(exc)[:200]))
            if not outcome.spoken_sentences:
                outcome.fallback = True
                self._say_sentences(turn, outcome, said, [FALLBACK[self._language]])
        finally:
            stream.close()

    def _say_sentences(self, turn: TurnContext, outcome: TurnOutcome, said: Utterance, texts: Iterable[str]) -> None:
        for sentence in texts:
            if self._output.interrupted:
                return
            self._play(turn, outcome, said, sentence, self._output.voice.speak(sentence)[0])

    def _play(self, turn: TurnContext, outcome: TurnOutcome, said: Utterance, sentence: str, speech: Speech) -> None:
        if not self._output.play(said, speech):
            return
        if outcome.first_audio_ms is None:
            outcome.first_audio_ms = (time.monotonic() - turn.started) * 1000
        outcome.spoken_sentences.append(sentence)
