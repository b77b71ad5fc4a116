"""Speech-to-text with faster-whisper (CTranslate2, int8): encode only the utterance, decode bounded."""

from __future__ import annotations

import logging
import math
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from papo.audio import SAMPLE_RATE
from papo.errors import ModelError
from papo.settings import SttSettings
from papo.system.cpu_budget import current_budget, threads_or_budget
from papo.system.logging import fields
from papo.text import repeats_itself

log = logging.getLogger(__name__)

FULL_WINDOW_FRAMES = 3000  # Whisper's 30 s window, in 10 ms feature frames
TOKENS_PER_SECOND_BOUND = 8  # measured: pt-BR speech needs 3-5 tokens/s; more means a loop
TOKEN_SLACK = 10


@dataclass(frozen=True)
class Transcript:
    """What Whisper heard in one utterance, with the evidence used to trust it."""

    text: str
    language: str
    no_speech_prob: float
    avg_logprob: float
    compression_ratio: float
    window: Literal["short", "full"]
    stt_ms: float


@dataclass(frozen=True)
class _Decode:
    text: str
    tokens: int
    hit_limit: bool
    no_speech_prob: float
    avg_logprob: float
    compression_ratio: float
    loops: bool


def compression_ratio(text: str) -> float:
    """Return how compressible `text` is; repetition loops compress far better than speech."""
    raw = text.encode("utf-8")
    return len(raw) / max(1, len(zlib.compress(raw))) if raw else 0.0


def cpu_threads(settings: SttSettings) -> int:
    """CTranslate2's threads for the speech-to-text: `stt.threads`, or the CPU budget's when it is 0 (auto)."""
    return threads_or_budget(settings.threads, current_budget().stt_threads)


