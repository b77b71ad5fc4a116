"""The endpointer driven by a scripted VAD: hysteresis, minimum speech, end silence, pre-roll, maximum length
and the early-decode point, frame by frame. Frames are 32 ms; with the default settings the pre-roll is 6
frames, the minimum speech 7, the end silence 15 and the early-decode point 3 frames of silence."""

from __future__ import annotations

from papo.audio import FRAME_SAMPLES, SAMPLE_RATE
from papo.settings import VadSettings
from papo.speech.endpoint import Endpointer, EndpointEvent, SpeechPaused, Utterance, UtteranceEnded
from support.fakes import MAYBE, SILENCE, SPEECH, ScriptedVad, frame_numbers, numbered_frames, script

Events = list[tuple[int, EndpointEvent]]


def _run(probabilities: list[float], settings: VadSettings | None = None) -> tuple[Endpointer, Events]:
    """Push one numbered frame per scripted probability; return the endpointer and (frame index, event) pairs."""
    endpointer = Endpointer(ScriptedVad(probabilities), settings or VadSettings())
    events: Events = []
    for index, frame in enumerate(numbered_frames(len(probabilities))):
        events += [(index, event) for event in endpointer.push(frame)]
    return endpointer, events


def _kinds(events: Events) -> list[tuple[int, str]]:
    return [(index, type(event).__name__) for index, event in events]


def _ended(events: Events) -> list[Utterance]:
    return [event.utterance for _, event in events if isinstance(event, UtteranceEnded)]


def test_one_utterance_pauses_then_ends_with_pre_roll_and_tail() -> None:
    _, events = _run(script((SILENCE, 10), (SPEECH, 20), (SILENCE, 20)))
    # speech in frames 10-29; the third silent frame (32) is the early-decode point, the fifteenth (44) the end
    assert _kinds(events) == [(32, "SpeechPaused"), (44, "UtteranceEnded")]
    (utterance,) = _ended(events)
    assert frame_numbers(utterance.samples) == list(range(4, 33))  # 6 frames of pre-roll, 3 of tail
    assert utterance.start_sample == 4 * FRAME_SAMPLES and utterance.end_sample == 33 * FRAME_SAMPLES
    assert utterance.last_speech_sample == 30 * FRAME_SAMPLES
    assert utterance.end_s == 30 * FRAME_SAMPLES / SAMPLE_RATE
    assert utterance.duration_s == 29 * FRAME_SAMPLES / SAMPLE_RATE
    assert utterance.vad_ms >= 0


def test_the_early_decode_holds_exactly_what_the_end_holds_when_speech_does_not_resume() -> None:
    _, events = _run(script((SILENCE, 10), (SPEECH, 20), (SILENCE, 20)))
    (paused,) = [event.utterance for _, event in events if isinstance(event, SpeechPaused)]
    (ended,) = _ended(events)
    assert paused.end_sample == ended.end_sample and paused.start_sample == ended.start_sample
    assert frame_numbers(paused.samples) == frame_numbers(ended.samples)


def test_a_frame_between_the_thresholds_never_opens_speech() -> None:
    endpointer, events = _run(script((MAYBE, 40)))
    assert events == [] and not endpointer.in_speech


def test_a_frame_between_the_thresholds_keeps_speech_going_but_does_not_bring_it_back() -> None:
    # speech 5-14, "maybe" 15-19 (still speech: no silence yet), silence at 20, then "maybe" (now silence)
    endpointer, events = _run(script((SILENCE, 5), (SPEECH, 10), (MAYBE, 5), (SILENCE, 1), (MAYBE, 20)))
    assert _kinds(events) == [(22, "SpeechPaused"), (34, "UtteranceEnded")]  # no SpeechResumed
    (utterance,) = _ended(events)
    assert utterance.last_speech_sample == 20 * FRAME_SAMPLES
    assert not endpointer.in_speech


def test_speech_shorter_than_the_minimum_is_no_utterance() -> None:
    endpointer, events = _run(script((SILENCE, 3), (SPEECH, 6), (SILENCE, 20)))
    assert events == [] and not endpointer.in_speech
    _, events = _run(script((SILENCE, 3), (SPEECH, 7), (SILENCE, 20)))
    assert _kinds(events) == [(12, "SpeechPaused"), (24, "UtteranceEnded")]


