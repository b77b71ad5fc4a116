"""The sled cache through papo._native: behaviour, restarts, corruption, a second process, and a kill soak."""

from __future__ import annotations

import logging
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from papo import _native
from papo.cache import AudioCache, open_cache
from papo.settings import load_settings
from support.wait import wait_until

FORMAT_DIR = "sled-v1"


def _child(code: str, *args: str, **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], text=True, **kwargs)  # type: ignore[call-overload]


def test_namespaces_ttl_overwrite_and_delete(tmp_path: Path) -> None:
    cache = _native.Cache(tmp_path)
    assert cache.open_outcome == "created"
    cache.put("tts", b"ola", b"audio")
    put_at = time.monotonic()
    cache.put("emb", b"ola", b"vector", ttl=0.2)
    assert cache.get("tts", b"ola") == b"audio"
    assert cache.get("emb", b"ola") == b"vector"
    wait_until(lambda: cache.get("emb", b"ola") is None, 5, "the entry to expire")
    assert time.monotonic() - put_at >= 0.2  # not before its ttl
    assert cache.get("tts", b"ola") == b"audio"  # an entry without a ttl stays
    cache.put("tts", b"ola", b"audio-2")
    assert cache.get("tts", b"ola") == b"audio-2"
    assert cache.delete("tts", b"ola") and not cache.delete("tts", b"ola")
    with pytest.raises(ValueError, match="namespace"):
        cache.put("", b"k", b"v")
    with pytest.raises(ValueError, match="ttl"):
        cache.put("tts", b"k", b"v", ttl=-1)
    cache.close()
    with pytest.raises(_native.CacheError, match="closed"):
        cache.get("tts", b"k")


def test_entries_survive_a_restart_of_the_process(tmp_path: Path) -> None:
    writer = _child(
        """
        import sys
        from papo import _native
        cache = _native.Cache(sys.argv[1])
        for i in range(1000):
            cache.put("n", i.to_bytes(4, "big"), b"x" * 100)
        cache.close()
        """,
        str(tmp_path),
    )
    assert writer.wait(timeout=60) == 0
    cache = _native.Cache(tmp_path)
    assert cache.open_outcome == "opened"
    assert cache.get("n", (999).to_bytes(4, "big")) == b"x" * 100
    assert cache.stats()["entries"] == 1000


def test_a_second_process_is_refused_and_papo_goes_on_without_cache(
    tmp_path: Path, state_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings()
    holder = open_cache(settings)
    assert holder is not None
    holder.put("n", b"k", b"kept")
    probe = _child(
        """
        import sys
        from papo import _native
        try:
            _native.Cache(sys.argv[1])
        except _native.CacheLockedError as exc:
            print("LOCKED", exc)
        """,
        str(settings.cache_dir),
        stdout=subprocess.PIPE,
    )
    out, _ = probe.communicate(timeout=60)
    assert out.startswith("LOCKED") and "another process" in out
    assert holder.get("n", b"k") == b"kept"
    holder.close()


def test_in_process_second_open_degrades_to_no_cache(state_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings()
    first = open_cache(settings)
    with caplog.at_level(logging.WARNING):
        assert open_cache(settings) is None
    assert "continuing without it" in caplog.text
    assert first is not None
    first.close()


def test_corrupt_cache_is_wiped_rebuilt_and_logged(state_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings()
    cache = open_cache(settings)
    assert cache is not None
    cache.put("n", b"k", b"v" * 5000)
    cache.close()
    for path in (settings.cache_dir / FORMAT_DIR).rglob("*"):
        if path.is_file():
            path.write_bytes(os.urandom(path.stat().st_size or 64))
    with caplog.at_level(logging.WARNING):
        rebuilt = open_cache(settings)
    assert rebuilt is not None and rebuilt.open_outcome == "rebuilt"
    assert "rebuilt" in caplog.text
    rebuilt.put("n", b"k", b"fresh")
    assert rebuilt.get("n", b"k") == b"fresh"
    rebuilt.close()


def test_audio_cache_round_trips_samples(tmp_path: Path) -> None:
    cache = _native.Cache(tmp_path)
    phrases = AudioCache(cache, "tts")
    key = phrases.key("kokoro", "pt-br", "bom dia")
    assert phrases.get(key) is None
    samples = np.sin(np.linspace(0, 100, 16000)).astype(np.float32) * 0.5
    phrases.put(key, samples)
    restored = phrases.get(key)
    assert restored is not None and np.max(np.abs(restored - samples)) < 1e-4
    assert AudioCache(None, "tts").get(key) is None


def test_repeated_phrases_come_from_the_sled_cache(state_dir: Path) -> None:
    from papo.speech.tts import CachedVoice, load_voice

    settings = load_settings()
    cache = open_cache(settings)
    assert cache is not None
    voice = CachedVoice(load_voice(settings, "pt"), AudioCache(cache, "tts"))
    first, cached_first = voice.speak("Bom dia! Dormiu bem?")
    again, cached_again = voice.speak("Bom dia! Dormiu bem?")
    cache.close()
    assert (cached_first, cached_again) == (False, True)
    assert abs(len(first.samples) - len(again.samples)) == 0 and first.rate == again.rate
    reopened = open_cache(settings)  # and after a restart
    assert reopened is not None
    assert CachedVoice(load_voice(settings, "pt"), AudioCache(reopened, "tts")).speak("Bom dia! Dormiu bem?")[1]
    reopened.close()


SOAK_WRITER = """
import random, sys
from papo import _native
cache = _native.Cache(sys.argv[1], max_bytes=8_000_000, max_disk_bytes=96_000_000, max_disk_ratio=8.0,
                      min_disk_bytes=8_000_000, flush_every_ms=200)
rng = random.Random(int(sys.argv[2]))
ops = 0
while True:
    key = rng.randrange(20_000).to_bytes(4, "big")
    roll = rng.random()
    if roll < 0.15:
        cache.delete("soak", key)
    elif roll < 0.97:
        cache.put("soak", key, rng.randbytes(1024))
    else:
        cache.put("soak", key, rng.randbytes(100_000))
    ops += 1
    if ops % 5000 == 0:
        print(ops, flush=True)
"""


@pytest.mark.slow
def test_soak_with_kills_stays_within_its_disk_bound(tmp_path: Path) -> None:
    bound = 96_000_000
    total_ops = 0
    ratios = []
    rng = random.Random(3)
    round_index = 0
    while total_ops < 300_000:
        writer = _child(SOAK_WRITER, str(tmp_path), str(round_index), stdout=subprocess.PIPE)
        assert writer.stdout is not None
        target = rng.randrange(20_000, 80_000)
        done = 0
        while done < target:
            line = writer.stdout.readline()
            assert line, "the soak writer died on its own"
            done = int(line)
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
        writer.stdout.close()
        total_ops += done
        round_index += 1
        cache = _native.Cache(tmp_path, max_bytes=8_000_000, max_disk_bytes=bound, min_disk_bytes=8_000_000)
        stats = cache.stats()
        assert cache.open_outcome in {"opened", "rebuilt"}
        assert stats["disk_bytes"] <= bound, stats
        assert stats["logical_bytes"] <= 8_000_000, stats
        cache.put("soak", b"after-kill", b"ok")
        assert cache.get("soak", b"after-kill") == b"ok"
        ratios.append(stats["disk_bytes"] / max(stats["logical_bytes"], 1))
        cache.close()
    print(f"soak: {total_ops} ops over {round_index} kills; disk/logical after each reopen: "
          + ", ".join(f"{r:.1f}" for r in ratios))  # fmt: skip
