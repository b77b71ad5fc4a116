"""`papo demo`: every model prepared first (with progress), then a short spoken conversation with the companion.

Three sentences are voiced by a synthetic voice (Kokoro, else espeak-ng) and played into the pipeline as if someone
said them to Papo: something about the person's day, a question that needs what was said, and the time. Each is
heard (VAD, speech-to-text), stored and answered as the daemon does (the answer started at the person's pause); the
timings printed are the live path's only, from the end of speech: the models and the language model are ready
before the first sentence is played.
"""

from __future__ import annotations

import sys
import time

from papo.audio import SAMPLE_RATE
from papo.audio.recorder import RecordingSpeaker
from papo.commands.output import say
from papo.commands.talk import demo_speech, keep_heard
from papo.conversation.embedded import EMBEDDED
from papo.conversation.turn import HeardTurn, TurnOutcome
from papo.errors import PapoError
from papo.listener import PendingUtterance, hear_recording
from papo.models.inventory import VAD_MODEL
from papo.models.manifest import ModelEntry, load_manifest
from papo.models.provision import installed, provision
from papo.settings import Settings
from papo.speech.tts import PIPER_MODELS
from papo.wiring import Wiring

CONVERSATION = (
    "Papo, hoje eu acordei cedo e fui caminhar na praça com a minha vizinha.",
    "Com quem eu fui caminhar hoje de manhã?",
    "E que horas são agora?",
)
MEMORY_MODEL = "minilm-l6-v2-int8"
VOICEGEN_MODEL = "kokoro-82m"


def needed_models(settings: Settings) -> list[ModelEntry]:
    """The models the demo uses: VAD, speech-to-text, the embedded LLM, memory, the reply voice, the sample voice."""
    manifest = load_manifest()
    names = [VAD_MODEL, settings.stt.model, MEMORY_MODEL]
    if settings.llm.endpoint == EMBEDDED:
        names.append(settings.llm.model)
    if settings.tts.engine == "piper":
        names.append(settings.tts.voice or PIPER_MODELS.get(settings.conversation.language, ""))
    entries = [manifest.get(name) for name in dict.fromkeys(n for n in names if n)]
    kokoro = manifest.get(VOICEGEN_MODEL)
    if settings.tts.engine == "kokoro" or installed(kokoro):  # the sample's voice (espeak-ng's own otherwise)
        entries.append(kokoro)
    return entries


def prepare_models(settings: Settings) -> None:
    """Assemble and verify every model the demo needs, one progress line each."""
    entries = needed_models(settings)
    for index, entry in enumerate(entries, 1):
        size_mb = sum(f.size for f in entry.files) / 1e6
        print(f"[{index}/{len(entries)}] preparing {entry.name} ({entry.kind}, {size_mb:.0f} MB)...", end=" ",
              flush=True)  # fmt: skip
        started = time.perf_counter()
        provision(entry, settings.models_dir)
        print(f"ready ({time.perf_counter() - started:.1f} s)", flush=True)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def _report(pending: PendingUtterance, heard: str, outcome: TurnOutcome, name: str) -> None:
    transcript = pending.result()
    stt_ms = 0.0 if transcript is None else transcript.stt_ms
    say(f"  heard:    “{heard}”")
    say(f"  {name}: “{outcome.reply or '(nothing)'}”")
    say(
        f"  timings from the end of speech: text {_ms(pending.eos_to_text_ms)} (VAD {pending.utterance.vad_ms:.0f} ms, "
        f"speech-to-text {stt_ms:.0f} ms), first word {_ms(outcome.first_token_ms)}, "
        f"first audio {_ms(outcome.first_audio_ms)}" + (" (fallback: no language model)" if outcome.fallback else "")
    )


def conversation_demo(settings: Settings, fast: bool) -> int:
    """Prepare the models, start the companion, then play the three sentences and print what happened."""
    say(f"Papo Social demo — state directory {settings.state_dir}")
    started = time.perf_counter()
    prepare_models(settings)
    with Wiring(settings) as parts:
        engine = parts.engine()
        say(f"speech models loaded in {engine.load_ms / 1000:.1f} s: {engine.stt_model}, {engine.vad_model}")
        speaker = parts.speaker()
        recorder = None
        if isinstance(speaker, RecordingSpeaker):  # no speaker here: keep the replies in a WAV file instead
            speaker = recorder = parts.recorder()
        runtime = parts.conversation(speaker)
        print("starting the companion (language model, memory)...", file=sys.stderr, flush=True)
        runtime.start(wait_for_crew=False)
        status = runtime.status
        say(f"companion ready in {(status.load_ms or 0) / 1000:.1f} s: {status.llm_model}, voice {status.voice}")
        companion = runtime.companion
        store = parts.store()
        listener = parts.listener(speculative=not fast, observer=None if fast else companion.pause_observer)
        name = settings.conversation.companion_name
        answered = 0
        for number, sentence in enumerate(CONVERSATION, 1):
            samples, _ = demo_speech(parts, sentence)
            say(f"\n{number}. playing {len(samples) / SAMPLE_RATE:.1f} s of speech: “{sentence}”")
            for pending in hear_recording(listener, samples, realtime=not fast):
                turn = keep_heard(store, parts, pending, "demo")
                if turn is None:
                    continue
                outcome = companion.respond(HeardTurn.stored(turn, "demo", pending.eos_monotonic))
                _report(pending, turn.text, outcome, name)
                answered += 1
        if answered == 0:
            raise PapoError("the demo heard nothing; run `papo models verify` and try `papo demo -v`")
        if recorder is not None:
            path = settings.state_dir / "demo-reply.wav"
            seconds = recorder.write(path)
            say(f"\n(no speaker here: the spoken replies, {seconds:.1f} s, are in {path})")
    say(f"total {time.perf_counter() - started:.1f} s")
    return 0