def test_a_gap_shorter_than_the_end_silence_pauses_and_resumes_one_utterance() -> None:
    _, events = _run(script((SPEECH, 10), (SILENCE, 14), (SPEECH, 10), (SILENCE, 15)))
    assert _kinds(events) == [(12, "SpeechPaused"), (24, "SpeechResumed"), (36, "SpeechPaused"), (48, "UtteranceEnded")]
    (utterance,) = _ended(events)
    assert frame_numbers(utterance.samples) == list(range(0, 37))  # both bursts and the gap, one utterance


def test_the_end_silence_splits_two_utterances_and_the_second_gets_the_gap_as_pre_roll() -> None:
    _, events = _run(script((SPEECH, 10), (SILENCE, 15), (SPEECH, 10), (SILENCE, 15)))
    assert _kinds(events) == [
        (12, "SpeechPaused"),
        (24, "UtteranceEnded"),
        (37, "SpeechPaused"),
        (49, "UtteranceEnded"),
    ]
    first, second = _ended(events)
    assert frame_numbers(first.samples) == list(range(0, 13))
    assert frame_numbers(second.samples) == list(range(19, 38))  # the last 6 frames of the gap lead it in
    assert second.start_sample == 19 * FRAME_SAMPLES


def test_pre_roll_is_bounded_by_the_start_of_the_stream_and_by_its_setting() -> None:
    _, events = _run(script((SILENCE, 2), (SPEECH, 10), (SILENCE, 15)))
    (utterance,) = _ended(events)
    assert utterance.start_sample == 0 and frame_numbers(utterance.samples)[:3] == [0, 1, 2]
    _, events = _run(script((SILENCE, 10), (SPEECH, 10), (SILENCE, 15)), VadSettings(pre_roll_ms=0))
    (utterance,) = _ended(events)
    assert utterance.start_sample == 10 * FRAME_SAMPLES and frame_numbers(utterance.samples)[0] == 10


def test_endless_speech_is_cut_at_the_maximum_length_and_nothing_is_lost() -> None:
    settings = VadSettings(max_utterance_s=2.0)  # 62 frames
    _, events = _run(script((SPEECH, 150), (SILENCE, 15)), settings)
    assert _kinds(events) == [
        (61, "UtteranceEnded"),
        (123, "UtteranceEnded"),
        (152, "SpeechPaused"),
        (164, "UtteranceEnded"),
    ]
    utterances = _ended(events)
    assert all(u.duration_s <= settings.max_utterance_s for u in utterances)
    heard = [number for u in utterances for number in frame_numbers(u.samples)]
    assert heard == list(range(0, 153))  # contiguous: each cut starts where the last one stopped
    assert [u.start_sample for u in utterances] == [0, 62 * FRAME_SAMPLES, 124 * FRAME_SAMPLES]


def test_the_early_decode_point_follows_its_setting_and_the_kept_tail_with_it() -> None:
    _, events = _run(script((SPEECH, 10), (SILENCE, 20)), VadSettings(speculate_after_ms=160))  # 5 frames
    assert _kinds(events) == [(14, "SpeechPaused"), (24, "UtteranceEnded")]
    (utterance,) = _ended(events)
    assert frame_numbers(utterance.samples) == list(range(0, 15))


def test_the_end_never_comes_before_the_early_decode_point() -> None:
    settings = VadSettings(speculate_after_ms=640, end_silence_ms=480)  # 20 frames, 15 frames
    _, events = _run(script((SPEECH, 10), (SILENCE, 30)), settings)
    assert _kinds(events) == [(29, "SpeechPaused"), (29, "UtteranceEnded")]


def test_flush_closes_an_open_utterance_only_if_it_holds_enough_speech() -> None:
    endpointer, events = _run(script((SILENCE, 3), (SPEECH, 10)))
    assert events == [] and endpointer.in_speech and endpointer.speech_frames == 10
    (ended,) = endpointer.flush()
    assert isinstance(ended, UtteranceEnded)
    assert frame_numbers(ended.utterance.samples) == list(range(0, 13))
    assert not endpointer.in_speech and endpointer.speech_frames == 0
    assert endpointer.flush() == []
    endpointer, _ = _run(script((SPEECH, 6)))
    assert endpointer.flush() == []
