"""The daemon's voice pipeline: load models, capture with retries, transcribe, keep what was said to Papo; /health.

Reminders are said from here when due, once a real speaker plays them; a missing speaker is reopened with the
same backoff as the microphone.

What was not said to Papo (no wake word, outside the follow-up window) stays in memory: the companion checks it
for signs of trouble, then it is dropped (no turn, no outbox row, no words in the log), unless the household set
`privacy.keep_unaddressed`. What is kept is stored by the companion after its wellbeing rules and any urgent
answer (so a failing store never silences an emergency); without a companion, here.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum

from papo.audio import FRAME_SAMPLES, SAMPLE_RATE
from papo.audio.sources import FrameSource, open_microphone
from papo.conversation.runtime import ConversationRuntime, ConversationState
from papo.conversation.turn import Admitted, decide, keep
from papo.engine import SpeechEngine, load_engine
from papo.errors import AudioInputError, NoAudioInputError, PapoError
from papo.listener import InputLevel, Listener, PendingUtterance
from papo.retry import Backoff
from papo.settings import Settings
from papo.speech.tts import Speaker
from papo.store import Store
from papo.system.logging import fields
from papo.system.vitals import TimedExecutor, Vitals
from papo.voice_first import VoiceFirst

log = logging.getLogger(__name__)

# Speech frames (32 ms each) heard while the companion speaks that stop its reply (barge-in): 96 ms.
BARGE_IN_FRAMES = 3


class PipelineState(StrEnum):
    """What the voice pipeline is doing, as /health reports it."""

    STARTING = "starting"
    LOADING_MODELS = "loading models"
    NO_AUDIO_INPUT = "no audio input"
    LISTENING = "listening"
    STOPPED = "stopped"
    FAILED = "failed"


class Activity(StrEnum):
    """What Papo is doing now, as the status page says it."""

    STARTING = "starting"
    NO_MICROPHONE = "no microphone"
    LISTENING = "listening"
    THINKING = "thinking"
    SPEAKING = "speaking"
    STOPPED = "stopped"
    FAILED = "failed"


_ACTIVITY_OF_STATE = {
    PipelineState.STARTING: Activity.STARTING,
    PipelineState.LOADING_MODELS: Activity.STARTING,
    PipelineState.NO_AUDIO_INPUT: Activity.NO_MICROPHONE,
    PipelineState.STOPPED: Activity.STOPPED,
    PipelineState.FAILED: Activity.FAILED,
}


@dataclass
class PipelineStatus:
    """A snapshot of the pipeline for the health endpoint."""

    state: PipelineState = PipelineState.STARTING
    detail: str = ""
    device: str | None = None
    retry_in_s: float | None = None
    utterances: int = 0
    dropped_samples: int = 0
    last_heard_at: float | None = None
    models: dict[str, str] = field(default_factory=dict)
    model_versions: dict[str, str] = field(default_factory=dict)


def _native_speaker(device: str | None) -> Speaker:
    """The loudspeaker on the native playback (AudioOutputError, a PapoError, when there is none)."""
    from papo.audio.native import NativeSpeaker

    return NativeSpeaker(device)


class VoiceService:
    """Runs the microphone pipeline until stopped; never lets one failure stop the daemon."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        open_source: Callable[[], FrameSource] | None = None,
        engine_loader: Callable[[Settings], SpeechEngine] = load_engine,
        conversation: ConversationRuntime | None = None,
        open_speaker: Callable[[], Speaker] | None = None,
    ) -> None:
        self.status = PipelineStatus()
        self._settings = settings
        self._store = store
        self._open_source = open_source or (lambda: open_microphone(settings.audio))
        self._engine_loader = engine_loader
        self._open_speaker = open_speaker or (lambda: _native_speaker(settings.audio.output_device))
        self._stop = threading.Event()
        self._restart = threading.Event()
        self._busy = 0  # utterances between their end and the answer said (the event loop's count: no lock)
        self.level = InputLevel()  # the microphone's loudness while listening (never the audio)
        self.voice_first = VoiceFirst()  # decodes in flight, which the web server lets pass first
        self.vitals = Vitals()  # signs of life (frames, decodes) for the systemd watchdog
        self._watchers: list[Callable[[PipelineStatus], None]] = []
        self.conversation = conversation
        if conversation is not None:
            conversation.companion.output.gain = settings.audio.volume / 100

    @property
    def settings(self) -> Settings:
        """The settings the pipeline runs with (live keys as last applied)."""
        return self._settings

    @property
    def activity(self) -> Activity:
        """What Papo does now: starting, no microphone, listening, thinking (an utterance being handled), speaking."""
        if self.status.state is not PipelineState.LISTENING:
            return _ACTIVITY_OF_STATE[self.status.state]
        runtime = self.conversation
        if runtime is not None and runtime.companion.speaking:
            return Activity.SPEAKING
        return Activity.THINKING if self._busy else Activity.LISTENING

    def apply_settings(self, new: Settings) -> None:
        """Take at once the settings that apply live (`live_keys()`): privacy, volume, speech rate, companion's."""
        audio = self._settings.audio.model_copy(update={"volume": new.audio.volume})
        self._settings = self._settings.model_copy(update={"privacy": new.privacy, "audio": audio})
        if self.conversation is not None:
            self.conversation.companion.apply_settings(new.conversation)
            self.conversation.companion.output.gain = new.audio.volume / 100
            self.conversation.companion.voice_controls.use_rate(new.tts.rate_wpm)

    def _companion_on(self) -> bool:
        runtime = self.conversation
        return runtime is not None and runtime.status.state not in (ConversationState.DISABLED,)

    def watch(self, callback: Callable[[PipelineStatus], None]) -> None:
        """Call `callback` (on the event loop) whenever the pipeline's state is set (start-up stages for systemd)."""
        self._watchers.append(callback)

    async def run(self) -> None:
        """Load the models, then capture and transcribe until `stop()`; retry the device with backoff."""
        self._set(PipelineState.LOADING_MODELS, "")
        try:
            engine = await asyncio.to_thread(self._engine_loader, self._settings)
        except PapoError as exc:
            self._set(PipelineState.FAILED, str(exc))
            log.error("voice pipeline cannot start", extra=fields(reason=str(exc)))
            return
        self.status.models = {"stt": engine.stt_model, "vad": engine.vad_model}
        self.status.model_versions = engine.model_versions()
        backoff = Backoff(self._settings.audio.retry_max_s)
        with TimedExecutor(self.vitals, max_workers=1, thread_name_prefix="stt") as executor:
            while not self._stop.is_set():
                self.vitals.opening()
                try:
                    source = await asyncio.to_thread(self._open_source)
                except AudioInputError as exc:
                    state = PipelineState.NO_AUDIO_INPUT if isinstance(exc, NoAudioInputError) else PipelineState.FAILED
                    delay = backoff.next()
                    self.vitals.waiting(delay)
                    self._set(state, str(exc), retry_in_s=delay)
                    log.warning("audio input unavailable", extra=fields(reason=str(exc), retry_in_s=delay))
                    await asyncio.to_thread(self._stop.wait, delay)
                    continue
                backoff.reset()
                await self._listen(engine, executor, source)
        self.vitals.idle()
        self._set(PipelineState.STOPPED, "")

    def stop(self) -> None:
        """Ask the pipeline to stop; `run()` returns soon after (and whatever is being said stops now)."""
        self._stop.set()
        if self.conversation is not None:
            self.conversation.companion.output.interrupt()

    def restart_input(self) -> None:
        """Close and reopen the audio input (a fleet command, or after a settings change)."""
        self._restart.set()

    def _set(self, state: PipelineState, detail: str, retry_in_s: float | None = None) -> None:
        self.status.state, self.status.detail, self.status.retry_in_s = state, detail, retry_in_s
        for watcher in self._watchers:
            watcher(self.status)

    async def _listen(self, engine: SpeechEngine, executor: ThreadPoolExecutor, source: FrameSource) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[PendingUtterance | None] = asyncio.Queue()
        observer = self.conversation.companion.pause_observer if self._companion_on() and self.conversation else None
        listener = Listener(
            engine.endpointer(), engine.transcriber, executor, observer=observer, level=self.level,
            voice_first=self.voice_first,
        )  # fmt: skip
        self.status.device = source.name
        self.vitals.frame()  # reading starts: the first frame is due within the watchdog's frame gap
        self._set(PipelineState.LISTENING, "")

        companion = self.conversation.companion if self.conversation is not None else None

        def capture() -> None:
            frames = 0
            onset: int | None = None  # the frame at which the speech now being heard began
            try:
                while not self._stop.is_set() and not self._restart.is_set():
                    frame = source.read()
                    self.vitals.frame()
                    for pending in listener.feed(frame):
                        loop.call_soon_threadsafe(queue.put_nowait, pending)
                    onset = None if listener.speech_frames == 0 else frames if onset is None else onset
                    barging = companion is not None and listener.speech_frames >= BARGE_IN_FRAMES and companion.speaking
                    if barging and companion is not None and companion.interrupt() and onset is not None:
                        heard_ms = (frames - onset + 1) * FRAME_SAMPLES * 1000 // SAMPLE_RATE
                        log.info("barge-in", extra=fields(speech_to_stop_ms=heard_ms))
                    frames += 1
                    if frames % 32 == 0:
                        self.status.dropped_samples = source.overruns
            finally:
                self._restart.clear()
                self.level.clear()
                source.close()
                loop.call_soon_threadsafe(queue.put_nowait, None)

        capturing = asyncio.ensure_future(asyncio.to_thread(capture))
        while (pending := await queue.get()) is not None:
            await self._keep(engine, pending)
        try:
            await capturing
        except AudioInputError as exc:
            self._set(PipelineState.NO_AUDIO_INPUT, str(exc), retry_in_s=1.0)
            log.warning("audio input lost", extra=fields(reason=str(exc)))
        except Exception as exc:  # one broken stream must not end the daemon's listening for good
            self._set(PipelineState.FAILED, f"capture failed: {exc}", retry_in_s=1.0)
            log.exception("capture failed; reopening the input")
        if not self._stop.is_set() and self.status.state is not PipelineState.LISTENING:
            self.vitals.waiting(1.0)
            await asyncio.to_thread(self._stop.wait, 1.0)

    async def _keep(self, engine: SpeechEngine, pending: PendingUtterance) -> None:
        self._busy += 1
        try:
            await self._handle(engine, pending)
        finally:
            self._busy -= 1

    async def _handle(self, engine: SpeechEngine, pending: PendingUtterance) -> None:
        try:
            await asyncio.wrap_future(pending.future)
            heard = await asyncio.to_thread(self._hear, engine, pending)
        except PapoError as exc:
            log.error("utterance lost", extra=fields(reason=str(exc)))
            return
        except Exception:
            log.exception("utterance failed")
            return
        if heard is None:
            return
        self.status.utterances += 1
        self.status.last_heard_at = time.time()
        log.info(
            "heard",
            extra=fields(chars=len(heard.heard.text), addressed=heard.addressed, kept=heard.kept,
                         eos_to_text_ms=pending.eos_to_text_ms),
        )  # fmt: skip
        log.debug("heard words", extra=fields(text=heard.heard.text))
        if self._companion_on():
            await self._answer(heard)
        else:
            await asyncio.to_thread(keep, heard.heard, self._store)

    def _hear(self, engine: SpeechEngine, pending: PendingUtterance) -> Admitted | None:
        """The utterance and whether it is kept (said to Papo, or the household keeps all); None if it held no words."""
        new = engine.heard(pending)
        if new is None:
            return None
        companion = self.conversation.companion if self._companion_on() and self.conversation is not None else None
        return decide(new, "mic", pending.eos_monotonic, self._settings, companion)

    async def _answer(self, heard: Admitted) -> None:
        assert self.conversation is not None
        companion = self.conversation.companion
        try:
            outcome = await asyncio.to_thread(companion.respond, heard.heard, heard.addressed)
        except Exception:  # one failed answer must not stop the listening
            log.exception("answer failed")
            return
        if outcome.reply is not None:
            log.info(
                "answered",
                extra=fields(first_audio_ms=outcome.first_audio_ms, interrupted=outcome.interrupted,
                             fallback=outcome.fallback, check_in=outcome.checked_in),
            )  # fmt: skip

    async def run_reminders(self) -> None:
        """Speak due reminders (checked every second) until `stop()`, reopening the speaker whenever there is none."""
        keeper = asyncio.create_task(self._keep_speaker(), name="speaker")
        try:
            while not self._stop.is_set():
                if self._companion_on():
                    assert self.conversation is not None
                    try:
                        await asyncio.to_thread(self.conversation.companion.speak_due_reminders)
                    except Exception:  # a failing reminder must not end the loop
                        log.exception("reminder failed")
                await asyncio.to_thread(self._stop.wait, 1.0)
        finally:
            await keeper

    async def _keep_speaker(self) -> None:
        """Whenever the companion has no real speaker (none at the start, or it broke), open one with backoff.

        The companion speaks on it once it opens. A speaker opened here is closed here: once it is replaced (it
        broke), and when the service stops; the stand-in it replaces at first belongs to the wiring.
        """
        output = self.conversation.companion.output if self._companion_on() and self.conversation else None
        backoff = Backoff(self._settings.audio.retry_max_s)
        opened: Speaker | None = None
        try:
            while output is not None and not self._stop.is_set():
                if output.has_speaker:
                    backoff.reset()
                    await asyncio.to_thread(self._stop.wait, 1.0)
                    continue
                await asyncio.to_thread(self._stop.wait, backoff.next())  # the wiring (or the broken one) just tried
                if self._stop.is_set():
                    break
                try:
                    speaker = await asyncio.to_thread(self._open_speaker)
                except Exception as exc:  # AudioOutputError, or anything else: the companion goes on without one
                    log.warning("audio output unavailable", extra=fields(reason=str(exc), retry_in_s=backoff.peek()))
                    continue
                if output.use(speaker) is opened and opened is not None:
                    _release(opened)
                opened = speaker
                log.info("speaker open", extra=fields(device=getattr(speaker, "name", None)))
        finally:
            if opened is not None:
                _release(opened)


def _release(speaker: Speaker) -> None:
    """Close a speaker; one that broke may fail to close, which is logged and ignored."""
    try:
        speaker.close()
    except Exception as exc:
        log.warning("speaker not closed cleanly", extra=fields(reason=str(exc)))
