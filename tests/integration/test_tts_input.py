"""espeak-ng really speaks reply text that looks like an option (issue 12): "-f/etc/hostname" is said, not read."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from papo.speech.tts import EspeakVoice


def _voiced_s(voice: EspeakVoice, text: str) -> float:
    """Seconds of audio above a whisper in what the voice says for `text`."""
    samples = voice.synthesize(text)
    return float((np.abs(samples) > 0.01).sum()) / voice.rate


def test_a_reply_like_an_option_is_spoken_as_text_not_read_as_a_file() -> None:
    voice = EspeakVoice("pt-br")
    hostname = Path("/etc/hostname").read_text().strip()
    said = _voiced_s(voice, "-f/etc/hostname")
    spelled = _voiced_s(voice, "menos f barra etc barra hostname")  # roughly what the text says aloud
    only_the_file = _voiced_s(voice, hostname) if hostname else 0.0
    assert said > 0.5
    assert said > only_the_file + 0.3  # not the file's content
    assert 0.4 * spelled < said < 2.5 * spelled


def test_a_reply_beginning_with_a_dash_is_spoken() -> None:
    voice = EspeakVoice("pt-br")
    with_dash = _voiced_s(voice, "- Sim, claro, pode contar comigo.")
    without = _voiced_s(voice, "Sim, claro, pode contar comigo.")
    assert with_dash > 0.8 * without > 0.5
