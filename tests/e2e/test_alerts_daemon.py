"""A fall said aloud to the running daemon reaches the caregivers, and Papo says whom it warned (issue 14).

Everything real: generated pt-BR speech played into the test microphone, `papo run` (VAD, Whisper, the
companion, Kokoro's voice on the test speaker, the sync agent), Mosquitto, the ingestor, PostgreSQL, the alert
service, a local SMTP server and webhook receiver. What Papo said is read back from the speaker with Whisper.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from papo.audio.wav import read_wav, write_wav
from papo.engine import SpeechEngine
from papo.speech.voicegen import with_silence
from papo.speech.wordcheck import words
from papo_sync.cloud.alerts import caregivers
from papo_sync.cloud.alerts.signature import verify
from papo_sync.cloud.alerts.targets import NewCaregiver
from papo_sync.cloud.ingest import Ingestor
from papo_sync.cloud.settings import CloudSettings
from support.alerts import HttpReceiver, SmtpServer, alert_service, alert_settings
from support.broker import Broker, device_password
from support.browser import Daemon, daemon_env, running_daemon
from support.fleet import FleetKey
from support.pulse import PulseRig
from support.scripted_llm import Script, ScriptedLlm
from support.speech import SpeechMaker
from support.wait import wait_until

pytestmark = [pytest.mark.services, pytest.mark.models, pytest.mark.audio]

TENANT = "acme"
FALL = "Papo, socorro, eu caí no banheiro!"
SECRET = "s3cret-of-the-family-hook"


@pytest.fixture
def llm() -> Iterator[ScriptedLlm]:
    scripted = ScriptedLlm(default=Script(text="Estou aqui com você.")).start()
    yield scripted
    scripted.close()


def _family(db: psycopg.Connection[Any], hook: HttpReceiver) -> None:
    """Ana by e-mail and Bruno by webhook, both warned first."""
    with psycopg.connect(db.info.dsn, autocommit=True, row_factory=dict_row) as own:
        caregivers.add(own, NewCaregiver(tenant=TENANT, name="Ana", target={
            "channel": "email", "address": "ana@example.org"}))  # fmt: skip
        caregivers.add(own, NewCaregiver(tenant=TENANT, name="Bruno", target={
            "channel": "webhook", "url": hook.url + "/hook", "secret": SECRET}))  # fmt: skip


def _device_env(
    state_dir: Path, pulse: PulseRig, broker: Broker, llm: ScriptedLlm, fleet_key: FleetKey
) -> dict[str, str]:
    password = state_dir.parent / "broker-password"
    password.write_text(device_password("dev-1"))
    password.chmod(0o600)  # papo refuses a password file others can read
    return daemon_env(state_dir, pulse.env | {
        "PAPO_DEVICE_ID": "dev-1", "PAPO_AUDIO__INPUT_DEVICE": "papo_mic", "PAPO_AUDIO__OUTPUT_DEVICE": "papo_speaker",
        "PAPO_TTS__ENGINE": "kokoro",  # a voice Whisper understands, so the test can read back what was said
        "PAPO_LLM__ENDPOINT": llm.url, "PAPO_LLM__MODEL": "scripted", "PAPO_CONVERSATION__CREW": "false",
        "PAPO_CACHE__ENABLED": "false", "PAPO_SYNC__ENABLED": "true", "PAPO_SYNC__PORT": str(broker.port),
        "PAPO_SYNC__TENANT": TENANT, "PAPO_SYNC__PASSWORD_FILE": str(password),
        "PAPO_SYNC__FLEET_PUBLIC_KEY": str(fleet_key.public),
    })  # fmt: skip


def _said(daemon: Daemon, kind: str) -> int:
    """How many alert sentences of `kind` the daemon has said (its log names the kind, never the words)."""
    return len(re.findall(rf"alert sentence said.*\bkind={re.escape(kind)}\b", daemon.log()))


def test_a_fall_said_aloud_reaches_the_family_and_papo_says_whom_it_warned(
    state_dir: Path, tmp_path: Path, speech: SpeechMaker, engine: SpeechEngine, pulse: PulseRig, broker: Broker,
    cloud: CloudSettings, ingestor: Ingestor, alert_db: psycopg.Connection[Any], fleet_key: FleetKey,
    smtp: SmtpServer, hook: HttpReceiver, llm: ScriptedLlm,
) -> None:  # fmt: skip
    _family(alert_db, hook)
    room = tmp_path / "sala.wav"
    write_wav(room, with_silence([speech.say(FALL)], gap_s=0, lead_s=0.5))
    env = _device_env(state_dir, pulse, broker, llm, fleet_key)
    with alert_service(alert_settings(cloud, smtp)), running_daemon(env) as daemon:
        daemon.wait_health(lambda h: h["conversation"]["state"] == "ready" and h["conversation"]["speaker"]
                           and h["pipeline"]["state"] == "listening" and h["sync"]["connected"], 180)  # fmt: skip
        recorder = pulse.record_speaker(tmp_path / "papo.wav")
        try:
            pulse.play_into_room(room).wait(timeout=60)
            [mail] = smtp.messages(1, timeout_s=90)
            [call] = hook.wait_for(1, timeout_s=90)
            wait_until(lambda: _said(daemon, "delivered") >= 2, 90, lambda: f"'Avisei …' twice: {daemon.log()[-3000:]}")
            daemon.wait_health(lambda h: not h["conversation"]["speaking"], 60)
        finally:
            recorder.stop()
        text = mail.message.get_content()
        assert mail.recipients == ["ana@example.org"] and "dev-1" in text
        assert "caí" in text.lower() or "socorro" in text.lower()  # the phrase that was matched, nothing more
        assert verify(SECRET, call.headers["X-Papo-Timestamp"], call.headers["X-Papo-Signature"], call.body,
                      time.time())  # fmt: skip
        body = json.loads(call.body)
        assert (body["type"], body["device_id"], body["caregiver"]) == ("papo.alert", "dev-1", "Bruno")
        assert _said(daemon, "offline") == 0  # connected and delivered: never "não consigo avisar ninguém"
        heard = engine.transcriber.transcribe(read_wav(recorder.path).samples)
        assert heard is not None
        spoken = words(heard.text)
        joined = "".join(spoken)  # Whisper may split a word of espeak's voice ("A visei Bruno.")
        assert "avisei" in joined and "ana" in spoken and "bruno" in spoken, heard.text
    assert len(smtp.items) == 1 and len(hook.items) == 1  # once each
