"""A real PulseAudio server with null sinks, reachable from ALSA: a microphone and a speaker for tests.

`papo_mic` (ALSA) records what is played into the `papo_room` sink; `papo_speaker` (ALSA) plays into
the `papo_speaker` sink, whose monitor the tests record with parec. Everything runs in real time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np

from support.wait import wait_until

ALSA_TEMPLATE = """
pcm.papo_mic {{
    type pulse
    server "unix:{socket}"
    device "papo_room.monitor"
    hint {{ show on description "Papo test microphone" }}
}}
pcm.papo_speaker {{
    type pulse
    server "unix:{socket}"
    device "papo_speaker"
    hint {{ show on description "Papo test speaker" }}
}}
"""

PULSE_TEMPLATE = """
load-module module-native-protocol-unix socket={socket} auth-anonymous=1
load-module module-null-sink sink_name=papo_room rate=48000 channels=2
load-module module-null-sink sink_name=papo_speaker rate=48000 channels=2
set-default-sink papo_room
set-default-source papo_room.monitor
"""


class PulseRig:
    """A running PulseAudio with the test sinks, and the environment that points ALSA at it."""

    def __init__(self, directory: Path, start: bool = True) -> None:
        """Write the rig's configuration under `directory` and (unless `start` is False) start the server."""
        if shutil.which("pulseaudio") is None:
            raise RuntimeError("pulseaudio is not installed; `make test` installs it (apt-get install pulseaudio)")
        self.directory = directory
        self.socket = directory / "native"
        (directory / "default.pa").write_text(PULSE_TEMPLATE.format(socket=self.socket))
        self.alsa_conf = directory / "alsa.conf"
        self.alsa_conf.write_text(ALSA_TEMPLATE.format(socket=self.socket))
        self.env = {
            "ALSA_CONFIG_PATH": f"/usr/share/alsa/alsa.conf:{self.alsa_conf}",
            "PULSE_SERVER": f"unix:{self.socket}",
        }
        self._process: subprocess.Popen[bytes] | None = None
        if start:
            self.start()

    def start(self) -> None:
        """Start the server (its sinks appear to ALSA, whose configuration `env` already named)."""
        self._process = subprocess.Popen(
            ["pulseaudio", "-n", "-F", str(self.directory / "default.pa"), "--daemonize=no", "--exit-idle-time=-1",
             "--log-level=info", "--log-target=file:" + str(self.directory / "pulse.log")],
            env={**os.environ, "XDG_RUNTIME_DIR": str(self.directory), "HOME": str(self.directory)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(self._ready, 20, lambda: f"PulseAudio to start: {self.log()}")

    def log(self) -> str:
        """The end of the server's log."""
        log = self.directory / "pulse.log"
        return log.read_text()[-2000:] if log.exists() else ""

    def _ready(self) -> bool:
        assert self._process is not None
        if self._process.poll() is not None:
            raise RuntimeError(f"PulseAudio exited: {self.log()}")
        if not self.socket.exists():
            return False
        result = subprocess.run(["pactl", "list", "short", "sinks"], env={**os.environ, **self.env},
                                capture_output=True, text=True, check=False)  # fmt: skip
        return "papo_speaker" in result.stdout

    def play_into_room(self, wav: Path) -> subprocess.Popen[bytes]:
        """Start playing `wav` where the test microphone hears it."""
        return subprocess.Popen(["paplay", "--device=papo_room", str(wav)], env={**os.environ, **self.env})

    def record_speaker(self, wav: Path) -> SpeakerRecording:
        """Start recording what the test speaker plays, as 16 kHz mono 16-bit WAV."""
        process = subprocess.Popen(
            ["parec", "--device=papo_speaker.monitor", "--file-format=wav", "--rate=16000", "--channels=1",
             "--format=s16le", str(wav)],
            env={**os.environ, **self.env},
        )  # fmt: skip
        return SpeakerRecording(process, wav, time.monotonic())

    def close(self) -> None:
        """Stop the server (if it was started)."""
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


class SpeakerRecording:
    """parec recording the test speaker into a WAV file that grows as the audio arrives."""

    def __init__(self, process: subprocess.Popen[bytes], path: Path, started: float) -> None:
        self.process = process
        self.path = path
        self.started = started

    def recorded_s(self) -> float:
        """Seconds of audio written to the file so far (16 kHz, 16-bit mono after the WAV header)."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return 0.0
        return max(0, size - _WAV_HEADER_BYTES) / (2 * 16000)

    def loudest(self) -> float:
        """The peak level (0..1) of what was recorded so far."""
        try:
            data = self.path.read_bytes()[_WAV_HEADER_BYTES:]
        except FileNotFoundError:
            return 0.0
        samples = np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2")
        return float(np.abs(samples.astype(np.float32)).max() / 32768) if len(samples) else 0.0

    def stop_once_past(self, moment: float, timeout: float = 10) -> None:
        """Stop once the file holds audio up to `moment` (a time.monotonic() value), so what played before is in.

        The recording started at (or a little after) `started`, so it reaches `moment` once it holds
        `moment - started` seconds: the monitor's last fragment has been drained into the file.
        """
        try:
            wait_until(lambda: self.started + self.recorded_s() >= moment, timeout, "the speaker recording to catch up")
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop recording (parec finalises the WAV header)."""
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=10)


_WAV_HEADER_BYTES = 44
