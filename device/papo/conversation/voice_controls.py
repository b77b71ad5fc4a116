"""«Fala mais devagar / mais rápido / mais alto / mais baixo»: the voice's speed and loudness changed at once.

The daemon keeps each change (`keep`) as if made on the web page (`tts.rate_wpm`, `audio.volume`, with a line in its
change log), so the voice is still the one asked for after a restart. Each step stays within bounds; at a bound
Papo says it cannot go further.
Only the espeak-ng voice changes speed; with a neural voice Papo says it cannot.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from papo.conversation.speech_output import SpeechOutput
from papo.errors import PapoError
from papo.settings import Settings
from papo.speech.tts import load_voice
from papo.system.logging import fields

log = logging.getLogger(__name__)

RATE_STEP, RATE_MIN, RATE_MAX = 20, 100, 220  # espeak-ng words per minute (160 by default)
VOLUME_STEP, VOLUME_MIN, VOLUME_MAX = 20, 20, 100  # percent of full loudness (audio.volume)


class VoiceChange(StrEnum):
    """What the person asked of the voice."""

    SLOWER = "slower"
    FASTER = "faster"
    LOUDER = "louder"
    SOFTER = "softer"


_DONE = {
    "pt": {
        VoiceChange.SLOWER: "Certo, vou falar mais devagar. Assim está melhor?",
        VoiceChange.FASTER: "Certo, vou falar mais rápido. Assim está bom?",
        VoiceChange.LOUDER: "Certo, vou falar mais alto. Assim você me ouve bem?",
        VoiceChange.SOFTER: "Certo, vou falar mais baixo. Assim está bom?",
    },
    "en": {
        VoiceChange.SLOWER: "All right, I'll speak more slowly. Is this better?",
        VoiceChange.FASTER: "All right, I'll speak faster. Is this fine?",
        VoiceChange.LOUDER: "All right, I'll speak louder. Can you hear me well?",
        VoiceChange.SOFTER: "All right, I'll speak more softly. Is this fine?",
    },
}
_AT_LIMIT = {
    "pt": {
        VoiceChange.SLOWER: "Já estou falando o mais devagar que consigo.",
        VoiceChange.FASTER: "Já estou falando o mais rápido que consigo.",
        VoiceChange.LOUDER: "Já estou no volume mais alto que consigo. Talvez ajude chegar mais perto de mim.",
        VoiceChange.SOFTER: "Já estou no volume mais baixo que uso, para você ainda me ouvir.",
    },
    "en": {
        VoiceChange.SLOWER: "I'm already speaking as slowly as I can.",
        VoiceChange.FASTER: "I'm already speaking as fast as I can.",
        VoiceChange.LOUDER: "I'm already as loud as I can be. It may help to come closer to me.",
        VoiceChange.SOFTER: "I'm already at the softest volume I use, so that you can still hear me.",
    },
}
_NO_SPEED = {
    "pt": "Com a voz que estou usando eu não consigo mudar a velocidade.",
    "en": "With the voice I'm using I can't change how fast I speak.",
}


@dataclass
class VoiceControls:
    """Changes the speed (espeak-ng words per minute) and the loudness (the output's gain) of the voice."""

    output: SpeechOutput
    settings: Settings
    language: str

    keep: Callable[[str, int], None] | None = None  # keeps a setting for the next start (the daemon's settings file)

    def __post_init__(self) -> None:
        self.rate_wpm = self.settings.tts.rate_wpm

    def change(self, wanted: VoiceChange) -> str:
        """Apply `wanted` now (within bounds) and say what was done, or why not."""
        if wanted in (VoiceChange.LOUDER, VoiceChange.SOFTER):
            done = self._volume(wanted)
        elif self.settings.tts.engine != "espeak":
            return _NO_SPEED[self.language]
        else:
            done = self._rate(wanted)
        if not done:
            log.info("voice already at its limit", extra=fields(change=wanted.value))
            return _AT_LIMIT[self.language][wanted]
        log.info("voice changed", extra=fields(change=wanted.value, rate_wpm=self.rate_wpm,
                                               volume=round(self.output.gain * 100)))  # fmt: skip
        if wanted in (VoiceChange.LOUDER, VoiceChange.SOFTER):
            self._kept("audio.volume", round(self.output.gain * 100))
        else:
            self._kept("tts.rate_wpm", self.rate_wpm)
        return _DONE[self.language][wanted]

    def _kept(self, key: str, value: int) -> None:
        """Keep the new value for the next start; if it cannot be kept, it still holds until then."""
        if self.keep is None:
            return
        try:
            self.keep(key, value)
        except (PapoError, OSError) as exc:
            log.warning("voice change not kept for the next start", extra=fields(key=key, reason=str(exc)[:200]))

    def _volume(self, wanted: VoiceChange) -> bool:
        now = round(self.output.gain * 100)
        step = VOLUME_STEP if wanted is VoiceChange.LOUDER else -VOLUME_STEP
        new = max(VOLUME_MIN, min(VOLUME_MAX, now + step))
        if new == now or (step > 0 and new < now) or (step < 0 and new > now):
            return False
        self.output.gain = new / 100
        return True

    def use_rate(self, wpm: int) -> None:
        """Speak at `wpm` words a minute from the next sentence on (a change made on the page or by the fleet)."""
        if self.settings.tts.engine != "espeak" or wpm == self.rate_wpm:
            return
        tts = self.settings.tts.model_copy(update={"rate_wpm": wpm})
        self.output.voice.voice = load_voice(self.settings.model_copy(update={"tts": tts}), self.language)
        self.rate_wpm = wpm

    def _rate(self, wanted: VoiceChange) -> bool:
        step = RATE_STEP if wanted is VoiceChange.FASTER else -RATE_STEP
        new = max(RATE_MIN, min(RATE_MAX, self.rate_wpm + step))
        if new == self.rate_wpm or (step > 0 and new < self.rate_wpm) or (step < 0 and new > self.rate_wpm):
            return False
        self.use_rate(new)
        return True
