"""Only what was said to Papo is kept (issue 11): the daemon's pipeline and the companion with fake speech.

The VAD is scripted and the transcriber says the sentence of the block of frames it was given, so the real
VoiceService, Listener, Companion and Store run without models or audio: unaddressed speech leaves no turn, no
outbox row and no words anywhere in the state directory or the log; a sign of trouble in it is recorded with
the matched phrase only and answered with a check-in, after which the person's answer counts as addressed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from papo.cache import AudioCache
from papo.conversation.companion import Companion
from papo.conversation.crew import CrewRuntime
from papo.conversation.llm import ChatMessage
from papo.conversation.phrases import CHECK_IN
from papo.conversation.runtime import ConversationState
from papo.conversation.speech_output import SpeechOutput
from papo.conversation.turn import HeardTurn
from papo.service import PipelineState, VoiceService
from papo.settings import Settings, load_settings
from papo.speech.stt import Transcript
from papo.speech.tts import CachedVoice
from papo.store import Store
from papo.system.logging import configure_logging
from support.fakes import NullSpeaker
from support.pipeline_fakes import BlockSource, BlockTranscriber, FakeEngine

REPLY = "Que bom ouvir você."


class KeptPhrases(AudioCache):
    """The phrase cache, in memory, saying which phrases were put in it."""

    def __init__(self) -> None:
        super().__init__(None, "tts")
        self.put_count = 0

    def put(self, key: bytes, samples: npt.NDArray[np.float32]) -> None:
        self.put_count += 1


class RecordingVoice:
    """A Voice that keeps what it was asked to say and returns a little silence."""

    name = "fake-voice"
    rate = 16_000

    def __init__(self) -> None:
        self.said: list[str] = []
        self._lock = threading.Lock()

    def synthesize(self, text: str) -> npt.NDArray[np.float32]:
        with self._lock:
            self.said.append(text)
        return np.zeros(160, np.float32)


class ScriptedChat:
    """A ChatClient that answers REPLY and keeps every prompt it was given."""

    model = "fake-llm"

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def stream(self, messages: list[ChatMessage], max_tokens: int, temperature: float, **_: object) -> Iterator[str]:
        self.prompts.append(" ".join(str(m) for m in messages))
        yield REPLY


@dataclass
class Rig:
    """A companion on fakes, the store it writes to and what it said."""

    settings: Settings
    store: Store
    companion: Companion
    voice: RecordingVoice
    llm: ScriptedChat
    phrases: KeptPhrases

    def runtime(self) -> Any:
        """A stand-in for the ConversationRuntime the daemon gives the VoiceService."""
        return SimpleNamespace(status=SimpleNamespace(state=ConversationState.READY), companion=self.companion)

    def run(self, sentences: Sequence[str], companion: bool = True) -> VoiceService:
        """Play the sentences into a real VoiceService until the fake microphone runs out."""
        engine = FakeEngine(self.settings, Path("unused.onnx"), BlockTranscriber(sentences), 0.0)
        service: VoiceService

        def open_source() -> BlockSource:
            return BlockSource(len(sentences), service.stop)

        service = VoiceService(
            self.settings, self.store, open_source, lambda _: engine, self.runtime() if companion else None
        )
        asyncio.run(asyncio.wait_for(service.run(), timeout=20))
        assert service.status.state is PipelineState.STOPPED, service.status
        return service


@pytest.fixture
def rig(state_dir: Path) -> Iterator[Callable[..., Rig]]:
    opened: list[Rig] = []

    def build(**settings: Any) -> Rig:
        conversation = {"crew": False, "review_after_idle_s": 0, **settings.pop("conversation", {})}
        loaded = load_settings(conversation=conversation, **settings)
        store = Store(loaded.store_path, loaded.device_id, 300)
        voice = RecordingVoice()
        llm = ScriptedChat()
        phrases = KeptPhrases()
        output = SpeechOutput(CachedVoice(voice, phrases), NullSpeaker())
        crew = CrewRuntime("http://127.0.0.1:9/v1", "none", enabled=False)
        companion = Companion(loaded, store, output, lambda: llm, lambda: None, crew)
        built = Rig(loaded, store, companion, voice, llm, phrases)
        opened.append(built)
        return built

    yield build
    for built in opened:
        built.companion.close()
        built.store.close()


@pytest.fixture
def service_log(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], str]]:
    """The log as the daemon writes it at info level (papo's handler and its filter), read back as text."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging("info")
    yield lambda: capsys.readouterr().err
    root.handlers[:] = handlers
    root.setLevel(level)


def _state_files_mention(state_dir: Path, word: str) -> list[str]:
    """The files under the state directory whose bytes contain `word` (SQLite, its WAL, anything)."""
    needle = word.encode()
    return [str(p) for p in state_dir.rglob("*") if p.is_file() and needle in p.read_bytes()]


NOVELA = "A novela de hoje foi boa demais, a Carminha apareceu."
FALL = "Socorro, eu caí no corredor!"
ANSWER = "Estou bem, foi só um susto com a Carminha."


def test_unaddressed_speech_is_dropped_a_sign_is_checked_in_and_the_answer_is_kept(
    rig: Callable[..., Rig], state_dir: Path, service_log: Callable[[], str]
) -> None:
    papo = rig()
    service = papo.run([NOVELA, FALL, ANSWER])
    assert service.status.utterances == 3
    turns = list(reversed(papo.store.turns.recent(10)))
    assert [(t.role, t.text) for t in turns] == [
        ("companion", CHECK_IN["pt"]), ("person", ANSWER), ("companion", REPLY),
    ]  # fmt: skip
    check_in, answer, reply = turns
    assert check_in.reply_to is None and reply.reply_to == answer.id
    (event,) = papo.store.wellbeing.all()
    assert (event.kind, event.severity, event.source) == ("emergency", "critical", "rules")
    assert event.evidence == "socorro" and event.turn_id is None  # the matched phrase only, no turn
    outbox = papo.store.outbox.pending(100, set())
    # the answer «estou bem» ends the alert's check-ins: "wellbeing_ok" tells the cloud (issue 14)
    assert sorted(item.kind for item in outbox) == ["turn", "turn", "turn", "wellbeing", "wellbeing_ok"]
    assert CHECK_IN["pt"] in papo.voice.said and REPLY in papo.voice.said
    assert not any("novela" in prompt or "corredor" in prompt for prompt in papo.llm.prompts)
    papo.store.close()
    for word in ("novela", "corredor"):  # not a byte of the dropped speech in any file
        assert _state_files_mention(state_dir, word) == [], word
    log = service_log()
    assert log.count("event=heard") == 3 and "addressed=False kept=False" in log
    assert "check_in=True" in log
    for word in ("novela", "Carminha", "corredor", "Socorro", "susto", "Que bom"):
        assert word not in log, word


def test_unaddressed_speech_without_a_sign_gets_no_answer(rig: Callable[..., Rig]) -> None:
    papo = rig()
    papo.run([NOVELA])
    assert papo.store.turns.count() == 0 and papo.store.outbox.pending(10, set()) == []
    assert papo.voice.said == [] and papo.llm.prompts == []


def test_speech_naming_papo_is_kept_and_answered(rig: Callable[..., Rig]) -> None:
    papo = rig()
    papo.run(["Papo, hoje eu fiz um bolo de fubá."])
    assert [t.role for t in reversed(papo.store.turns.recent(5))] == ["person", "companion"]
    assert papo.voice.said == [REPLY]


def test_keep_unaddressed_keeps_every_utterance_but_answers_only_with_a_check_in(rig: Callable[..., Rig]) -> None:
    papo = rig(privacy={"keep_unaddressed": True})
    papo.run([NOVELA, FALL])
    turns = list(reversed(papo.store.turns.recent(10)))
    assert [(t.role, t.text) for t in turns] == [
        ("person", NOVELA), ("person", FALL), ("companion", CHECK_IN["pt"]),
    ]  # fmt: skip
    (event,) = papo.store.wellbeing.all()
    assert event.turn_id == turns[1].id and event.evidence == "socorro"
    assert turns[2].reply_to == turns[1].id


def test_without_a_companion_the_wake_words_alone_decide(rig: Callable[..., Rig]) -> None:
    papo = rig()
    papo.run(["Papo, que horas são?", NOVELA], companion=False)
    assert [t.text for t in papo.store.turns.recent(5)] == ["Papo, que horas são?"]
    assert papo.voice.said == []


def test_the_follow_up_window_counts_from_when_the_person_began_speaking(rig: Callable[..., Rig]) -> None:
    papo = rig(conversation={"follow_up_s": 5})
    companion = papo.companion
    assert not companion.addressed("e a novela?")
    companion.respond(HeardTurn("Papo, bom dia", "test"))  # a reply: the window opens
    now = time.monotonic()
    assert companion.addressed("e a novela?", began=now)
    assert companion.addressed("e a novela?", began=now - 60)  # begun while the reply was being said
    assert not companion.addressed("e a novela?", began=now + 6)
    assert companion.addressed("Papo, e a novela?", began=now + 600)


def test_a_check_in_claims_no_action() -> None:
    for phrase in CHECK_IN.values():
        assert phrase.rstrip().endswith("?")
        assert not any(claim in phrase.lower() for claim in ("avis", "família", "family", "let", "called", "liguei"))


def test_the_early_reply_is_never_prepared_for_unaddressed_speech_nor_cached(rig: Callable[..., Rig]) -> None:
    papo = rig()
    anticipator = papo.companion.anticipator
    for text, prepared in ((NOVELA, False), ("Papo, hoje eu fiz um bolo de fubá.", True)):
        future: Future[Transcript | None] = Future()
        future.set_result(Transcript(text, "pt", 0.01, -0.2, 1.2, "short", 1.0))
        anticipator.on_pause(future)
        taken = anticipator.take(text, timeout_s=5)
        assert (taken is not None) is prepared, text
        if taken is not None:
            taken.close()
    assert len(papo.llm.prompts) == 1 and "bolo" in papo.llm.prompts[0]
    assert papo.voice.said == [REPLY] and papo.phrases.put_count == 0  # voiced straight, not cached
