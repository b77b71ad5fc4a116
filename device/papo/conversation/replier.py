"""Speak an answer: a fixed one, or the LLM's streamed sentence by sentence (from the anticipated reply if ready).

A model reply with nothing fit to be said is asked for once more, and so is one of only a word or two ("Que ótimo!",
"Júlia."), which is said at once and then continued by the second try (what it repeats left out). If no try gives
anything fit to be said, a short follow-up question is said (the companion's NOTHING_FIT). Without that follow-up
(the benchmark's baseline) the first reply is all there is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator

from papo.conversation.anticipation import Anticipator, PreparedReply
from papo.conversation.llm import ChatClient, ChatMessage, LlmUnavailableError
from papo.conversation.phrases import FALLBACK
from papo.conversation.prompt import asked_again
from papo.conversation.reply_filter import Shape, unshaped
from papo.conversation.sentences import sentences
from papo.conversation.speech_output import SpeechOutput, Utterance
from papo.conversation.turn import TurnContext, TurnOutcome
from papo.settings import LlmSettings
from papo.speech.tts import Speech
from papo.system.logging import fields

log = logging.getLogger(__name__)

_TRIES = 2  # a reply with nothing fit to be said is asked for once more
BRIEF_WORDS = 3  # a whole reply of fewer words is continued by a second try


def _brief(sentences: list[str]) -> bool:
    return len(sentences) == 1 and len(sentences[0].split()) < BRIEF_WORDS


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
            tries = _TRIES if self._instead is not None else 1
            attempt = 1 if prepared is not None and self._said_prepared(turn, outcome, said, prepared) else 0
            while self._wants_more(outcome) and attempt < tries:
                if attempt:
                    log.info("model reply unfit or brief; asking again", extra=fields(attempt=attempt + 1))
                prompt = messages() if attempt == 0 else asked_again(messages(), self._language)
                self._stream(turn, outcome, said, llm, prompt, attempt)
                attempt += 1
            if not (outcome.spoken_sentences or outcome.fallback or self._output.interrupted) and self._instead:
                self._say_sentences(turn, outcome, said, [self._instead])
        outcome.interrupted = self._output.interrupted

    def _wants_more(self, outcome: TurnOutcome) -> bool:
        """Whether to ask the model (again): nothing said yet, or only a brief reply."""
        if outcome.fallback or self._output.interrupted:
            return False
        return not outcome.spoken_sentences or _brief(outcome.spoken_sentences)

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
        self,
        turn: TurnContext,
        outcome: TurnOutcome,
        said: Utterance,
        llm: ChatClient,
        messages: list[ChatMessage],
        attempt: int,
    ) -> None:
        stream = llm.stream(messages, self._settings.max_tokens, self._settings.temperature, attempt=attempt)

        def timed() -> Iterator[str]:
            for piece in stream:
                if outcome.first_token_ms is None:
                    outcome.first_token_ms = (time.monotonic() - turn.started) * 1000
                yield piece

        try:
            spoken = set(outcome.spoken_sentences)  # a second try's repetition of what was said is left out
            fit = (s for s in self._shape(turn.heard.text, sentences(timed())) if s not in spoken)
            self._say_sentences(turn, outcome, said, fit)
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
