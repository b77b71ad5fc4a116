"""`papo chat`: type to the companion instead of speaking to it: the same rules, memory and model as the voice.

Each typed line is one turn said to Papo (kept in the records like speech said to it, unless `privacy.history` is
off); the reply is printed, and spoken unless `--no-voice`. With `--json`, one object per turn is printed:
`{"reply", "intent", "first_token_ms"}`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel

from papo.cache import AudioCache
from papo.commands.output import say
from papo.conversation.turn import HeardTurn, keep
from papo.errors import PapoError
from papo.settings import Settings
from papo.speech.tts import CachedVoice
from papo.store import NewTurn, Store
from papo.wiring import Wiring

if TYPE_CHECKING:
    from papo.conversation.companion import Companion

SOURCE = "chat"
_QUIT = {"sair", "exit", "quit"}


class Unvoiced:
    """A voice that says nothing (`--no-voice`): no speech engine runs, the replies are only printed."""

    name = "unvoiced"
    rate = 16_000

    def synthesize(self, text: str) -> npt.NDArray[np.float32]:
        """No audio."""
        return np.zeros(0, np.float32)


class ChatReply(BaseModel):
    """What `papo chat --json` prints for one turn."""

    reply: str | None
    intent: str | None
    first_token_ms: float | None


def typed_turn(text: str, settings: Settings, store: Store) -> HeardTurn:
    """A typed line as a turn said to Papo, stored unless the household keeps no history."""
    new = NewTurn(
        text=text, language=settings.conversation.language, audio_start_s=0.0, audio_end_s=0.0,
        audio_duration_s=0.0, stt_model="typed", stt_window="", vad_model="",
    )  # fmt: skip
    unsaved = new if settings.privacy.history else None
    return keep(HeardTurn(text, SOURCE, eos_monotonic=time.monotonic(), unsaved=unsaved), store)


def answer(companion: Companion, settings: Settings, store: Store, text: str) -> ChatReply:
    """The companion's answer to one typed line (said aloud on its speaker), and which rule gave it, if any."""
    outcome = companion.respond(typed_turn(text, settings, store))
    first_token = None if outcome.first_token_ms is None else round(outcome.first_token_ms, 1)
    return ChatReply(reply=outcome.reply, intent=companion.last_intent, first_token_ms=first_token)


def typed_lines(prompt: str) -> Iterator[str]:
    """Lines typed until an empty input stream, Ctrl-D or «sair» (the prompt shown only to a person at a terminal)."""
    interactive = sys.stdin.isatty()
    while True:
        try:
            line = input(prompt if interactive else "")
        except EOFError:
            return
        if line.strip().lower() in _QUIT:
            return
        if line.strip():
            yield line.strip()


def chat(settings: Settings, text: str | None, voice: bool, as_json: bool) -> int:
    """Answer `text` (or every line typed, until «sair») as the companion, printing each reply."""
    if text is not None and not text.strip():
        raise PapoError('nothing to say: type a sentence, for example papo chat "Bom dia, Papo!"')
    lines: Iterable[str] = [text.strip()] if text is not None else typed_lines("você: ")
    with Wiring(settings) as parts:
        from papo.audio.recorder import RecordingSpeaker

        if voice:
            runtime = parts.conversation(parts.speaker())
        else:
            unvoiced = CachedVoice(Unvoiced(), AudioCache(None, "tts"), settings.conversation.language)
            runtime = parts.conversation(RecordingSpeaker(keep=False), voice=unvoiced)
        print("starting the companion (language model, memory)...", file=sys.stderr, flush=True)
        runtime.start(wait_for_crew=False)
        if text is None and sys.stdin.isatty() and not as_json:
            say(f"Converse com {settings.conversation.companion_name}. Digite «sair» (ou Ctrl-D) para terminar.")
        store = parts.store()
        name = settings.conversation.companion_name
        for line in lines:
            reply = answer(runtime.companion, settings, store, line)
            if as_json:
                say(reply.model_dump_json())
            else:
                say(f"{name}: {reply.reply or '(em silêncio)'}")
    return 0
