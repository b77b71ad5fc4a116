"""A device for the caregiver-alert tests: the real sync agent draining the real store to a broker, and the
companion (journaled voice, no speaker) following its alerts from the signed updates the agent lets through."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from papo_sync.device.agent import AgentConfig, SyncAgent
from papo_sync.device.gate import FleetGate, ReplayGuard, load_gate_key


@dataclass
class AlertDevice:
    """dev-1: its store, its companion, its sync agent, what its voice said, and its alert bookkeeping."""

    store: Any
    companion: Any
    agent: SyncAgent
    journal: list[str]
    _spoken: threading.Condition
    cases: Any  # AlertCases: what the voice may still owe (check-ins due, waits running)

    def hear(self, text: str, addressed: bool = True) -> Any:
        """The companion hears `text` (said to it unless `addressed` is False); its TurnOutcome."""
        import time

        from papo.conversation.turn import decide
        from support.pipeline_fakes import new_turn

        admitted = decide(new_turn(text), "mic", time.monotonic(), self.companion._settings, self.companion)
        return self.companion.respond(admitted.heard, addressed)

    def said(self) -> str:
        """Everything the voice said so far (sentence by sentence, joined)."""
        with self._spoken:
            return " ".join(line.removeprefix("said ") for line in self.journal)

    def wait_said(self, text: str, timeout_s: float = 30) -> str:
        """Everything said, once `text` is among it (fail the test after `timeout_s`)."""
        with self._spoken:
            assert self._spoken.wait_for(lambda: text in self.said(), timeout_s), f"never said {text!r}: {self.said()}"
            return self.said()

    def close(self) -> None:
        """Stop the agent and the companion, close the store."""
        self.agent.stop()
        self.companion.close()
        self.store.close()


class _SpokenJournal(list[str]):
    """A journal that wakes whoever waits for a sentence."""

    def __init__(self, spoken: threading.Condition) -> None:
        super().__init__()
        self._spoken = spoken

    def append(self, line: str) -> None:
        with self._spoken:
            super().append(line)
            self._spoken.notify_all()


def alert_device(
    state_dir: Path, port: int, password: str, fleet_public: Path, tenant: str = "acme", checkin_s: float | None = None
) -> AlertDevice:
    """dev-1 on the broker at `port` trusting the fleet key at `fleet_public`, its agent started (connecting).

    `checkin_s`: how often it asks "Você está bem?" while an alert is open (default: the settings' minutes).
    """
    from papo.cache import AudioCache
    from papo.conversation.alert_state import AlertCases
    from papo.conversation.alert_voice import ALERT_WAIT_S, AlertVoice
    from papo.conversation.companion import Companion
    from papo.conversation.crew import CrewRuntime
    from papo.conversation.speech_output import SpeechOutput
    from papo.settings import load_settings
    from papo.speech.tts import CachedVoice
    from papo.store import Store
    from support.fakes import JournalVoice, NullSpeaker

    settings = load_settings(conversation={"crew": False, "review_after_idle_s": 0})
    store = Store(settings.store_path, "dev-1")
    spoken = threading.Condition(threading.RLock())
    journal = _SpokenJournal(spoken)
    output = SpeechOutput(CachedVoice(JournalVoice(journal), AudioCache(None, "tts")), NullSpeaker())
    crew = CrewRuntime("http://127.0.0.1:9/v1", "none", enabled=False)
    every = settings.conversation.checkin_min * 60 if checkin_s is None else checkin_s
    cases = AlertCases(settings.conversation.language, lambda: every, ALERT_WAIT_S)
    companion = Companion(settings, store, output, lambda: None, lambda: None, crew, AlertVoice(output.say, cases))
    key, problem = load_gate_key(fleet_public)
    assert problem is None, problem
    gate = FleetGate(key, ReplayGuard(state_dir / "fleet-replay.json"), tenant, "dev-1")
    config = AgentConfig(host="127.0.0.1", port=port, tenant=tenant, device_id="dev-1", username="dev-1",
                         password=password, ack_timeout_s=2.0)  # fmt: skip
    agent = SyncAgent(config, store.outbox, session_seq=1, gate=gate, on_alert=companion.alerts.update)
    companion.alerts.connect(lambda: agent.status.connected)
    agent.start()
    return AlertDevice(store, companion, agent, journal, spoken, cases)
