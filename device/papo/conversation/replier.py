"""Speak an answer: a fixed one, or the LLM's streamed sentence by sentence (from the anticipated reply if ready)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator

from papo.conversation.anticipation import Anticipator, PreparedReply
from papo.conversation.llm import ChatClient, ChatMessage, LlmUnavailableError
from papo.conversation.phrases import FALLBACK
from papo.conversation.sentences import sentences
from papo.conversation.speech_output import SpeechOutput, Utterance
from papo.conversation.turn import TurnContext, TurnOutcome
from papo.settings import LlmSettings
from papo.speech.tts import Speech
from papo.system.logging import fields

log = logging.getLogger(__name__)


class Replier:
    """Turns text (fixed, prepared or streamed) into speech on the output, recording what was said and when."""

    def __init__(
        self,
        output: SpeechOutput,
        anticipator: Anticipator,
        settings: LlmSettings,
        language: str,
        shape: Callable[[Iterable[str]], Iterator[str]] = iter,
    ) -> None:
        self._output = output
        self._shape = shape  # what makes the model's sentences fit to be said (reply_filter.speakable)
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
            if prepared is None or not self._said_prepared(turn, outcome, said, prepared):
                self._stream(turn, outcome, said, llm, messages())
        outcome.interrupted = self._output.interrupted

    def _said_prepared(self, turn: TurnContext, outcome: TurnOutcome, said: Utterance, prepared: PreparedReply) -> bool:
        """Say the anticipated reply; False when it failed before a word was said (then the caller asks again)."""
        if prepared.first_token_at is not None:
            outcome.first_token_ms = max(0.0, prepared.first_token_at - turn.started) * 1000
        try:
            if prepared.first_sentence is not None and prepared.first_speech is not None:
                self._play(turn, outcome, said, prepared.first_sentence, prepared.first_speech)
            self._say_sentences(turn, outcome, said, prepared.rest)
        except LlmUnavailableError as exc:
            log.warning("language model failed mid-reply", extra=fields(reason=str(exc)[:200]))
            return bool(outcome.spoken_sentences)
        finally:
            prepared.close()
        return True

    def _stream(
        self, turn: TurnContext, outcome: TurnOutcome, said: Utterance, llm: ChatClient, messages: list[ChatMessage]
    ) -> None:
        stream = llm.stream(messages, self._settings.max_tokens, self._settings.temperature)

        def timed() -> Iterator[str]:
            for piece in stream:
                if outcome.first_token_ms is None:
                    outcome.first_token_ms = (time.monotonic() - turn.started) * 1000
                yield piece

        try:
            self._say_sentences(turn, outcome, said, self._shape(sentences(timed())))
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
