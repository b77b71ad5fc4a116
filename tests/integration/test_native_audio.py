"""The Rust capture and playback (papo._native) on a real ALSA path: PulseAudio null sinks via the pulse plugin."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from conftest import SENTENCES
from papo import _native
from papo.audio import SAMPLE_RATE
from papo.audio.native import NativeMicrophone, NativeSpeaker, list_devices
from papo.audio.wav import read_wav, write_wav
from papo.errors import NoAudioInputError
from papo.listener import Listener
from papo.speech.voicegen import with_silence
from papo.speech.wordcheck import content_word_recall
from support.pulse import PulseRig
from support.speech import SpeechMaker
from support.wait import wait_until

if TYPE_CHECKING:
    from papo.engine import SpeechEngine

pytestmark = pytest.mark.audio  # every test here uses the PulseAudio rig; the models ones are marked by fixture


def test_devices_include_the_test_microphone_and_speaker(alsa_rig: PulseRig) -> None:
    devices = {d["id"]: d for d in list_devices()}
    assert devices["papo_mic"]["input"] and devices["papo_mic"]["name"] == "Papo test microphone"
    assert devices["papo_speaker"]["output"]


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


def test_native_playback_reaches_the_speaker(alsa_rig: PulseRig, speech: SpeechMaker, tmp_path: Path) -> None:
    source = speech.say(SENTENCES[2])
    captured = tmp_path / "speaker.wav"
    recorder = alsa_rig.record_speaker(captured)
    speaker = NativeSpeaker("papo_speaker")
    try:
        assert speaker.play(with_silence([source], gap_s=0, lead_s=0.3), SAMPLE_RATE) is True
        assert speaker.wait(timeout=30)
        assert speaker.played_samples() > len(source) * speaker.sample_rate / SAMPLE_RATE
        recorder.stop_once_past(time.monotonic())  # the monitor's last fragment is in the file
    finally:
        speaker.close()
        recorder.stop()
    recorded = read_wav(captured).samples
    assert _aligned_correlation(source, recorded) > 0.9


def test_stop_cuts_playback_short_and_empties_the_queue(alsa_rig: PulseRig, tmp_path: Path) -> None:
    tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(SAMPLE_RATE * 10) / SAMPLE_RATE)).astype(np.float32)
    recorder = alsa_rig.record_speaker(tmp_path / "speaker.wav")
    speaker = NativeSpeaker("papo_speaker")
    results: list[bool] = []
    worker = threading.Thread(target=lambda: results.append(speaker.play(tone, SAMPLE_RATE)))
    try:
        worker.start()
        # listen for the tone where it comes out: the device really plays it
        wait_until(lambda: recorder.loudest() > 0.1, 10, "the tone at the speaker")
        speaker.stop()
        worker.join(timeout=10)
    finally:
        recorder.stop()
    assert not worker.is_alive()
    assert results == [False]
    assert speaker.wait(timeout=5)
    speaker.close()


def test_playback_counters_answer_while_another_thread_plays(alsa_rig: PulseRig) -> None:
    tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(SAMPLE_RATE * 10) / SAMPLE_RATE)).astype(np.float32)
    speaker = NativeSpeaker("papo_speaker")
    worker = threading.Thread(target=lambda: speaker.play(tone, SAMPLE_RATE))
    try:
        worker.start()
        wait_until(lambda: speaker.played_samples() > 0, 10, "samples reaching the device")
        # the counters were read while `play` was still running: they no longer wait for it holding the GIL
        assert worker.is_alive()
    finally:
        speaker.stop()
        worker.join(timeout=10)
        speaker.close()
    assert not worker.is_alive()


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


def test_alsa_lib_complaints_go_to_the_log_not_to_the_screen(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    script = (
        "import logging, sys\n"
        "logging.basicConfig(stream=sys.stdout, level=logging.DEBUG, format='%(message)s')\n"
        "from papo.audio.native import list_devices, open_speaker\n"
        "list_devices()\n"
        "open_speaker('papo-no-such-device')\n"
    )
    # ALSA's own configuration only (no PulseAudio rig): on a machine without a sound card alsa-lib complains
    env = {k: v for k, v in os.environ.items() if k not in ("ALSA_CONFIG_PATH", "PULSE_SERVER")}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)

    assert result.returncode == 0, result.stderr[-2000:]
    assert "ALSA lib" not in result.stderr, result.stderr[-2000:]
    if not Path("/proc/asound/card0").exists():  # this machine has no card: alsa-lib did complain, into the log
        assert "alsa-lib reported problems" in result.stdout, result.stdout[-2000:]
