"""Test speech: pt-BR sentences voiced by Kokoro from espeak-ng phonemes, cached between runs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import numpy.typing as npt

from papo.audio.wav import read_wav, write_wav
from papo.speech.voicegen import DEFAULT_VOICE, KokoroVoice


class SpeechMaker:
    """Makes (once) and returns generated speech for a sentence, as 16 kHz mono float32."""

    def __init__(self, kokoro_dir: Path, cache_dir: Path, voice: str = DEFAULT_VOICE, language: str = "pt-br") -> None:
        self._voice = KokoroVoice(kokoro_dir, voice=voice, language=language)
        self._cache = cache_dir
        self._tag = f"trimmed|{voice}|{language}"

    def say(self, text: str) -> npt.NDArray[np.float32]:
        """Return speech for `text`."""
        key = hashlib.sha256(f"{self._tag}|{text}".encode()).hexdigest()[:24]
        path = self._cache / f"{key}.wav"
        if not path.exists():
            write_wav(path, self._voice.synthesize(text))
        return read_wav(path).samples
