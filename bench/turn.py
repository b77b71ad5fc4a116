"""Benchmark: end of speech → first reply audio, streamed by sentence vs a sequential baseline.

Run: uv run python bench/turn.py [--quick] [--profile pi5|pi4|none]   (about 10 minutes on 2 cores without a
     profile; generated speech is cached)

Twenty generated pt-BR utterances are fed at real-time pace through the pipeline (Silero VAD → Whisper →
companion). Streamed: the daemon's path (the first sentence is voiced while the LLM still writes the rest).
Sequential baseline, in the same run, on the same models and prompt: the whole LLM answer, then the whole TTS, then
play. Both with a scripted OpenAI-compatible endpoint (to isolate our pipeline: 100 ms to the first token, 20 ms per
word) and with the embedded default model (Qwen2.5-Coder-0.5B Q4 on llama.cpp). Audio goes to a recorder: the
time is when the first audio is handed to playback.

`--profile pi5` (or pi4) runs it all in a CPU envelope standing in for the board (bench/envelope.py: a proxy, not
a board); the last JSON line then adds `pi5_first_audio_p50_s` and `pi5_speedup_vs_sequential` for the embedded
model. The streamed path starts the answer at a pause only when the CPU budget has room (papo.system.cpu_budget).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from envelope import PROFILES, enter
from papo.audio.recorder import RecordingSpeaker
from papo.conversation.llm import LlmUnavailableError
from papo.conversation.runtime import ConversationRuntime
from papo.conversation.turn import HeardTurn
from papo.engine import SpeechEngine, load_engine
from papo.listener import Listener, PauseObserver, PendingUtterance, hear_recording
from papo.settings import Settings, load_settings
from papo.speech.tts import load_voice
from papo.speech.voicegen import with_silence
from papo.store import Store
from stt import Clip, generated_clips
from support.scripted_llm import Script, ScriptedLlm

SCRIPTED_REPLY = "Que coisa boa de ouvir! Conte mais um pouco para mim. O que a senhora achou disso tudo?"
TurnTimer = Callable[[SpeechEngine, ConversationRuntime, Store, PendingUtterance], "Stages | None"]


def _feed(
    engine: SpeechEngine, clip: Clip, on_utterance: Callable[[PendingUtterance], None], observer: PauseObserver | None
) -> None:
    stream = np.concatenate((with_silence([clip.audio], gap_s=0, lead_s=0.4), np.zeros(8000, np.float32)))
    with ThreadPoolExecutor(1, thread_name_prefix="stt") as executor:
        listener = Listener(engine.endpointer(), engine.transcriber, executor, observer=observer)
        for pending in hear_recording(listener, stream, realtime=True):
            pending.result()
            on_utterance(pending)  # as the daemon does: answered as soon as it ends


@dataclass
class Stages:
    """Seconds from the end of speech to the transcript, the LLM's first token and the first reply audio."""

    text_s: float | None
    first_token_s: float | None
    first_audio_s: float


def _text_s(pending: PendingUtterance) -> float | None:
    return None if pending.eos_to_text_ms is None else pending.eos_to_text_ms / 1000


def _streamed(
    engine: SpeechEngine, runtime: ConversationRuntime, store: Store, pending: PendingUtterance
) -> Stages | None:
    new = engine.heard(pending)
    if new is None:
        return None
    heard = HeardTurn.stored(store.turns.record(new, "bench"), "bench", pending.eos_monotonic)
    outcome = runtime.companion.respond(heard)
    if outcome.first_audio_ms is None or outcome.fallback:
        return None
    first_token = None if outcome.first_token_ms is None else outcome.first_token_ms / 1000
    return Stages(_text_s(pending), first_token, outcome.first_audio_ms / 1000)