class WhisperTranscriber:
    """One faster-whisper model instance; call `transcribe` from one worker thread at a time."""

    def __init__(self, model_dir: Path, model_name: str, settings: SttSettings) -> None:
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer

        self.model_name = model_name
        self._settings = settings
        try:
            self._whisper = WhisperModel(
                str(model_dir),
                device="cpu",
                compute_type="int8",
                cpu_threads=cpu_threads(settings),
                num_workers=1,
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelError(
                f"cannot load speech model {model_name} from {model_dir}: {exc}; "
                f"run `papo models provision --force {model_name}`"
            ) from None
        self._ct2: Any = self._whisper.model
        self._features: Any = self._whisper.feature_extractor
        multilingual = bool(self._ct2.is_multilingual)
        if not multilingual and settings.language not in ("en", "auto"):
            raise ModelError(f'model {model_name} understands English only; set stt.language = "en"')
        self._tokenizer_type = Tokenizer
        self._multilingual = multilingual

    def transcribe(self, samples: npt.NDArray[np.float32]) -> Transcript | None:
        """Transcribe one utterance (16 kHz mono); None when it holds no speech."""
        started = time.perf_counter()
        duration = len(samples) / SAMPLE_RATE
        short = self._settings.short_window and self._window_s(duration) < 30.0
        features = self._log_mel(samples, short)
        encoded = self._encode(features)
        language = self._language(encoded)
        decode = self._decode(encoded, language, duration)
        window: Literal["short", "full"] = "short" if short else "full"
        if short and self._untrustworthy(decode):
            full_encoded = self._encode(self._log_mel(samples, short=False))
            full = self._decode(full_encoded, language, duration)
            log.debug("short window fell back", extra=fields(short_loops=decode.loops, full_loops=full.loops))
            if full.avg_logprob >= decode.avg_logprob or decode.hit_limit or (decode.loops and not full.loops):
                decode, window, encoded = full, "full", full_encoded
        if decode.loops:  # still repeating itself: decode once more, forbidding a repeated run of three tokens
            constrained = self._decode(encoded, language, duration, no_repeat_ngram_size=3)
            if not constrained.loops:
                decode = constrained
        stt_ms = (time.perf_counter() - started) * 1000
        if self._is_silence(decode):
            log.debug("dropped non-speech", extra=fields(text=decode.text, no_speech_prob=decode.no_speech_prob))
            return None
        return Transcript(
            text=decode.text,
            language=language,
            no_speech_prob=decode.no_speech_prob,
            avg_logprob=decode.avg_logprob,
            compression_ratio=decode.compression_ratio,
            window=window,
            stt_ms=stt_ms,
        )

    def _log_mel(self, samples: npt.NDArray[np.float32], short: bool) -> npt.NDArray[np.float32]:
        if short:
            silence = self._window_s(len(samples) / SAMPLE_RATE) * SAMPLE_RATE - len(samples)
            padded = np.concatenate((samples, np.zeros(int(silence), np.float32)))
            mel = self._features(padded)
            frames = min(FULL_WINDOW_FRAMES, mel.shape[-1] - mel.shape[-1] % 2)
            return np.ascontiguousarray(mel[:, :frames], dtype=np.float32)
        mel = self._features(samples[: 30 * SAMPLE_RATE])
        out = np.zeros((mel.shape[0], FULL_WINDOW_FRAMES), dtype=np.float32)
        width = min(FULL_WINDOW_FRAMES, mel.shape[-1])
        out[:, :width] = mel[:, :width]
        return out

    def _window_s(self, duration_s: float) -> float:
        """The encoder window for an utterance (seconds).

        The speech plus a margin, at least `min_window_s`; `short_utterance_window_s` (the full 30 s) for a
        very short utterance (a greeting, "sim", the wake word), which a short window garbles (docs/decisions/0001).
        """
        if duration_s < self._settings.full_window_under_s:
            return self._settings.short_utterance_window_s
        return max(duration_s + self._settings.window_margin_s, self._settings.min_window_s)

    def _encode(self, mel: npt.NDArray[np.float32]) -> Any:
        import ctranslate2

        return self._ct2.encode(ctranslate2.StorageView.from_array(mel[np.newaxis]), to_cpu=False)

    def _language(self, encoded: Any) -> str:
        if not self._multilingual:
            return "en"
        if self._settings.language != "auto":
            return self._settings.language
        best_token, _ = self._ct2.detect_language(encoded)[0][0]
        return str(best_token)[2:-2]

    def _decode(self, encoded: Any, language: str, duration_s: float, no_repeat_ngram_size: int = 0) -> _Decode:
        tokenizer = self._tokenizer_type(
            self._whisper.hf_tokenizer, self._multilingual, task="transcribe", language=language
        )
        prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        limit = min(440 - len(prompt), math.ceil(duration_s * TOKENS_PER_SECOND_BOUND) + TOKEN_SLACK)
        result = self._ct2.generate(
            encoded,
            [prompt],
            beam_size=self._settings.beam_size,
            max_length=len(prompt) + limit,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=[-1],
            no_repeat_ngram_size=no_repeat_ngram_size,
        )[0]
        tokens = result.sequences_ids[0]
        text = tokenizer.decode(tokens).strip()
        return _Decode(
            text=text,
            tokens=len(tokens),
            hit_limit=len(tokens) >= limit,
            no_speech_prob=float(result.no_speech_prob),
            avg_logprob=float(result.scores[0]) * len(tokens) / (len(tokens) + 1),
            compression_ratio=compression_ratio(text),
            loops=repeats_itself(text),
        )

    def _untrustworthy(self, decode: _Decode) -> bool:
        return (
            decode.hit_limit
            or decode.loops
            or decode.compression_ratio > self._settings.compression_ratio_threshold
            or decode.avg_logprob < self._settings.log_prob_threshold
        )

    def _is_silence(self, decode: _Decode) -> bool:
        if not decode.text:
            return True
        return decode.no_speech_prob > self._settings.no_speech_threshold and (
            decode.avg_logprob < self._settings.log_prob_threshold or decode.tokens <= 3
        )
