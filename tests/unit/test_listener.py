"""The Listener with a scripted VAD and a fake transcriber: pending utterances, the early decode at a pause
(reused, or redone when speech resumes), flush and the PauseObserver. With the default settings a pause is
reported at the third silent frame and an utterance ends at the fifteenth."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from papo.audio import FRAME_SAMPLES
from papo.listener import Listener, PendingUtterance, frames_of, hear_recording
from papo.settings import VadSettings
from papo.speech.endpoint import Endpointer
from support.fakes import SILENCE, SPEECH, FrameTranscriber, PauseRecorder, ScriptedVad, numbered_frames, script
from support.wait import wait_until


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stt")
    yield pool
    pool.shutdown(wait=True)


def _listener(
    probabilities: list[float],
    executor: ThreadPoolExecutor,
    transcriber: FrameTranscriber,
    speculative: bool = True,
    observer: PauseRecorder | None = None,
) -> Listener:
    endpointer = Endpointer(ScriptedVad(probabilities), VadSettings())
    return Listener(endpointer, transcriber, executor, speculative=speculative, observer=observer)


def _feed(listener: Listener, count: int) -> list[tuple[int, PendingUtterance]]:
    """Feed `count` numbered frames; return (frame index, pending) for each utterance that ended."""
    return [(index, p) for index, frame in enumerate(numbered_frames(count)) for p in listener.feed(frame)]


def _text(pending: PendingUtterance) -> str | None:
    transcript = pending.result(timeout=10)
    return None if transcript is None else transcript.text


def test_utterances_come_out_in_order_each_decoded_once(executor: ThreadPoolExecutor) -> None:
    stt = FrameTranscriber()
    probabilities = script((SILENCE, 10), (SPEECH, 20), (SILENCE, 20), (SPEECH, 10), (SILENCE, 20))
    listener = _listener(probabilities, executor, stt, speculative=False)
    ended = _feed(listener, len(probabilities))
    assert [(index, _text(p)) for index, p in ended] == [(44, "frames 4-32"), (74, "frames 44-62")]
    assert stt.calls == [list(range(4, 33)), list(range(44, 63))]
    assert not any(p.speculative for _, p in ended)
    assert listener.flush() == []


def test_a_pending_utterance_is_returned_at_once_and_timed_when_its_transcript_is_ready(
    executor: ThreadPoolExecutor,
) -> None:
    stt = FrameTranscriber()
    stt.hold()
    listener = _listener(script((SPEECH, 10), (SILENCE, 20)), executor, stt, speculative=False)
    frames = numbered_frames(30)
    for frame in frames[:9]:
        assert listener.feed(frame) == []
    before_last_speech = time.monotonic()
    assert listener.feed(frames[9]) == []  # the last speech frame
    after_last_speech = time.monotonic()
    ended = [p for frame in frames[10:] for p in listener.feed(frame)]
    (pending,) = ended
    assert not pending.future.done() and pending.eos_to_text_ms is None  # still being decoded
    assert before_last_speech <= pending.eos_monotonic <= after_last_speech
    stt.release()
    assert _text(pending) == "frames 0-12"
    eos_to_text_ms = wait_until(lambda: pending.eos_to_text_ms, 5, "the transcript to be timed")
    assert eos_to_text_ms > 0


def test_the_decode_started_at_the_pause_is_the_one_used(executor: ThreadPoolExecutor) -> None:
    stt, pauses = FrameTranscriber(), PauseRecorder()
    listener = _listener(script((SILENCE, 10), (SPEECH, 20), (SILENCE, 20)), executor, stt, observer=pauses)
    ((index, pending),) = _feed(listener, 50)
    assert index == 44
    assert pauses.events == ["pause"]
    assert pending.speculative and pending.future is pauses.futures[0]
    assert _text(pending) == "frames 4-32"
    assert stt.calls == [list(range(4, 33))]  # decoded once, at the pause


def test_speech_resuming_drops_the_early_decode_and_the_next_pause_decodes_again(
    executor: ThreadPoolExecutor,
) -> None:
    stt, pauses = FrameTranscriber(), PauseRecorder()
    probabilities = script((SPEECH, 10), (SILENCE, 5), (SPEECH, 10), (SILENCE, 20))
    listener = _listener(probabilities, executor, stt, observer=pauses)
    ((_, pending),) = _feed(listener, len(probabilities))
    assert pauses.events == ["pause", "resume", "pause"]
    assert pending.future is pauses.futures[1] and pending.speculative
    assert _text(pending) == "frames 0-27"
    assert stt.calls == [list(range(0, 13)), list(range(0, 28))]


def test_speech_resuming_then_the_stream_ending_decodes_the_whole_utterance_anew(
    executor: ThreadPoolExecutor,
) -> None:
    stt, pauses = FrameTranscriber(), PauseRecorder()
    listener = _listener(script((SPEECH, 10), (SILENCE, 5), (SPEECH, 10)), executor, stt, observer=pauses)
    assert _feed(listener, 25) == []
    assert pauses.events == ["pause", "resume"]
    (pending,) = listener.flush()
    assert not pending.speculative and pending.future not in pauses.futures
    assert _text(pending) == "frames 0-24"
    assert stt.calls == [list(range(0, 13)), list(range(0, 25))]


def test_flush_during_the_pause_reuses_the_early_decode(executor: ThreadPoolExecutor) -> None:
    stt, pauses = FrameTranscriber(), PauseRecorder()
    listener = _listener(script((SPEECH, 10), (SILENCE, 5)), executor, stt, observer=pauses)
    assert _feed(listener, 15) == []
    (pending,) = listener.flush()
    assert pending.speculative and pending.future is pauses.futures[0]
    assert _text(pending) == "frames 0-12"
    assert len(stt.calls) == 1


def test_without_speculation_nothing_is_decoded_before_the_end(executor: ThreadPoolExecutor) -> None:
    stt, pauses = FrameTranscriber(), PauseRecorder()
    listener = _listener(script((SPEECH, 10), (SILENCE, 20)), executor, stt, speculative=False, observer=pauses)
    frames = numbered_frames(30)
    for frame in frames[:20]:  # past the pause
        assert listener.feed(frame) == []
    executor.submit(lambda: None).result(timeout=5)  # anything submitted before has run
    assert stt.calls == [] and "pause" not in pauses.events
    (pending,) = [p for frame in frames[20:] for p in listener.feed(frame)]
    assert _text(pending) == "frames 0-12" and not pending.speculative


def test_speech_frames_counts_the_utterance_being_heard(executor: ThreadPoolExecutor) -> None:
    listener = _listener(script((SILENCE, 3), (SPEECH, 8), (SILENCE, 20)), executor, FrameTranscriber())
    frames = numbered_frames(31)
    counts = []
    for frame in frames:
        listener.feed(frame)
        counts.append(listener.speech_frames)
    assert counts[2] == 0 and counts[5] == 3 and counts[10] == 8 and counts[-1] == 0


def test_a_recording_is_cut_into_frames_with_the_last_one_padded(executor: ThreadPoolExecutor) -> None:
    samples = np.arange(FRAME_SAMPLES * 2 + 100, dtype=np.float32)
    frames = list(frames_of(samples))
    assert [len(f) for f in frames] == [FRAME_SAMPLES] * 3
    assert frames[2][99] == samples[-1] and not frames[2][100:].any()
    stt = FrameTranscriber()
    recording = np.concatenate(numbered_frames(12))  # all speech: only the end of the recording closes it
    (pending,) = hear_recording(_listener(script((SPEECH, 12)), executor, stt), recording)
    assert _text(pending) == "frames 0-11"


def test_the_listener_loads_no_heavy_library() -> None:
    code = (
        "import sys, papo.listener, papo.speech.endpoint; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'faster_whisper', 'ctranslate2', 'onnxruntime', 'chromadb', 'crewai', 'llama_cpp', 'torch'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20, check=True)
    assert result.stdout.strip() == "[]"
