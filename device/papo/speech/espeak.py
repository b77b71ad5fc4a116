"""Running espeak-ng: the missing-program error and an environment that keeps it off the sound devices."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from papo.errors import PapoError

NULL_ALSA_CONFIG = Path(__file__).with_name("alsa-null.conf")


def require_espeak() -> None:
    """Raise PapoError, saying how to install it, when espeak-ng is missing."""
    if shutil.which("espeak-ng") is None:
        raise PapoError("espeak-ng is not installed; install it with `sudo apt-get install espeak-ng`")


def silent_env() -> dict[str, str]:
    """The environment for espeak-ng: no PulseAudio server and a null ALSA device.

    espeak-ng (through pcaudiolib) opens the default audio output even when it writes its WAV to stdout or only
    prints phonemes: a stream on the speaker for every sentence (on PulseAudio/PipeWire) or, on a bare ALSA
    device that papo holds, a busy device. Papo plays the audio itself.
    """
    env = {name: value for name, value in os.environ.items() if not name.startswith("PULSE_")}
    return env | {"PULSE_SERVER": "unix:/nonexistent/papo-no-sound", "ALSA_CONFIG_PATH": str(NULL_ALSA_CONFIG)}
