"""Read any common WAV file (8–48 kHz, mono or stereo, integer or float) as 16 kHz mono float32."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf

from papo.audio import SAMPLE_RATE
from papo.audio.resample import to_pipeline_rate
from papo.errors import AudioInputError

MIN_RATE, MAX_RATE = 8_000, 48_000
SUPPORTED_SUBTYPES = {"PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"}
_CONVERT = "convert it with: sox INPUT.wav -r 16000 -b 16 OUTPUT.wav"


@dataclass(frozen=True)
class Recording:
    """A recording resampled for the pipeline, with what it was before."""

    samples: npt.NDArray[np.float32]
    source_rate: int
    source_channels: int
    source_subtype: str

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return len(self.samples) / SAMPLE_RATE


def _info(path: Path) -> sf._SoundFileInfo:
    if not path.exists():
        raise AudioInputError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise AudioInputError(f"{path}: is a directory, not a WAV file")
    if path.stat().st_size == 0:
        raise AudioInputError(f"{path}: the file is empty; record or export it again")
    try:
        return sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioInputError(f"{path}: not a readable WAV file ({exc}); {_CONVERT}") from None


def read_wav(path: Path) -> Recording:
    """Read and check a WAV file; raise AudioInputError with one line saying what is wrong and what to do."""
    info = _info(path)
    if info.format not in {"WAV", "WAVEX"}:
        raise AudioInputError(f"{path}: is {info.format_info or info.format}, not WAV; {_CONVERT}")
    if info.subtype not in SUPPORTED_SUBTYPES:
        raise AudioInputError(f"{path}: sample format {info.subtype} is not supported; {_CONVERT}")
    if not MIN_RATE <= info.samplerate <= MAX_RATE:
        raise AudioInputError(f"{path}: sample rate {info.samplerate} Hz is outside 8000–48000 Hz; {_CONVERT}")
    if info.channels > 2:
        raise AudioInputError(f"{path}: {info.channels} channels; only mono or stereo is supported; {_CONVERT}")
    if info.frames == 0:
        raise AudioInputError(f"{path}: the WAV file holds no audio; record or export it again")
    if _is_truncated(path):
        raise AudioInputError(f"{path}: the file is truncated (its header promises more audio); export it again")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioInputError(f"{path}: cannot decode the audio ({exc}); {_CONVERT}") from None
    mono = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    return Recording(to_pipeline_rate(mono, rate), rate, info.channels, info.subtype)


def _is_truncated(path: Path) -> bool:
    """Tell whether the RIFF `data` chunk declares more bytes than the file holds."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        if handle.read(12)[:4] not in (b"RIFF", b"RIFX"):
            return False
        offset = 12
        while offset + 8 <= size:
            handle.seek(offset)
            chunk_id, chunk_size = handle.read(4), int.from_bytes(handle.read(4), "little")
            if chunk_id == b"data":
                streaming = chunk_size in (0, 0xFFFFFFFF)
                return not streaming and offset + 8 + chunk_size > size
            offset += 8 + chunk_size + (chunk_size & 1)
    return True


def write_wav(path: Path, samples: npt.NDArray[np.float32], rate: int = SAMPLE_RATE) -> None:
    """Write mono float samples as a 16-bit PCM WAV file."""
    sf.write(str(path), np.clip(samples, -1.0, 1.0), rate, subtype="PCM_16")
