"""Start the answer at the person's first pause, while the end of speech is still being confirmed.

It pays for itself only when the CPU has room: `WhenRoom` passes a pause on only while a core beside the voice
path's is free (papo.system.cpu_budget), else the answer is written after the end of speech, in sequence. A
prepared answer whose speech went on is abandoned at its next token, so it never holds the final transcript up.

Nothing prepared here is kept: the transcript, the prompt and the voiced first sentence live in memory until the
reply is spoken or dropped (the sentence is not written to the phrase cache, as the utterance may yet turn out
not to be for the companion and be dropped).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from papo.conversation.llm import ChatClient, ChatMessage, LlmUnavailableError
from papo.conversation.reply_filter import Shape, unshaped
from papo.conversation.sentences import sentences
from papo.speech.stt import Transcript
from papo.speech.tts import CachedVoice, Speech
from papo.system.cpu_budget import anticipation_room
from papo.system.logging import fields

log = logging.getLogger(__name__)


@dataclass
class PreparedReply:
    """An answer already started for `text`: its first sentence voiced, the rest still streaming."""

    text: str
    first_sentence: str | None
    first_speech: Speech | None
    rest: Iterator[str]
    first_token_at: float | None
    close: Callable[[], None]


class Anticipator:
    """Prepares at most one reply at a time, from the speculative transcript of a pause.

    The LLM writes and the first sentence is voiced during the end-of-speech silence; if the person goes
    on talking the prepared reply is dropped (closing the stream stops llama.cpp's generation).
    """

    def __init__(
        self,
        voice: CachedVoice,
        llm: Callable[[], ChatClient | None],
        messages_for: Callable[[str], list[ChatMessage] | None],
        max_tokens: int,
        temperature: float,
        shape: Shape = unshaped,
    ) -> None:
        self._voice = voice
        self._shape = shape  # what makes the model's sentences fit to be said (reply_filter.speakable)
        self._llm = llm
        self._messages_for = messages_for
        self._max_tokens = max_tokens
        self._temperature = temperature
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="anticipate")
        self._lock = threading.Lock()
        self._current: Future[PreparedReply | None] | None = None
        self._generation = 0

    def on_pause(self, transcript: Future[Transcript | None]) -> None:
        """The person paused: prepare an answer to what they said so far, once it is transcribed."""
        with self._lock:
            self._generation += 1
            generation = self._generation
            self._discard_locked()
            self._current = self._pool.submit(self._prepare, transcript, generation)

    def on_resume(self) -> None:
        """The person went on talking: drop the prepared answer."""
        with self._lock:
            self._generation += 1
            self._discard_locked()

    def take(self, text: str, timeout_s: float) -> PreparedReply | None:
        """The reply prepared for exactly `text` (waiting for it to be ready), else None; either way it is used."""
        with self._lock:
            current, self._current = self._current, None
        if current is None:
            return None
        try:
            prepared = current.result(timeout=timeout_s)
        except Exception:  # a failed preparation is only a missed head start
            return None
        if prepared is not None and prepared.text != text:
            prepared.close()
            return None
        return prepared

    def close(self) -> None:
        """Drop what is prepared and stop the worker."""
        self.on_resume()
        self._pool.shutdown(wait=True)

    def _discard_locked(self) -> None:
        current, self._current = self._current, None
        if current is not None:
            current.add_done_callback(_close_prepared)

    def _prepare(self, transcript: Future[Transcript | None], generation: int) -> PreparedReply | None:
        heard = transcript.result()
        llm = self._llm()
        if heard is None or llm is None or generation != self._generation:
            return None
        messages = self._messages_for(heard.text)
        if messages is None:
            return None
        stream = llm.stream(messages, self._max_tokens, self._temperature)
        first_token: list[float] = []

        def timed(pieces: Generator[str, None, None]) -> Iterator[str]:
            for piece in pieces:
                if generation != self._generation:  # the person went on talking: stop llama.cpp now
                    pieces.close()
                    return
                if not first_token:
                    first_token.append(time.monotonic())
                yield piece

        cut = self._shape(heard.text, sentences(timed(stream)))
        try:
            first = next(cut, None)
            speech = None if first is None or generation != self._generation else self._voiced(first)
        except LlmUnavailableError as exc:
            stream.close()
            log.debug("anticipated reply failed", extra=fields(reason=str(exc)[:200]))
            return None
        return PreparedReply(heard.text, first, speech, cut, first_token[0] if first_token else None, stream.close)

    def _voiced(self, sentence: str) -> Speech:
        """`sentence` spoken by the voice, straight, not through the phrase cache (nothing kept on disk)."""
        return Speech(self._voice.voice.synthesize(sentence), self._voice.rate)


class WhenRoom:
    """The pause observer of the listener: tells the anticipator of a pause only when the CPU has room for it."""

    def __init__(self, anticipator: Anticipator, room: Callable[[], bool] | None = None) -> None:
        self._anticipator = anticipator
        self._room = room or anticipation_room()
        self.skipped = 0

    def on_pause(self, transcript: Future[Transcript | None]) -> None:
        """Start the answer if there is room; else drop any earlier one and leave the turn to the sequential path."""
        if self._room():
            self._anticipator.on_pause(transcript)
            return
        self.skipped += 1
        self._anticipator.on_resume()

    def on_resume(self) -> None:
        """The person went on talking."""
        self._anticipator.on_resume()


def _close_prepared(future: Future[PreparedReply | None]) -> None:
    if future.cancelled() or future.exception() is not None:
        return
    prepared = future.result()
    if prepared is not None:
        prepared.close()
