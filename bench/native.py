"""Benchmark the native core: capture CPU and jitter (vs sounddevice), cache speed (vs diskcache, sqlite3, shelve).

Run: uv run python bench/native.py [--seconds 60] [--device ID]
Without --device it starts the test rig (PulseAudio null sink reached through ALSA, as in the tests)
and captures from `papo_mic` with both backends, one after the other, each in its own process.
"""

from __future__ import annotations

import argparse
import json
import os
import shelve
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

HOT_SET = 2_000  # the phrases a companion says again and again (read once untimed, then timed)
HOT_PASSES = 10

CAPTURE_CHILD = """
import json, os, sys, time
backend, device, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
if backend == "native":
    from papo.audio.native import NativeMicrophone as Source
else:
    from papo.audio.microphone import SounddeviceMicrophone as Source
source = Source(device)
for _ in range(10):
    source.read()

def on_cpu_ns():
    # schedstat: nanoseconds each thread ran (exact, unlike tick-sampled rusage).
    total = 0
    for tid in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{tid}/schedstat") as stat:
            total += int(stat.read().split()[0])
    return total

cpu0, wall0 = on_cpu_ns(), time.monotonic()
stamps = []
while time.monotonic() - wall0 < seconds:
    source.read()
    stamps.append(time.monotonic())
cpu = (on_cpu_ns() - cpu0) / 1e9
wall = time.monotonic() - wall0
print(json.dumps({"cpu_s": cpu, "wall_s": wall, "stamps": stamps, "overruns": source.overruns}))
source.close()
"""


def capture_run(backend: str, device: str, seconds: float, env: dict[str, str]) -> dict[str, float]:
    """CPU % of one core and frame-interval jitter for one backend, measured in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", CAPTURE_CHILD, backend, device, str(seconds)],
        capture_output=True, text=True, env={**os.environ, **env}, check=True, timeout=seconds + 60,
    ).stdout  # fmt: skip
    result = json.loads(out.strip().splitlines()[-1])
    intervals = [(b - a) * 1000 for a, b in zip(result["stamps"], result["stamps"][1:], strict=False)]
    intervals.sort()
    return {
        "cpu_pct": 100 * result["cpu_s"] / result["wall_s"],
        "jitter_ms": statistics.pstdev(intervals),
        "p99_interval_ms": intervals[int(len(intervals) * 0.99) - 1],
        "frames": len(result["stamps"]),
        "overruns": result["overruns"],
    }


def _timed_ops(op: Callable[[bytes], object], keys: list[bytes]) -> tuple[float, float]:
    """Ops/s over all keys (no per-call timer in the loop), and p99 latency (us) from a timed pass."""
    started = time.perf_counter()
    for key in keys:
        op(key)
    rate = len(keys) / (time.perf_counter() - started)
    latencies = []
    clock = time.perf_counter
    for key in keys[: min(len(keys), 5000)]:
        t0 = clock()
        op(key)
        latencies.append(clock() - t0)
    latencies.sort()
    return rate, latencies[int(len(latencies) * 0.99) - 1] * 1e6


class SqliteKV:
    """The plain sqlite3 baseline: one table, WAL, autocommit writes."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB)")

    def put(self, key: bytes, value: bytes) -> None:
        """Store one value."""
        self.db.execute("INSERT OR REPLACE INTO kv VALUES (?, ?)", (key, value))

    def get(self, key: bytes) -> bytes | None:
        """Read one value."""
        row = self.db.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])


