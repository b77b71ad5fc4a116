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

    def __init__(self, directory: Path) -> None:
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
        self._process = subprocess.Popen(
            ["pulseaudio", "-n", "-F", str(directory / "default.pa"), "--daemonize=no", "--exit-idle-time=-1",
             "--log-target=file:" + str(directory / "pulse.log")],
            env={**os.environ, "XDG_RUNTIME_DIR": str(directory), "HOME": str(directory)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while not self._ready():
            if self._process.poll() is not None or time.monotonic() > deadline:
                log = (directory / "pulse.log").read_text() if (directory / "pulse.log").exists() else ""
                raise RuntimeError(f"PulseAudio did not start: {log[-2000:]}")
            time.sleep(0.1)

    def _ready(self) -> bool:
        if not self.socket.exists():
            return False
        result = subprocess.run(["pactl", "list", "short", "sinks"], env={**os.environ, **self.env},
                                capture_output=True, text=True, check=False)  # fmt: skip
        return "papo_speaker" in result.stdout

    def play_into_room(self, wav: Path) -> subprocess.Popen[bytes]:
        """Start playing `wav` where the test microphone hears it."""
        return subprocess.Popen(["paplay", "--device=papo_room", str(wav)], env={**os.environ, **self.env})

    def record_speaker(self, wav: Path) -> subprocess.Popen[bytes]:
        """Start recording what the test speaker plays, as 16 kHz mono WAV."""
        return subprocess.Popen(
            ["parec", "--device=papo_speaker.monitor", "--file-format=wav", "--rate=16000", "--channels=1", str(wav)],
            env={**os.environ, **self.env},
        )

    def close(self) -> None:
        """Stop the server."""
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
