"""The Rust capture and playback (papo._native) on a real ALSA path: PulseAudio null sinks via the pulse plugin."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from conftest import SENTENCES
from papo import _native
from papo.audio import SAMPLE_RATE
from papo.audio.native import NativeMicrophone, NativeSpeaker, list_devices
from papo.audio.wav import read_wav, write_wav
from papo.engine import SpeechEngine
from papo.errors import NoAudioInputError
from papo.listener import Listener
from papo.speech.voicegen import with_silence
from papo.speech.wordcheck import content_word_recall
from support.pulse import PulseRig
from support.speech import SpeechMaker

pytestmark = pytest.mark.audio


def test_devices_include_the_test_microphone_and_speaker(alsa_rig: PulseRig) -> None:
    devices = {d["id"]: d for d in list_devices()}
    assert devices["papo_mic"]["input"] and devices["papo_mic"]["name"] == "Papo test microphone"
    assert devices["papo_speaker"]["output"]


@pytest.mark.slow
def test_native_capture_hears_what_is_said_in_the_room(
    alsa_rig: PulseRig, speech: SpeechMaker, engine: SpeechEngine, tmp_path: Path
) -> None:
    recording = tmp_path / "room.wav"
    audio = with_silence([speech.say(s) for s in SENTENCES[:2]], gap_s=1.5)
    write_wav(recording, audio)
    microphone = NativeMicrophone("papo_mic")
    pendings = []
    with ThreadPoolExecutor(1) as executor:
        listener = Listener(engine.endpointer(), engine.transcriber, executor)
        player = alsa_rig.play_into_room(recording)
        for _ in range(int((len(audio) / SAMPLE_RATE + 2.0) * SAMPLE_RATE / 512)):
            pendings += listener.feed(microphone.read())
        player.wait(timeout=10)
        pendings += listener.flush()
        texts = [p.result().text for p in pendings if p.result() is not None]
    stats = microphone.stats()
    microphone.close()
    assert len(texts) == 2, texts
    for text, sentence in zip(texts, SENTENCES[:2], strict=True):
        assert content_word_recall(sentence, text) >= 0.8, text
    assert stats["overrun_samples"] == 0
    assert stats["captured_samples"] >= len(audio)
    assert (stats["device_rate"], stats["device_channels"]) == (16000, 1)


def _aligned_correlation(source: np.ndarray, recorded: np.ndarray) -> float:
    """Peak normalized cross-correlation of `source` within `recorded`."""
    size = 1 << int(np.ceil(np.log2(len(source) + len(recorded))))
    spectrum = np.fft.rfft(recorded, size) * np.conj(np.fft.rfft(source, size))
    lag = int(np.argmax(np.fft.irfft(spectrum, size)[: len(recorded)]))
    segment = recorded[lag : lag + len(source)]
    if len(segment) < len(source):
        return 0.0
    return float(np.dot(segment, source) / (np.linalg.norm(segment) * np.linalg.norm(source) + 1e-12))


@pytest.mark.slow
def test_native_playback_reaches_the_speaker(alsa_rig: PulseRig, speech: SpeechMaker, tmp_path: Path) -> None:
    source = speech.say(SENTENCES[2])
    captured = tmp_path / "speaker.wav"
    recorder = alsa_rig.record_speaker(captured)
    speaker = NativeSpeaker("papo_speaker")
    try:
        assert speaker.play(with_silence([source], gap_s=0, lead_s=0.3), SAMPLE_RATE) is True
        assert speaker.wait(timeout=30)
        assert speaker.played_samples() > len(source) * speaker.sample_rate / SAMPLE_RATE
        threading.Event().wait(0.8)  # let the recorder drain the monitor's last fragment
    finally:
        speaker.close()
        recorder.terminate()
        recorder.wait(timeout=10)
    recorded = read_wav(captured).samples
    assert _aligned_correlation(source, recorded) > 0.9


def test_stop_cuts_playback_short_and_empties_the_queue(alsa_rig: PulseRig) -> None:
    tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(SAMPLE_RATE * 10) / SAMPLE_RATE)).astype(np.float32)
    speaker = NativeSpeaker("papo_speaker")
    results: list[bool] = []
    started = threading.Event()

    def play() -> None:
        started.set()
        results.append(speaker.play(tone, SAMPLE_RATE))

    worker = threading.Thread(target=play)
    worker.start()
    started.wait(5)
    threading.Event().wait(0.5)
    speaker.stop()
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert results == [False]
    assert speaker.wait(timeout=5)
    speaker.close()


def test_module_errors_name_the_problem(alsa_rig: PulseRig) -> None:
    with pytest.raises(_native.NoAudioDeviceError, match="no-such-device-xyz"):
        _native.Capture("no-such-device-xyz")
    with pytest.raises(NoAudioInputError, match=r"no audio input.*no-such-device-xyz"):
        NativeMicrophone("no-such-device-xyz")
    capture = _native.Capture("papo_mic")
    with pytest.raises(ValueError, match="samples must be between 1"):
        capture.read(0)
    with pytest.raises(ValueError, match="timeout must be"):
        capture.read(512, -1.0)
    frame = capture.read(512, 5.0)
    assert frame.dtype == np.int16 and frame.shape == (512,)
    with capture:
        pass
    assert capture.closed
    with pytest.raises(_native.StreamClosedError):
        capture.read(512, 1.0)
    capture.close()
    playback = _native.Playback("papo_speaker")
    with pytest.raises(ValueError, match="rate must be"):
        playback.play(np.zeros(10, np.float32), 100)
    with pytest.raises(ValueError, match="contiguous"):
        playback.play(np.zeros(20, np.float32)[::2], 16000)
    playback.close()
    with pytest.raises(_native.StreamClosedError):
        playback.play(np.zeros(10, np.float32), 16000)


def test_capture_read_times_out_when_nothing_arrives(alsa_rig: PulseRig) -> None:
    capture = _native.Capture("papo_mic", ring_seconds=1.0)
    with pytest.raises(TimeoutError, match="within"):
        capture.read(16000 * 2, 0.2)
    capture.close()
