"""Generated pt-BR speech for tests and demos: espeak-ng phonemes voiced by Kokoro-82M (espeak-ng as fallback)."""

from __future__ import annotations

import json
import subprocess
import tempfile
from functools import cached_property
from pathlib import Path

import numpy as np
import numpy.typing as npt

from papo.audio import SAMPLE_RATE
from papo.audio.resample import to_pipeline_rate
from papo.errors import ModelError
from papo.speech.espeak import require_espeak, silent_env
from papo.system.cpu_budget import current_budget

KOKORO_RATE = 24_000
DEFAULT_VOICE = "jm_kumo"  # measured: Whisper base understands it best of the five shipped voices
_MAX_TOKENS = 500


def espeak_phonemes(text: str, voice: str = "pt-br") -> str:
    """Return espeak-ng's IPA phonemes for `text`, clauses joined with commas."""
    require_espeak()
    out = subprocess.run(
        ["espeak-ng", "-q", "--ipa", "-v", voice, "--stdin"],  # text on stdin: never an option or a file name
        input=text,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
        env=silent_env(),
    ).stdout
    return ", ".join(line.strip() for line in out.splitlines() if line.strip())


def espeak_voice(text: str, voice: str = "pt-br") -> npt.NDArray[np.float32]:
    """Speak `text` with espeak-ng's own voice; 16 kHz mono float32."""
    import soundfile as sf

    require_espeak()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True, timeout=60, env=silent_env())
        data, rate = sf.read(str(path), dtype="float32")
    return to_pipeline_rate(np.asarray(data, dtype=np.float32), int(rate))


def session_options() -> object:
    """Onnxruntime options for a neural voice: the budget's TTS threads, one operator at a time."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = current_budget().tts_threads
    options.inter_op_num_threads = 1
    return options


class KokoroVoice:
    """Kokoro-82M int8 ONNX voicing espeak-ng phonemes; its files come from the `kokoro-82m` model."""

    def __init__(
        self, model_dir: Path, voice: str = DEFAULT_VOICE, speed: float = 1.0, language: str = "pt-br"
    ) -> None:
        self._dir = model_dir
        self._voice = voice
        self._speed = speed
        self._language = language

    @cached_property
    def _session(self) -> object:
        import onnxruntime as ort

        return ort.InferenceSession(
            str(self._dir / "kokoro-v1.0.int8.onnx"), session_options(), providers=["CPUExecutionProvider"]
        )

    @cached_property
    def _vocab(self) -> dict[str, int]:
        vocab: dict[str, int] = json.loads((self._dir / "vocab.json").read_text(encoding="utf-8"))["vocab"]
        return vocab

    @cached_property
    def _style(self) -> npt.NDArray[np.float32]:
        with np.load(self._dir / "voices.npz") as voices:
            if self._voice not in voices.files:
                raise ModelError(f"Kokoro voice {self._voice!r} not found; choose one of {', '.join(voices.files)}")
            return np.asarray(voices[self._voice], dtype=np.float32)

    def synthesize(self, text: str) -> npt.NDArray[np.float32]:
        """Speak `text` (in the espeak-ng language given at construction); return 16 kHz mono float32."""
        ids = [self._vocab[c] for c in espeak_phonemes(text, self._language) if c in self._vocab][:_MAX_TOKENS]
        if not ids:
            return np.zeros(0, np.float32)
        style = self._style[len(ids) - 1].reshape(1, -1)
        audio = self._session.run(  # type: ignore[attr-defined]
            None,
            {
                "tokens": np.array([[0, *ids, 0]], dtype=np.int64),
                "style": style,
                "speed": np.array([self._speed], dtype=np.float32),
            },
        )[0]
        return to_pipeline_rate(_trim(np.asarray(audio, dtype=np.float32).reshape(-1)), KOKORO_RATE)


def _trim(audio: npt.NDArray[np.float32], threshold: float = 0.01, pad_s: float = 0.03) -> npt.NDArray[np.float32]:
    """Cut the near-silence Kokoro leaves before and after the speech, keeping a short pad."""
    loud = np.flatnonzero(np.abs(audio) > threshold)
    if len(loud) == 0:
        return audio
    pad = int(pad_s * KOKORO_RATE)
    return audio[max(0, loud[0] - pad) : loud[-1] + pad]


def with_silence(parts: list[npt.NDArray[np.float32]], gap_s: float, lead_s: float = 0.5) -> npt.NDArray[np.float32]:
    """Join utterances with `gap_s` of silence between them and `lead_s` before and after."""
    gap = np.zeros(int(gap_s * SAMPLE_RATE), np.float32)
    lead = np.zeros(int(lead_s * SAMPLE_RATE), np.float32)
    pieces = [lead]
    for index, part in enumerate(parts):
        if index:
            pieces.append(gap)
        pieces.append(part)
    pieces.append(lead)
    return np.concatenate(pieces)
