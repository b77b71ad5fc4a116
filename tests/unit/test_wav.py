from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from papo.audio import SAMPLE_RATE
from papo.audio.wav import read_wav
from papo.errors import AudioInputError


def _tone(rate: int, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


@pytest.mark.parametrize(
    ("rate", "channels", "subtype"),
    [(8000, 1, "PCM_16"), (16000, 1, "PCM_16"), (22050, 2, "PCM_24"), (44100, 2, "FLOAT"), (48000, 1, "PCM_U8")],
)
def test_common_wav_files_become_16k_mono(tmp_path: Path, rate: int, channels: int, subtype: str) -> None:
    tone = _tone(rate)
    data = np.stack([tone] * channels, axis=1) if channels == 2 else tone
    path = tmp_path / "in.wav"
    sf.write(path, data, rate, subtype=subtype)
    recording = read_wav(path)
    assert recording.source_rate == rate
    assert recording.source_channels == channels
    assert abs(recording.duration_s - 1.0) < 0.01
    assert recording.samples.dtype == np.float32
    spectrum = np.abs(np.fft.rfft(recording.samples))
    assert abs(np.argmax(spectrum) * SAMPLE_RATE / len(recording.samples) - 440) < 3


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AudioInputError, match="no such file"):
        read_wav(tmp_path / "nope.wav")


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(AudioInputError, match="the file is empty"):
        read_wav(_write(tmp_path / "empty.wav", b""))


def test_not_a_wav(tmp_path: Path) -> None:
    with pytest.raises(AudioInputError, match="not a readable WAV file"):
        read_wav(_write(tmp_path / "text.wav", b"this is not audio at all, just words"))


@pytest.mark.parametrize(
    ("data", "rate", "options", "message"),
    [
        ("tone", 16000, {"format": "FLAC"}, "not WAV"),
        ("tone", 8000, {"subtype": "ULAW"}, "sample format ULAW is not supported"),
        ("tone", 96000, {"subtype": "PCM_16"}, "96000 Hz is outside"),
        ("empty", 16000, {"subtype": "PCM_16"}, "holds no audio"),
    ],
)
def test_unusable_audio_is_named(tmp_path: Path, data: str, rate: int, options: dict[str, str], message: str) -> None:
    path = tmp_path / "input.wav"
    sf.write(path, _tone(rate) if data == "tone" else np.zeros(0, np.float32), rate, **options)
    with pytest.raises(AudioInputError, match=message):
        read_wav(path)


def test_truncated_file(tmp_path: Path) -> None:
    full = tmp_path / "full.wav"
    sf.write(full, _tone(16000, 2.0), 16000, subtype="PCM_16")
    cut = _write(tmp_path / "cut.wav", full.read_bytes()[:20000])
    with pytest.raises(AudioInputError, match="truncated"):
        read_wav(cut)
