"""The companion against a scripted OpenAI-compatible server (a real HTTP server on loopback), and the real LLM."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest

from papo.audio.recorder import RecordingSpeaker
from papo.conversation.phrases import CHECK_IN, FALLBACK
from papo.conversation.runtime import ConversationRuntime, ConversationState
from papo.conversation.turn import HeardTurn
from papo.settings import Settings, load_settings
from papo.speech.stt import Transcript
from papo.store import NewTurn, Store
from support.ports import free_port
from support.scripted_llm import Script, ScriptedLlm, when_any_contains
from support.wait import wait_until

pytestmark = pytest.mark.models  # the companion opens its memory (the ONNX embedding model); some use the GGUF LLM

REVIEW = Script(
    text='Thought: I noted it.\nFinal Answer: {"facts": ["A neta da pessoa se chama Júlia e mora em Campinas"], '
    '"concern": "none"}'
)
Factory = Callable[..., tuple[ConversationRuntime, RecordingSpeaker, Store]]


@pytest.fixture
def scripted() -> Iterator[ScriptedLlm]:
    llm = ScriptedLlm(rules=[when_any_contains("Memory keeper", REVIEW)]).start()
    yield llm
    llm.close()


@pytest.fixture
def companion_factory(state_dir: Path) -> Iterator[Factory]:
    opened: list[tuple[ConversationRuntime, Store]] = []

    def build(
        endpoint: str, crew: bool = False, wake_words: tuple[str, ...] = ("papo",), **llm: object
    ) -> tuple[ConversationRuntime, RecordingSpeaker, Store]:
        settings = load_settings(
            llm={"endpoint": endpoint, "model": "scripted", **llm},
            conversation={"crew": crew, "wake_words": list(wake_words)},
        )
        store = Store(settings.store_path, settings.device_id, 300)
        speaker = RecordingSpeaker()
        runtime = ConversationRuntime(settings, store, speaker, None)
        runtime.start(wait_for_crew=True)
        opened.append((runtime, store))
        return runtime, speaker, store

    yield build
    for runtime, store in opened:
        runtime.close()
        store.close()


def _person(store: Store, text: str) -> HeardTurn:
    row = store.turns.record(
        NewTurn(text=text, language="pt", audio_start_s=0, audio_end_s=1, audio_duration_s=1, stt_model="test",
                stt_window="short", vad_model="test"),
        "test",
    )  # fmt: skip
    return HeardTurn.stored(row, "test", time.monotonic())


def test_memory_from_turn_one_is_in_the_prompt_of_turn_three_after_a_restart(
    scripted: ScriptedLlm, companion_factory: Factory
) -> None:
    runtime, _, store = companion_factory(scripted.url, crew=True)
    assert runtime.crew.state.value == "ready"
    first = runtime.companion.respond(_person(store, "Minha neta se chama Júlia, ela mora em Campinas."))
    assert first.reply == "Que bom ouvir você! Conte mais."
    runtime.close()  # waits for the post-turn crew review
    store.close()
    with Store(store.path, "papo-local", 300) as reopened:
        memories = reopened.memories.all()
    assert [(m.kind, m.text) for m in memories] == [("fact", "A neta da pessoa se chama Júlia e mora em Campinas")]

    runtime, _, store = companion_factory(scripted.url)  # a restart: new process state, same state dir
    runtime.companion.respond(_person(store, "Bom dia, hoje está calor."))
    runtime.companion.respond(_person(store, "Como é mesmo o nome da minha neta?"))
    reply_prompts = [p for p in scripted.prompts() if "Memory keeper" not in p]
    assert "Júlia e mora em Campinas" in reply_prompts[-1]
    assert "Como é mesmo o nome da minha neta?" in reply_prompts[-1]


def test_a_reminder_is_created_confirmed_and_spoken_when_due(scripted: ScriptedLlm, companion_factory: Factory) -> None:
    runtime, speaker, store = companion_factory(scripted.url)
    outcome = runtime.companion.respond(_person(store, "Papo, me lembra de beber água daqui a dois segundos."))
    assert outcome.reminder is not None and outcome.reminder.what == "beber água"
    assert outcome.reply is not None and "beber água" in outcome.reply
    assert scripted.requests == []  # confirmed without the LLM
    records = store.reminders
    (pending,) = records.all()
    speaker.take()
    wait_until(lambda: runtime.companion.speak_due_reminders() > 0, 15, "the reminder to fire")
    (spoken,) = records.all(include_done=True)
    assert spoken.id == pending.id and spoken.status == "spoken" and spoken.spoken_at is not None
    assert len(speaker.take()) > speaker.rate  # more than a second of speech
    assert records.all() == []


@pytest.mark.parametrize(
    ("text", "kind", "severity"),
    [
        ("Socorro, caí no banheiro e não consigo levantar!", "emergency", "critical"),
        ("Estou passando mal, com muita tontura.", "unwell", "high"),
        ("Me sinto muito sozinha esses dias.", "loneliness", "low"),
    ],
)
def test_distress_raises_a_wellbeing_event_with_the_llm_down(
    companion_factory: Factory, text: str, kind: str, severity: str
) -> None:
    runtime, speaker, store = companion_factory(f"http://127.0.0.1:{free_port()}/v1", first_token_timeout_s=1.0)
    outcome = runtime.companion.respond(_person(store, text))
    assert outcome.wellbeing is not None
    assert (outcome.wellbeing.kind, outcome.wellbeing.severity.value) == (kind, severity)
    (event,) = store.wellbeing.all()
    assert (event.kind, event.severity, event.source) == (kind, severity, "rules")
    assert [item.kind for item in store.outbox.pending(10, set())].count("wellbeing") == 1  # queued for the cloud
    assert outcome.reply  # something caring was said even with the LLM down
    assert len(speaker.take()) > 0


def test_the_fallback_answer_when_the_endpoint_times_out(scripted: ScriptedLlm, companion_factory: Factory) -> None:
    scripted.default = Script(text="Tarde demais.", first_token_delay_s=3.0)
    runtime, speaker, store = companion_factory(scripted.url, first_token_timeout_s=0.5)
    outcome = runtime.companion.respond(_person(store, "O que você acha de um cafezinho agora?"))
    assert outcome.fallback and outcome.reply == FALLBACK["pt"]
    assert len(speaker.take()) > 0
    stored = store.turns.recent(2)
    assert [(t.role, t.llm_model) for t in stored] == [("companion", "fixed"), ("person", None)]
    assert stored[0].reply_to == stored[1].id


def test_the_reply_is_streamed_by_sentence_and_timed(scripted: ScriptedLlm, companion_factory: Factory) -> None:
    scripted.default = Script(
        text="Que bom que a senhora caminhou hoje. Caminhar faz muito bem! Amanhã vai fazer sol também?",
        piece_delay_s=0.15,
    )
    runtime, _, store = companion_factory(scripted.url)
    outcome = runtime.companion.respond(_person(store, "Hoje eu caminhei na praça."))
    assert outcome.spoken_sentences == [
        "Que bom que a senhora caminhou hoje.", "Caminhar faz muito bem!", "Amanhã vai fazer sol também?",
    ]  # fmt: skip
    assert outcome.first_token_ms is not None and outcome.first_audio_ms is not None
    # the first sentence was spoken while the rest was still being written (15 pieces, 0.15 s apart)
    assert outcome.first_audio_ms < outcome.first_token_ms + 1000 * 0.15 * 10
    (reply, _) = store.turns.recent(2)
    assert reply.eos_to_first_token_ms is not None and reply.eos_to_first_audio_ms is not None
    assert reply.tts_voice == "espeak:pt-br:160" and reply.llm_model == "scripted"


def test_garbage_and_empty_transcripts_get_no_reply(scripted: ScriptedLlm, companion_factory: Factory) -> None:
    runtime, speaker, _ = companion_factory(scripted.url)
    for text in ("", "   ", "...", "?!"):
        assert runtime.companion.respond(HeardTurn(text, "test")).reply is None
    assert scripted.requests == [] and len(speaker.take()) == 0


def test_not_addressed_speech_gets_no_reply_but_an_emergency_does(
    scripted: ScriptedLlm, companion_factory: Factory
) -> None:
    runtime, _, store = companion_factory(scripted.url)
    companion = runtime.companion
    assert not companion.addressed("a novela hoje foi boa")
    assert companion.addressed("Papo, a novela hoje foi boa")
    assert companion.respond(_person(store, "a novela hoje foi boa"), addressed=False).reply is None
    overheard = companion.respond(HeardTurn("socorro, me ajudem", "test"), addressed=False)  # dropped: no turn
    assert overheard.reply == CHECK_IN["pt"] and overheard.checked_in  # a question, claiming nothing
    assert companion.addressed("e o que mais?")  # a follow-up right after a reply needs no wake word


def test_a_broken_memory_index_is_rebuilt_from_the_store(scripted: ScriptedLlm, companion_factory: Factory) -> None:
    runtime, _, _ = companion_factory(scripted.url)
    assert runtime.memory is not None
    runtime.memory.remember("O cachorro se chama Bolt", "fact", None)
    runtime.close()
    settings = load_settings()
    (settings.memory_dir / "chroma.sqlite3").write_bytes(b"not a database" * 100)
    runtime, _, _ = companion_factory(scripted.url)
    assert runtime.memory is not None and runtime.memory.count() == 1
    assert runtime.memory.recall("qual o nome do cachorro?", 1) == ["O cachorro se chama Bolt"]
    assert runtime.memory.forget_all() == 1 and runtime.memory.count() == 0


_AUDIT = """
import json, os, sys
def _audit(event, args):
    if event == "socket.connect":
        address = args[1]
        seen = list(address) if isinstance(address, tuple) else str(address)
    elif event == "socket.getaddrinfo":
        seen = ["lookup", str(args[0]), args[1]]
    else:
        return
    with open(os.environ["PAPO_TEST_CONNECTIONS"], "a") as log:
        log.write(json.dumps([os.getpid(), seen]) + "\\n")
