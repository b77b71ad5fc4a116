"""espeak-ng writes its WAV for papo to play: it never opens a sound device of its own (it did on every sentence)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from papo.speech.tts import EspeakVoice
from papo.speech.voicegen import espeak_phonemes
from support.pulse import PulseRig
from support.wait import wait_until

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="make setup installs espeak-ng")


def _espeak_clients(rig: PulseRig) -> int:
    """How many espeak-ng streams the rig's PulseAudio server has seen so far (its log names each one)."""
    return (rig.directory / "pulse.log").read_text().count('application.process.binary = "espeak-ng"')


def test_espeak_ng_speaks_and_phonemizes_without_touching_the_sound_server(alsa_rig: PulseRig) -> None:
    before = _espeak_clients(alsa_rig)
    audio = EspeakVoice("pt-br").synthesize("Bom dia, tudo bem?")
    phonemes = espeak_phonemes("Bom dia, tudo bem?")
    assert len(audio) > EspeakVoice.rate // 2 and phonemes  # it still speaks and phonemizes
    # A plain espeak-ng run afterwards (as papo ran it before) opens a stream: once the server has logged that
    # one, it has logged anything the two above did, which came first.
    subprocess.run(["espeak-ng", "-v", "pt-br", "--stdout", "Oi"], capture_output=True, check=True, env=os.environ)
    wait_until(lambda: _espeak_clients(alsa_rig) > before, 10, "the plain run's stream in the server's log")
    assert _espeak_clients(alsa_rig) == before + 1
