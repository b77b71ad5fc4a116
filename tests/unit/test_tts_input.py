"""Reply text reaches espeak-ng on stdin, never as an argument (issue 12): it cannot become an option or a file."""

from __future__ import annotations

import io
import subprocess
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from papo.speech import tts
from papo.speech.tts import EspeakVoice


@pytest.mark.parametrize("text", ["-f/etc/hostname", "- sim, claro.", "--version", "Olá, tudo bem?"])
def test_the_text_goes_in_on_stdin_and_no_argument_is_taken_from_it(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[list[str], Any]] = []

    def run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        calls.append((args, kwargs.get("input")))
        wav = io.BytesIO()
        sf.write(wav, np.zeros(100, np.float32), EspeakVoice.rate, format="WAV")
        return subprocess.CompletedProcess(args, 0, wav.getvalue(), b"")

    monkeypatch.setattr(tts.shutil, "which", lambda _: "/usr/bin/espeak-ng")
    monkeypatch.setattr(tts.subprocess, "run", run)
    EspeakVoice("pt-br").synthesize(text)
    ((args, given),) = calls
    assert given == text.encode()
    assert "--stdin" in args and text not in args
    assert args == ["espeak-ng", "-v", "pt-br", "-s", "160", "--stdout", "--stdin"]