sys.addaudithook(_audit)
"""  # sitecustomize: every Python process of the run (papo and its review worker) writes what it connects to

_PROBE = """
import json, os
from papo.audio.recorder import RecordingSpeaker
from papo.conversation.runtime import ConversationRuntime
from papo.conversation.turn import HeardTurn
from papo.settings import load_settings
from papo.store import Store
settings = load_settings()
store = Store(settings.store_path, settings.device_id, 300)
runtime = ConversationRuntime(settings, store, RecordingSpeaker(), None)
runtime.start(wait_for_crew=True)
assert runtime.crew.state.value == "ready", runtime.crew.detail
worker = runtime.crew.worker_pid
outcome = runtime.companion.respond(HeardTurn("Minha neta se chama Júlia e adora bolo de cenoura.", "test"))
runtime.close()
print(json.dumps({"reply": outcome.reply, "worker": worker, "me": os.getpid()}))
"""


def test_no_connection_is_attempted_to_anything_but_the_llm_endpoint(
    scripted: ScriptedLlm, state_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(_AUDIT)
    log = tmp_path / "connections.jsonl"
    env = {
        "PAPO_STATE_DIR": str(state_dir), "PAPO_CONFIG": str(state_dir / "absent.toml"),
        "PAPO_LLM__ENDPOINT": scripted.url, "PAPO_LLM__MODEL": "scripted", "PATH": "/usr/bin:/bin",
        "HOME": str(state_dir), "PYTHONPATH": str(tmp_path / "site"), "PAPO_TEST_CONNECTIONS": str(log),
    }  # fmt: skip
    result = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["reply"]
    assert any(r for r in scripted.requests if "Memory keeper" in json.dumps(r))  # the crew ran, in its worker
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert report["worker"] in {pid for pid, _ in entries}  # the worker's connections were seen too
    assert report["me"] in {pid for pid, _ in entries}
    allowed_hosts = {"127.0.0.1", "localhost"}
    for _, connection in entries:
        if connection[0] == "lookup":
            assert connection[1] in allowed_hosts, connection
        elif isinstance(connection, list):
            assert connection[:2] == ["127.0.0.1", scripted.port], connection


def test_the_embedded_default_model_answers_in_portuguese(state_dir: Path) -> None:
    settings: Settings = load_settings(conversation={"crew": False})
    store = Store(settings.store_path, settings.device_id, 300)
    speaker = RecordingSpeaker()
    runtime = ConversationRuntime(settings, store, speaker, None)
    try:
        runtime.start()
        assert runtime.status.state is ConversationState.READY, runtime.status.detail
        outcome = runtime.companion.respond(
            _person(store, "Bom dia! Hoje eu fui caminhar na praça com a minha vizinha.")
        )
    finally:
        runtime.close()
        store.close()
    assert outcome.reply and not outcome.fallback
    words = set(outcome.reply.lower().replace(",", " ").replace("!", " ").replace("?", " ").replace(".", " ").split())
    assert words & {"você", "que", "é", "de", "muito", "bom", "dia", "como", "a", "o", "e", "para", "sua", "com"}
    assert len(speaker.take()) > speaker.rate // 2


def _transcribed(text: str) -> Future[Transcript | None]:
    future: Future[Transcript | None] = Future()
    future.set_result(Transcript(text, "pt", 0.01, -0.2, 1.2, "short", 100.0))
    return future


def test_the_answer_started_at_a_pause_is_the_one_spoken(scripted: ScriptedLlm, companion_factory: Factory) -> None:
    scripted.default = Script(
        text="Que bom! A feira de sábado é a melhor. O que a senhora comprou?", piece_delay_s=0.05
    )
    runtime, _, store = companion_factory(scripted.url, wake_words=())
    companion = runtime.companion
    said = "Hoje eu fui na feira comprar frutas."
    companion.anticipator.on_pause(_transcribed(said))
    # the pause: while the end of speech is being confirmed, the LLM writes the whole prepared answer
    wait_until(lambda: len(scripted.completed) == 1, 10, "the prepared answer to be written")
    heard = _person(store, said)
    outcome = companion.respond(heard)
    assert len(scripted.requests) == 1  # the prepared answer was used, not asked again
    assert outcome.spoken_sentences == ["Que bom!", "A feira de sábado é a melhor.", "O que a senhora comprou?"]
    assert outcome.first_token_ms == 0.0  # it arrived before the end of speech was confirmed
    assert outcome.first_audio_ms is not None and outcome.first_audio_ms < 500


def test_speech_resuming_after_a_pause_drops_the_prepared_answer(
    scripted: ScriptedLlm, companion_factory: Factory
) -> None:
    runtime, _, store = companion_factory(scripted.url, wake_words=())
    companion = runtime.companion
    companion.anticipator.on_pause(_transcribed("Hoje eu fui na feira"))
    companion.anticipator.on_resume()
    outcome = companion.respond(_person(store, "Hoje eu fui na feira e depois na padaria."))
    assert outcome.reply == "Que bom ouvir você! Conte mais."
    last_prompt = scripted.prompts()[-1]
    assert last_prompt.endswith("Hoje eu fui na feira e depois na padaria.")


def test_no_answer_is_prepared_for_an_emergency_or_a_reminder(
    scripted: ScriptedLlm, companion_factory: Factory
) -> None:
    runtime, _, _ = companion_factory(scripted.url, wake_words=())
    anticipator = runtime.companion.anticipator
    for said in ("Socorro, me ajudem!", "Me lembra de ligar para a Ana às oito."):
        anticipator.on_pause(_transcribed(said))
        assert anticipator.take(said, timeout_s=5) is None
    assert scripted.requests == []


def test_conversation_settings_from_the_fleet_apply_at_once(scripted: ScriptedLlm, companion_factory: Factory) -> None:
    from papo.fleet import changed_keys
    from papo.settings import live_keys

    runtime, _, _ = companion_factory(scripted.url)
    companion = runtime.companion
    assert companion.addressed("Papo, tudo bem?") and not companion.addressed("Lia, tudo bem?")
    conversation = runtime.settings.conversation.model_copy(update={"wake_words": ["lia"], "language": "en"})
    new = runtime.settings.model_copy(update={"conversation": conversation})
    changed = changed_keys(runtime.settings, new)
    assert set(changed) == {"conversation.wake_words", "conversation.language"}
    assert set(changed) & live_keys() == {"conversation.wake_words"}
    companion.apply_settings(new.conversation)
    assert companion.addressed("Lia, tudo bem?") and not companion.addressed("Papo, tudo bem?")
    assert companion.respond(_person_text("Lia, como vai?")).reply == "Que bom ouvir você! Conte mais."


def _person_text(text: str) -> HeardTurn:
    return HeardTurn(text, "test")