def _sequential(
    engine: SpeechEngine, runtime: ConversationRuntime, store: Store, pending: PendingUtterance
) -> Stages | None:
    transcript = pending.result()
    if transcript is None:
        return None
    settings = runtime.settings
    assert runtime.llm is not None
    messages = runtime.companion.model_prompt(transcript.text)  # the streamed path's prompt, memories and all
    if messages is None:
        return None
    pieces = runtime.llm.stream(messages, settings.llm.max_tokens, settings.llm.temperature)
    try:
        first = next(pieces, "")
        first_token_s = time.monotonic() - pending.eos_monotonic
        answer = first + "".join(pieces)
    except LlmUnavailableError as exc:  # as the streamed path's fallback answers: counted out of the timings
        print(f"language model unavailable (sequential): {exc}", file=sys.stderr, flush=True)
        return None
    voice = runtime.companion.output.voice
    audio = voice.voice.synthesize(answer)
    RecordingSpeaker().play(audio, voice.rate)
    return Stages(_text_s(pending), first_token_s, time.monotonic() - pending.eos_monotonic)


def _measure(
    engine: SpeechEngine, settings: Settings, clips: list[Clip], timer: TurnTimer
) -> tuple[list[Stages], ConversationRuntime]:
    with tempfile.TemporaryDirectory() as scratch:
        store = Store(Path(scratch) / "bench.sqlite3", "bench", 300)
        runtime = ConversationRuntime(settings, store, RecordingSpeaker(), None)
        runtime.start(wait_for_crew=True)
        results: list[Stages] = []

        def on_utterance(pending: PendingUtterance) -> None:
            value = timer(engine, runtime, store, pending)
            if value is not None:
                results.append(value)

        try:
            for clip in clips:
                _feed(engine, clip, on_utterance, runtime.companion.pause_observer if timer is _streamed else None)
        finally:
            rss = _rss_mb("self"), _rss_mb(str(runtime.llm_server_pid)) if runtime.llm_server_pid else 0.0
            _RSS.append(rss)
            runtime.close()
            store.close()
    return results, runtime


_RSS: list[tuple[float, float]] = []


