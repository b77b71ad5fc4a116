"""Text to speech: espeak-ng (default), Piper and Kokoro voices, with synthesized phrases kept in the sled cache."""

from __future__ import annotations

import io
import json
import logging
import shutil
import subprocess
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from papo import _native
from papo.cache import AudioCache
from papo.errors import ModelError, PapoError
from papo.models.manifest import load_manifest
from papo.models.provision import provision
from papo.settings import Settings, TtsSettings
from papo.speech.espeak import silent_env
from papo.speech.spoken import in_words
from papo.system.logging import fields

log = logging.getLogger(__name__)

ESPEAK_VOICES = {"pt": "pt-br", "en": "en-us"}
KOKORO_VOICES = {"pt": "jm_kumo", "en": "jm_kumo"}
PIPER_MODELS = {"en": "piper-en-us-joe"}


class TtsError(PapoError):
    """A voice cannot be loaded or failed to speak."""


@dataclass(frozen=True)
class Speech:
    """Mono float32 audio and its sample rate."""

    samples: npt.NDArray[np.float32]
    rate: int

    @property
    def seconds(self) -> float:
        """Duration of the audio."""
        return len(self.samples) / self.rate


class Voice(Protocol):
    """Anything that turns a sentence into audio at a fixed rate."""

    name: str
    rate: int

    def synthesize(self, text: str) -> npt.NDArray[np.float32]:
        """Speak `text`; mono float32 at `rate`."""


class EspeakVoice:
    """espeak-ng through its command line: tiny, instant, robotic."""

    rate = 22_050

    def __init__(self, voice: str, words_per_minute: int = 160) -> None:
        if shutil.which("espeak-ng") is None:
            raise TtsError("espeak-ng is not installed; install it with `sudo apt-get install espeak-ng`")
        self.name = f"espeak:{voice}:{words_per_minute}"
        self._voice = voice
        self._wpm = words_per_minute

    def synthesize(self, text: str) -> npt.NDArray[np.float32]:
        """Speak `text` with espeak-ng (WAV on its stdout).

        The text goes in on stdin (`--stdin`), never as an argument: no reply ("-f/etc/hostname", "- sim") can
        become an option or a file name.
        """
        import soundfile as sf

        try:
            wav = subprocess.run(
                ["espeak-ng", "-v", self._voice, "-s", str(self._wpm), "--stdout", "--stdin"],
                input=text.encode(),
                capture_output=True,
                check=True,
                timeout=30,
                env=silent_env(),
            ).stdout
            data, rate = sf.read(io.BytesIO(wav), dtype="float32")
        except (subprocess.SubprocessError, OSError, RuntimeError) as exc:
            raise TtsError(f"espeak-ng failed to speak: {exc}") from None
        if rate != self.rate:
            raise TtsError(f"espeak-ng produced {rate} Hz audio, expected {self.rate} Hz")
        return np.asarray(data, dtype=np.float32).reshape(-1)


class PiperNeuralVoice:
    """A Piper ONNX voice (piper-tts runtime) from the model manifest."""

    def __init__(self, model_dir: Path, model_name: str) -> None:
        self.name = f"piper:{model_name}"
        onnx = next(model_dir.glob("*.onnx"), None)
        if onnx is None:
            raise ModelError(f"no Piper voice file in {model_dir}; run `papo models provision {model_name}`")
        import onnxruntime as ort
        from piper import PiperConfig, PiperVoice

        from papo.speech.voicegen import session_options

        config = json.loads(onnx.with_suffix(".onnx.json").read_text(encoding="utf-8"))
        self._voice = PiperVoice(  # PiperVoice.load, with the budget's threads instead of onnxruntime's default
            session=ort.InferenceSession(str(onnx), session_options(), providers=["CPUExecutionProvider"]),
            config=PiperConfig.from_dict(config),
        )
        self.rate = int(self._voice.config.sample_rate)

    def synthesize(self, text: str) -> npt.NDArray[np.float32]:
        """Speak `text`, one chunk per sentence, joined."""
        chunks = [np.asarray(c.audio_float_array, dtype=np.float32) for c in self._voice.synthesize(text)]
        return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)


class KokoroNeuralVoice:
    """Kokoro-82M voicing espeak-ng phonemes (see speech/voicegen.py), at 16 kHz."""

    rate = 16_000

    def __init__(self, model_dir: Path, voice: str, language: str) -> None:
        from papo.speech.voicegen import KokoroVoice

        self.name = f"kokoro:{voice}:{language}"
        self._voice = KokoroVoice(model_dir, voice=voice, language=language)

    def synthesize(self, text: str) -> npt.NDArray[np.float32]:
        """Speak `text`."""
        return self._voice.synthesize(text)


def load_voice(settings: Settings, language: str) -> Voice:
    """The voice the settings choose for `language`, provisioning its model when needed."""
    tts: TtsSettings = settings.tts
    if tts.engine == "espeak":
        return EspeakVoice(tts.voice or ESPEAK_VOICES.get(language, "pt-br"), tts.rate_wpm)
    if tts.engine == "piper":
        name = tts.voice or PIPER_MODELS.get(language)
        if name is None:
            raise TtsError(f"no Piper voice for language {language!r}; set tts.voice to a Piper model of the manifest")
        return PiperNeuralVoice(provision(load_manifest().get(name), settings.models_dir), name)
    directory = provision(load_manifest().get("kokoro-82m"), settings.models_dir)
    return KokoroNeuralVoice(directory, tts.voice or KOKORO_VOICES[language], ESPEAK_VOICES.get(language, "pt-br"))


class Speaker(Protocol):
    """Where speech goes: the native playback, or a recorder."""

    def play(self, samples: npt.NDArray[np.float32], rate: int) -> bool:
        """Queue audio; False if playback was stopped meanwhile."""

    def wait(self, timeout: float = 30.0) -> bool:
        """Wait until everything queued was played."""

    def stop(self) -> None:
        """Silence at once, dropping what is queued."""

    def close(self) -> None:
        """Release the device."""


class CachedVoice:
    """A voice whose phrases are kept in the sled cache (by voice and text) and reused."""

    def __init__(self, voice: Voice, cache: AudioCache, language: str = "pt") -> None:
        self.voice = voice
        self.language = language  # numbers, times and dates are said in words in this language (speech.spoken)
        self._cache = cache

    @classmethod
    def configured(cls, settings: Settings, cache: _native.Cache | None) -> CachedVoice:
        """The voice the settings choose for the conversation's language, its phrases in `cache`."""
        language = settings.conversation.language
        return cls(load_voice(settings, language), AudioCache(cache, "tts"), language)

    @property
    def rate(self) -> int:
        """Sample rate of the voice."""
        return self.voice.rate

    @cached_property
    def name(self) -> str:
        """The voice's name."""
        return self.voice.name

    def speak(self, text: str) -> tuple[Speech, bool]:
        """Audio for `text` (its numbers said in words), and whether it came from the cache."""
        text = in_words(text, self.language)
        key = self._cache.key(self.voice.name, text)
        cached = self._cache.get(key)
        if cached is not None:
            return Speech(cached, self.voice.rate), True
        started = time.perf_counter()
        samples = self.voice.synthesize(text)
        log.debug(
            "synthesized",
            extra=fields(voice=self.voice.name, chars=len(text), ms=round((time.perf_counter() - started) * 1000)),
        )
        self._cache.put(key, samples)
        return Speech(samples, self.voice.rate), False
