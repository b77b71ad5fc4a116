"""«Papo, fala mais baixo» said to the running daemon: applied at once and kept for the next start (issue 16).

Generated pt-BR speech goes through `papo run --input` (real models; no LLM is needed, a rule answers). The change
is written to the page's settings file, with a line in its change log saying it was asked for aloud.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from papo.audio.wav import write_wav
from papo.settings import load_settings, read_local_settings
from papo.speech.voicegen import with_silence
from papo.web.panel import changelog
from support.daemon import daemon, stop_daemon
from support.speech import SpeechMaker
from support.wait import wait_until


@pytest.mark.models
def test_a_voice_change_said_to_the_daemon_is_kept_for_the_next_start(
    state_dir: Path, tmp_path: Path, speech: SpeechMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPO_LLM__ENDPOINT", "http://127.0.0.1:9/v1")  # nothing answers there: the rule must
    monkeypatch.setenv("PAPO_CONVERSATION__CREW", "false")
    room = tmp_path / "room.wav"
    write_wav(room, with_silence([speech.say("Papo, fala mais baixo, por favor.")], gap_s=0, lead_s=1.0))
    assert load_settings().audio.volume == 100
    with daemon("--input", str(room)) as (process, _):
        wait_until(lambda: read_local_settings(state_dir).get("audio", {}).get("volume") == 80, 120, "the volume kept")
        output = stop_daemon(process)
    assert "keys=audio.volume live=audio.volume" in output  # applied live through the page's own path
    assert load_settings().audio.volume == 80  # what the next start reads
    assert [(e.who, e.key, e.old, e.new) for e in changelog.recent(state_dir)] == [("voz", "audio.volume", 100, 80)]