def _rss_mb(pid: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _tts_rtf(base: Settings, sentences: list[str]) -> dict[str, float]:
    """Seconds of synthesis per second of speech, per engine (after one warm-up sentence)."""
    rtf: dict[str, float] = {}
    for engine, language in (("espeak", "pt"), ("kokoro", "pt"), ("piper", "en")):
        settings = base.model_copy(update={"tts": base.tts.model_copy(update={"engine": engine})})
        voice = load_voice(settings, language)
        voice.synthesize(sentences[0])
        spent = audio = 0.0
        for sentence in sentences:
            started = time.perf_counter()
            samples = voice.synthesize(sentence)
            spent += time.perf_counter() - started
            audio += len(samples) / voice.rate
        rtf[voice.name] = spent / audio
    return rtf


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _p50(values: Iterable[float | None]) -> str:
    known = [value for value in values if value is not None]
    return f"{statistics.median(known):.3f}" if known else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="5 utterances instead of 20 (a smoke run)")
    parser.add_argument("--tts-only", action="store_true", help="only the TTS real-time factors")
    parser.add_argument(
        "--profile", choices=PROFILES, default="none", help="run in the CPU envelope of a board (bench/envelope.py)"
    )
    parser.add_argument(
        "--no-anticipation", action="store_true", help="the streamed path without starting the answer at a pause"
    )
    args = parser.parse_args()
    envelope = enter(args.profile)
    print(envelope.describe(), flush=True)
    state = Path.home() / ".cache" / "papo-bench"
    base = load_settings(state_dir=state)
    lines = (Path(__file__).parent / "conversation_pt.txt").read_text(encoding="utf-8").splitlines()[:8]
    rtf = _tts_rtf(base, lines)
    print("TTS real-time factor (synthesis time / speech time, 8 sentences; < 1 is faster than speaking)")
    for name, value in rtf.items():
        print(f"  {name:28} {value:6.3f}")
    if args.tts_only:
        return
    (state / "speech").mkdir(parents=True, exist_ok=True)
    print("generating speech (cached after the first run)...", file=sys.stderr, flush=True)
    clips = generated_clips(base, state / "speech", "pt-br", "conversation_pt.txt")[: 5 if args.quick else None]
    engine = load_engine(base)
    scripted = ScriptedLlm(default=Script(text=SCRIPTED_REPLY, first_token_delay_s=0.1, piece_delay_s=0.02)).start()
    conversation = {"wake_words": [], "anticipate": not args.no_anticipation}
    modes = {
        "scripted": load_settings(
            state_dir=state, llm={"endpoint": scripted.url, "model": "scripted"}, conversation=conversation
        ),
        "embedded": load_settings(state_dir=state, llm={"max_tokens": 60}, conversation=conversation),
    }
    rows: dict[str, dict[str, list[float]]] = {}
    stages: dict[str, dict[str, list[Stages]]] = {}
    try:
        for mode, settings in modes.items():
            rows[mode], stages[mode] = {}, {}
            for name, timer in (("streamed", _streamed), ("sequential", _sequential)):
                print(f"{mode} endpoint, {name}: {len(clips)} utterances in real time...", file=sys.stderr, flush=True)
                stages[mode][name], _ = _measure(engine, settings, clips, timer)
                rows[mode][name] = [stage.first_audio_s for stage in stages[mode][name]]
    finally:
        scripted.close()
    print(f"\nEnd of speech → first reply audio, {len(clips)} generated pt-BR utterances (seconds)")
    print(f"{'endpoint':10} {'path':11} {'n':>3} {'p50':>7} {'p95':>7} {'ratio p50 (seq / streamed)':>28}")
    for mode, paths in rows.items():
        streamed_p50 = statistics.median(paths["streamed"])
        for name, values in paths.items():
            ratio = statistics.median(values) / streamed_p50 if name == "sequential" else 1.0
            print(f"{mode:10} {name:11} {len(values):>3} {statistics.median(values):7.3f} {_p(values, 0.95):7.3f} "
                  f"{ratio:28.2f}")  # fmt: skip
    print("\nWhere the time goes, p50 from the end of speech (seconds)")
    print(f"{'endpoint':10} {'path':11} {'transcript':>11} {'first token':>12} {'first audio':>12}")
    for mode, staged in stages.items():
        for name, timed in staged.items():
            print(f"{mode:10} {name:11} {_p50(s.text_s for s in timed):>11} "
                  f"{_p50(s.first_token_s for s in timed):>12} {_p50(s.first_audio_s for s in timed):>12}")  # fmt: skip
    papo_rss = max(r[0] for r in _RSS)
    llm_rss = max(r[1] for r in _RSS)
    print(f"\nRSS: papo process (speech models, companion, CrewAI loaded) {papo_rss:.0f} MB; "
          f"embedded llama.cpp server {llm_rss:.0f} MB")  # fmt: skip
    scripted_rows = rows["scripted"]
    result = {
        "first_audio_p50_s": round(statistics.median(scripted_rows["streamed"]), 3),
        "first_audio_p95_s": round(_p(scripted_rows["streamed"], 0.95), 3),
        "speedup_vs_sequential": round(
            statistics.median(scripted_rows["sequential"]) / statistics.median(scripted_rows["streamed"]), 2
        ),
        "rss_mb": round(papo_rss + llm_rss, 1),
        "embedded_first_audio_p50_s": round(statistics.median(rows["embedded"]["streamed"]), 3),
        "embedded_speedup_vs_sequential": round(
            statistics.median(rows["embedded"]["sequential"]) / statistics.median(rows["embedded"]["streamed"]), 2
        ),
    }
    if args.profile != "none":
        result |= {
            f"{args.profile}_first_audio_p50_s": result["embedded_first_audio_p50_s"],
            f"{args.profile}_speedup_vs_sequential": result["embedded_speedup_vs_sequential"],
            f"{args.profile}_quota_percent": envelope.quota_percent,
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
