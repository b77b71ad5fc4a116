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


def test_other_audio_format(tmp_path: Path) -> None:
    path = tmp_path / "song.wav"
    sf.write(path, _tone(16000), 16000, format="FLAC")
    with pytest.raises(AudioInputError, match="not WAV"):
        read_wav(path)


def test_truncated_file(tmp_path: Path) -> None:
    full = tmp_path / "full.wav"
    sf.write(full, _tone(16000, 2.0), 16000, subtype="PCM_16")
    cut = _write(tmp_path / "cut.wav", full.read_bytes()[:20000])
    with pytest.raises(AudioInputError, match="truncated"):
        read_wav(cut)


def test_unknown_sample_format(tmp_path: Path) -> None:
    path = tmp_path / "phone.wav"
    sf.write(path, _tone(8000), 8000, subtype="ULAW")
    with pytest.raises(AudioInputError, match="sample format ULAW is not supported"):
        read_wav(path)


def test_rate_out_of_range(tmp_path: Path) -> None:
    path = tmp_path / "hifi.wav"
    sf.write(path, _tone(96000), 96000, subtype="PCM_16")
    with pytest.raises(AudioInputError, match="96000 Hz is outside"):
        read_wav(path)


def test_header_without_audio(tmp_path: Path) -> None:
    path = tmp_path / "blank.wav"
    sf.write(path, np.zeros(0, np.float32), 16000, subtype="PCM_16")
    with pytest.raises(AudioInputError, match="holds no audio"):
        read_wav(path)