def cache_bench(count: int) -> dict[str, dict[str, dict[str, float]]]:
    """put, get of every key, and the hit path (a 2,000-key working set read 10 times) for 1 KB and 100 KB values."""
    import diskcache

    from papo import _native

    results: dict[str, dict[str, dict[str, float]]] = {}
    scenarios = (
        ("1KB", 1024, count),
        ("100KB", 100 * 1024, max(200, count // 20)),
        ("1KB, store fits sled's page cache", 1024, HOT_SET),
    )
    for size_name, size, n in scenarios:
        value = os.urandom(size)
        keys = [f"phrase-{i}".encode() for i in range(n)]
        text_keys = [k.decode() for k in keys]
        with tempfile.TemporaryDirectory() as tmp:
            base = Path(tmp)
            sled = _native.Cache(base / "sled", max_bytes=1 << 30, max_disk_bytes=8 << 30)
            disk = diskcache.Cache(str(base / "diskcache"))
            plain = SqliteKV(base / "kv.sqlite3")
            shelf = shelve.open(str(base / "shelf"))  # noqa: SIM115
            # Each store is called the way its users call it; the put side wraps the value in a lambda.
            stores: dict[str, tuple[Callable[[bytes], object], Callable[[bytes], object]]] = {
                "sled (papo)": (lambda k, c=sled, v=value: c.put("tts", k, v), partial(sled.get, "tts")),
                "diskcache": (lambda k, c=disk, v=value: c.set(k, v), disk.get),
                "sqlite3": (lambda k, c=plain, v=value: c.put(k, v), plain.get),
                "shelve": (lambda k, c=shelf, v=value: c.__setitem__(k, v), shelf.__getitem__),
            }
            hot = keys[: min(len(keys), HOT_SET)]
            hot_names = text_keys[: len(hot)]
            for name, (put, get) in stores.items():
                names: list[Any] = text_keys if name == "shelve" else keys  # shelve keys are str
                put_rate, put_p99 = _timed_ops(put, names)
                cold_rate, _ = _timed_ops(get, names)
                working_set: list[Any] = hot_names if name == "shelve" else hot
                for key in working_set:  # one untimed pass: the hit path is measured on keys that hit
                    get(key)
                hot_rate, hot_p99 = _timed_ops(get, working_set * HOT_PASSES)
                results.setdefault(size_name, {})[name] = {
                    "put_per_s": put_rate, "put_p99_us": put_p99, "get_all_per_s": cold_rate,
                    "get_per_s": hot_rate, "get_p99_us": hot_p99,
                }  # fmt: skip
            sled.close()
            disk.close()
            shelf.close()
    return results


def cache_amplification() -> float:
    """Disk bytes over content bytes after a fill-and-overwrite workload in the default bounds."""
    from papo import _native

    with tempfile.TemporaryDirectory() as tmp:
        cache = _native.Cache(Path(tmp), max_bytes=16_000_000, max_disk_bytes=512_000_000, min_disk_bytes=16_000_000)
        value = os.urandom(2048)
        for i in range(60_000):
            cache.put("tts", (i % 12_000).to_bytes(4, "big"), value)
        cache.flush()
        stats = cache.stats()
        cache.close()
    return stats["disk_bytes"] / max(1, stats["logical_bytes"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="capture time per backend (default 60)")
    parser.add_argument("--device", help="capture from this device instead of the PulseAudio test rig")
    parser.add_argument("--cache-ops", type=int, default=20_000, help="1 KB operations per store")
    args = parser.parse_args()

    rig = None
    env: dict[str, str] = {}
    device = args.device
    if device is None:
        from support.pulse import PulseRig

        rig = PulseRig(Path(tempfile.mkdtemp(prefix="papo-bench-pulse-")))
        env, device = rig.env, "papo_mic"
    try:
        print(f"capturing {args.seconds:g} s per backend from {device}...", file=sys.stderr, flush=True)
        native = capture_run("native", device, args.seconds, env)
        portaudio = capture_run("sounddevice", device, args.seconds, env)
    finally:
        if rig is not None:
            rig.close()
    print("cache operations...", file=sys.stderr, flush=True)
    caches = cache_bench(args.cache_ops)
    amplification = cache_amplification()

    cpu_ratio = native["cpu_pct"] / portaudio["cpu_pct"]
    print(f"\nCapture, {args.seconds:g} s per backend from {device} (16 kHz mono, 32 ms frames)")
    print(f"{'measure':34} {'sounddevice':>12} {'native':>10} {'ratio':>7}")
    for key, label in (("cpu_pct", "CPU (% of one core)"), ("jitter_ms", "frame interval std (ms)"),
                       ("p99_interval_ms", "frame interval p99 (ms)"), ("overruns", "dropped (overruns)")):  # fmt: skip
        base, ours = portaudio[key], native[key]
        ratio = f"{ours / base:7.2f}" if base else "      -"
        print(f"{label:34} {base:12.3f} {ours:10.3f} {ratio}")
    hit_speedups = {}
    for size_name, stores in caches.items():
        print(f"\nCache, {size_name} values (hit = a {HOT_SET}-key working set read {HOT_PASSES} times;"
              " ratio = sled / diskcache)")  # fmt: skip
        print(f"{'store':14} {'put/s':>9} {'put p99 us':>11} {'get all/s':>10} {'hit/s':>10} {'hit p99 us':>11}"
              f" {'hit ratio':>10}")  # fmt: skip
        base = stores["diskcache"]["get_per_s"]
        for name, row in stores.items():
            print(f"{name:14} {row['put_per_s']:9.0f} {row['put_p99_us']:11.1f} {row['get_all_per_s']:10.0f} "
                  f"{row['get_per_s']:10.0f} {row['get_p99_us']:11.1f} {row['get_per_s'] / base:10.2f}")  # fmt: skip
        hit_speedups[size_name] = stores["sled (papo)"]["get_per_s"] / base
    print(f"\nsled disk bytes / content bytes after 60,000 overwrites of 12,000 x 2 KB: {amplification:.2f}")
    print(json.dumps({
        "capture_cpu_pct": round(native["cpu_pct"], 3),
        "capture_cpu_ratio_vs_sounddevice": round(cpu_ratio, 3),
        "cache_hit_speedup_vs_sqlite": round(hit_speedups["1KB"], 2),
        "cache_disk_over_logical": round(amplification, 2),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
