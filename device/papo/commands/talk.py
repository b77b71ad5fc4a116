"""`papo demo`, `papo listen` and `papo say`: speech in, text and answers out.

`papo listen` prints everything it hears but, like the daemon, keeps in the records only what was said to
Papo (unless `privacy.keep_unaddressed`); `papo demo` plays its sample as if said to Papo.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from papo.audio import FRAME_SAMPLES, SAMPLE_RATE
from papo.audio.recorder import RecordingSpeaker
from papo.audio.sources import FrameSource
from papo.audio.wav import read_wav
from papo.commands.output import say as _say
from papo.conversation.speech_output import SpeechOutput
from papo.conversation.turn import Admitted, HeardTurn, TurnOutcome, admit, decide
from papo.errors import PapoError
from papo.listener import Listener, PendingUtterance, hear_recording
from papo.models.manifest import load_manifest
from papo.models.provision import installed, provision
from papo.settings import Settings
from papo.speech.tts import Speaker
from papo.speech.wordcheck import content_word_recall
from papo.store import Store, Turn
from papo.wiring import Wiring

if TYPE_CHECKING:
    from papo.conversation.runtime import ConversationRuntime

DEMO_SAMPLE = "demo-pt-BR.wav"


def demo_speech(parts: Wiring, text: str | None) -> tuple[npt.NDArray[np.float32], str]:
    """`text` voiced by a synthetic voice (Kokoro, else espeak-ng; cached), or the built-in sample; and its words."""
    if text is None:
        assets = resources.files("papo") / "assets"
        expected = (assets / "demo-pt-BR.txt").read_text(encoding="utf-8").strip()
        with resources.as_file(assets / DEMO_SAMPLE) as path:
            return read_wav(path).samples, expected
    from papo.speech.voicegen import KokoroVoice, espeak_voice, with_silence

    kokoro = load_manifest().get("kokoro-82m")
    engine = "kokoro" if installed(kokoro) else "espeak-ng"
    phrases = parts.audio_cache("voicegen")
    key = phrases.key(engine, "pt-br", text)
    speech = phrases.get(key)
    if speech is None:
        if engine == "kokoro":
            speech = KokoroVoice(provision(kokoro, parts.settings.models_dir)).synthesize(text)
        else:
            _say("(the Kokoro voice is not installed: using espeak-ng's own voice, which is harder to understand)")
            speech = espeak_voice(text)
        phrases.put(key, speech)
    return with_silence([speech], gap_s=0.0, lead_s=0.6), text


def demo(settings: Settings, text: str | None, fast: bool, reply: bool = True) -> int:
    """Take a pt-BR sentence through VAD, STT and the store, printing what was heard and the timings."""
    _say(f"Papo Social demo — state directory {settings.state_dir}")
    started = time.perf_counter()
    with Wiring(settings) as parts:
        engine = parts.engine()
        _say(
            f"models ready in {engine.load_ms / 1000:.1f} s: speech-to-text {engine.stt_model}, VAD {engine.vad_model}"
        )
        samples, expected = demo_speech(parts, text)
        store = parts.store()
        turns_before = store.turns.count()
        pace = "as fast as possible" if fast else "at normal speaking speed"
        _say(f"playing a {len(samples) / SAMPLE_RATE:.1f} s sample {pace}: “{expected}”")
        heard: list[HeardTurn] = []
        for pending in hear_recording(parts.listener(speculative=not fast), samples, realtime=not fast):
            turn = keep_heard(store, parts, pending, "demo")
            transcript = pending.result()
            if turn is None or transcript is None:
                continue
            heard.append(HeardTurn.stored(turn, "demo", pending.eos_monotonic))
            latency = "" if fast else f", end of speech → text {pending.eos_to_text_ms or 0:.0f} ms"
            _say(
                f"heard [{pending.utterance.start_s:.2f}–{pending.utterance.end_s:.2f} s]: “{turn.text}”\n"
                f"  timings: VAD {pending.utterance.vad_ms:.0f} ms, speech-to-text {transcript.stt_ms:.0f} ms "
                f"({transcript.window} window){latency}"
            )
        if not heard:
            raise PapoError("the demo heard nothing; run `papo models verify` and try `papo demo -v`")
        recall = content_word_recall(expected, " ".join(t.text for t in heard))
        _say(f"content words recovered: {recall:.0%}")
        if reply:
            _demo_reply(parts, heard)
        stored = store.turns.count() - turns_before
    _say(f"stored {stored} turn(s) in {settings.store_path}; total {time.perf_counter() - started:.1f} s")
    return 0


def keep_heard(store: Store, parts: Wiring, pending: PendingUtterance, source: str) -> Turn | None:
    """Store one utterance of the demo (its sample is said to Papo); None when it held no words."""
    new = parts.engine().heard(pending)
    return None if new is None else store.turns.record(new, source)


def _demo_reply(parts: Wiring, heard: list[HeardTurn]) -> None:
    speaker = parts.speaker()
    recorder = None
    if isinstance(speaker, RecordingSpeaker):  # no speaker here: keep the reply in a WAV file instead
        speaker = recorder = parts.recorder()
    runtime = _started(parts, speaker, wait_for_crew=False)
    _say(f"companion ready: {runtime.status.llm_model} at {runtime.status.llm_url}, voice {runtime.status.voice}")
    for turn in heard:
        outcome = runtime.companion.respond(turn)
        _say(f"companion: “{outcome.reply or ''}”")
        _say(
            f"  timings from the end of speech: first word {_ms(outcome.first_token_ms)}, "
            f"first audio {_ms(outcome.first_audio_ms)}"
            + (" (fallback: the language model did not answer)" if outcome.fallback else "")
        )
    if recorder is not None:
        path = parts.settings.state_dir / "demo-reply.wav"
        seconds = recorder.write(path)
        _say(f"(no speaker here: the spoken reply, {seconds:.1f} s, is in {path})")


def _started(parts: Wiring, speaker: Speaker, wait_for_crew: bool) -> ConversationRuntime:
    runtime = parts.conversation(speaker)
    print("starting the companion (language model, memory)...", file=sys.stderr)
    runtime.start(wait_for_crew=wait_for_crew)
    return runtime


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


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
    """Print every utterance of a WAV file or of the microphone; keep (and answer, if asked) what was said to Papo."""
    recording = read_wav(file) if file is not None else None
    if reply is not None and not store:
        raise PapoError("--reply needs the records (it remembers the conversation); drop --no-store")
    source = "mic" if file is None else f"file:{file.name}"
    with Wiring(settings) as parts:
        turns = parts.store() if store else None
        engine = parts.engine()
        answering = _answering(parts, reply) if reply is not None else None
        listener = parts.listener(speculative=file is None)
        if recording is not None:
            pendings = hear_recording(listener, recording.samples)
        else:  # opened once the models are loaded: what is heard is what was said after the prompt
            pendings = _hear_microphone(listener, parts.microphone(device), seconds)
        companion = answering.runtime.companion if answering is not None else None
        for index, pending in enumerate(pendings):
            answer = None
            new = engine.heard(pending) if turns is not None else None
            if new is not None and turns is not None and answering is not None:  # rules and answer first, then stored
                answer = answering.answer(decide(new, source, pending.eos_monotonic, settings, companion), index)
            elif new is not None and turns is not None:
                admit(new, source, pending.eos_monotonic, turns, settings, companion)
            line = _utterance_line(pending, as_json, answer)
            if line is not None:
                _say(line)
    return 0


@dataclass(frozen=True)
class _Answering:
    """The companion answering `papo listen --reply`, aloud or into WAV files."""

    runtime: ConversationRuntime
    recorder: RecordingSpeaker | None
    options: ReplyOptions

    def answer(self, heard: Admitted, index: int) -> dict[str, object]:
        """Answer one utterance as the daemon would (if not said to Papo: only a check-in on a sign); its fields."""
        outcome = self.runtime.companion.respond(heard.heard, heard.addressed)
        wav = None
        if self.recorder is not None and outcome.reply is not None:
            wav = self.options.out_dir / f"reply-{index + 1:03d}.wav"
            self.recorder.write(wav)
        return _answer_fields(outcome, wav)


def _answering(parts: Wiring, options: ReplyOptions) -> _Answering:
    recorder = None if options.play else parts.recorder()
    speaker = recorder if recorder is not None else parts.speaker()
    return _Answering(_started(parts, speaker, wait_for_crew=True), recorder, options)


def _hear_microphone(listener: Listener, microphone: FrameSource, seconds: float | None) -> Iterator[PendingUtterance]:
    print(f"listening on {microphone.name} — speak, and press Ctrl-C to stop", file=sys.stderr)
    limit = None if seconds is None else int(seconds * SAMPLE_RATE / FRAME_SAMPLES)
    count = 0
    while limit is None or count < limit:
        yield from listener.feed(microphone.read())
        count += 1
    yield from listener.flush()


def say(settings: Settings, text: str, out: Path | None) -> int:
    """Speak `text` with the configured voice, on the speaker or into a WAV file."""
    if not text.strip():
        raise PapoError('nothing to say: give a sentence, for example papo say "Bom dia!"')
    with Wiring(settings) as parts:
        voice = parts.voice()
        recorder = None if out is None else parts.recorder(voice.rate)
        seconds = SpeechOutput(voice, recorder or parts.speaker(required=True)).say(text)
        if recorder is not None and out is not None:
            recorder.write(out)
            _say(f"wrote {seconds:.1f} s of speech ({voice.name}) to {out}")
    return 0
