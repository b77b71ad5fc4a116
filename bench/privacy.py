"""Benchmark: "erase everything" (issue 11) — the device's erasure with on-disk scrubbing, and the cloud's confirmation.

Run: uv run python bench/privacy.py [--quick]   (about 3 minutes; --quick: a tenth of the data)

A device store of 10,000 turns (each carrying a made-up marker word), 1,000 memories (SQLite and the ChromaDB
index, embedded by the real MiniLM model) and 64 MB of cached spoken replies (sled), all synced first to a real
cloud (Mosquitto of its own, `papo-cloud ingest`, PostgreSQL, Redis). Then, with the device offline:
- baseline: a copy of the same SQLite file, its rows simply DELETEd (the turns, conversations, memories,
  wellbeing events and outbox rows) and committed — no scrubbing, the index and the cache left as they are;
- papo: `ErasureRepository.erase_all` (one transaction, secure_delete, WAL truncated, VACUUM) and the
  `Scrubber` (the ChromaDB files rewritten, the sled cache wiped);
- the marker searched byte by byte in every file under the state directory;
- the device reconnects: seconds until the cloud's confirmation is recorded on the device (the cloud has
  erased the device's turns from PostgreSQL and its live stream from Redis by then), and the marker searched
  in a `pg_dump` of the cloud database and in every Redis key of the run's prefix.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import psycopg
import redis

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from papo import _native
from papo.cache import open_cache
from papo.conversation.memory import MemoryStore, open_memory
from papo.privacy.scrub import Scrubber
from papo.settings import Settings, load_settings
from papo.store import MemoryKind, NewTurn, Store
from papo_sync.cloud.schema import migrate
from papo_sync.device.agent import AgentConfig, SyncAgent
from support.broker import Broker, device_password, enrol

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "postgresql://postgres@127.0.0.1:5432/papo_bench_privacy"
TENANT = "bench"
DEVICE = "dev-0000"
MARKER = "zorbaflinque"
PAPO_CLOUD = str(Path(sys.executable).with_name("papo-cloud"))
CACHE_ENTRY_BYTES = 64_000


def _timed(step: Callable[[], object]) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def _fill_turns(store: Store, turns: int) -> None:
    batch = 1_000
    for start in range(0, turns, batch):
        store.turns.record_many(
            [
                NewTurn(
                    text=f"Papo, hoje a {MARKER} número {n} foi comigo à feira comprar frutas.",
                    language="pt",
                    audio_start_s=0,
                    audio_end_s=3.0,
                    audio_duration_s=3.0,
                    stt_model="whisper-base",
                    stt_window="short",
                    vad_model="silero-vad-v6",
                    stt_ms=150.0,
                )
                for n in range(start, min(start + batch, turns))
            ],
            "mic",
        )


def _fill_memories(memory: MemoryStore, count: int) -> None:
    for n in range(count):
        memory.remember(f"A pessoa tem uma {MARKER} chamada Flor número {n}.", MemoryKind.FACT, None)


def _fill_cache(cache: _native.Cache, megabytes: int) -> None:
    rng = np.random.default_rng(7)
    for _ in range(megabytes * 1_000_000 // CACHE_ENTRY_BYTES):
        cache.put("tts", uuid.uuid4().bytes, rng.random(CACHE_ENTRY_BYTES // 4, dtype=np.float32).tobytes())


def _files(directory: Path) -> Iterator[Path]:
    return (path for path in directory.rglob("*") if path.is_file())


def marker_hits_in_files(directory: Path) -> list[str]:
    """The files under `directory` whose bytes hold the marker."""
    needle = MARKER.encode()
    return [str(path.relative_to(directory)) for path in _files(directory) if needle in path.read_bytes()]


def _plain_delete(database: Path) -> float:
    """The baseline: the same rows DELETEd and committed, nothing scrubbed."""
    with sqlite3.connect(database) as connection:
        started = time.perf_counter()
        for table in ("turn", "conversation", "memory", "wellbeingevent", "outbox"):
            connection.execute(f"DELETE FROM {table}")
        connection.commit()
        return time.perf_counter() - started


def _cloud_env(broker: Broker, prefix: str) -> dict[str, str]:
    return {
        **os.environ, "PAPO_CLOUD_DATABASE_URL": DATABASE, "PAPO_CLOUD_REDIS_PREFIX": prefix,
        "PAPO_CLOUD_BROKER__PORT": str(broker.port), "PAPO_CLOUD_BROKER__USERNAME": "ingest",
        "PAPO_CLOUD_BROKER__PASSWORD": "ingest-secret",
    }  # fmt: skip


def _agent(broker: Broker, store: Store) -> SyncAgent:
    config = AgentConfig(host="127.0.0.1", port=broker.port, tenant=TENANT, device_id=DEVICE, username=DEVICE,
                         password=device_password(DEVICE))  # fmt: skip
    return SyncAgent(config, store.outbox, session_seq=1)


def _wait(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.01)  # a benchmark polling for its end condition, not a test synchronising


def _cloud_hits(prefix: str) -> int:
    dump = subprocess.run(
        ["pg_dump", "--data-only", DATABASE], capture_output=True, check=True, timeout=120
    ).stdout  # fmt: skip
    hits = dump.count(MARKER.encode())
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    for key in client.scan_iter(f"{prefix}:*"):
        value = client.dump(key)
        hits += int(value is not None and MARKER.encode() in value)
    return hits


def _settings(state: Path, cache_mb: int) -> Settings:
    return load_settings(state_dir=state, cache={"max_mb": cache_mb * 2, "max_disk_mb": cache_mb * 16})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a tenth of the data (a smoke run)")
    args = parser.parse_args()
    turns, memories, cache_mb = (1_000, 100, 8) if args.quick else (10_000, 1_000, 64)
    prefix = f"benchpriv{uuid.uuid4().hex[:6]}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS papo_bench_privacy WITH (FORCE)")
        admin.execute("CREATE DATABASE papo_bench_privacy")
    migrate(DATABASE)
    with psycopg.connect(DATABASE, autocommit=True) as db:
        enrol(db, {DEVICE: TENANT})
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        state = root / "state"
        settings = _settings(state, cache_mb)
        broker = Broker(root / "broker", {DEVICE: TENANT})
        ingestor = subprocess.Popen([PAPO_CLOUD, "ingest"], env=_cloud_env(broker, prefix), stderr=subprocess.DEVNULL)
        try:
            store = Store(settings.store_path, DEVICE, 300)
            cache = open_cache(settings)
            assert cache is not None, "the cache could not be opened"
            print(f"writing {turns:,} turns, {memories:,} memories, {cache_mb} MB of cache...", file=sys.stderr)
            _fill_turns(store, turns)
            memory = open_memory(settings, store.memories, cache)
            _fill_memories(memory, memories)
            _fill_cache(cache, cache_mb)
            print("syncing them to the cloud...", file=sys.stderr, flush=True)
            agent = _agent(broker, store)
            agent.start()
            if not agent.wait_until_drained(600):
                raise RuntimeError("the turns did not sync")
            agent.stop()  # the device goes offline
            cache.flush()
            before = marker_hits_in_files(state)
            cloud_before = _cloud_hits(prefix)

            copy = root / "baseline.sqlite3"
            with sqlite3.connect(settings.store_path) as source, sqlite3.connect(copy) as target:
                source.backup(target)
            baseline_s = _plain_delete(copy)

            print("erasing everything...", file=sys.stderr, flush=True)
            scrubber = Scrubber(store, settings.memory_dir, lambda: memory, lambda: cache)
            erase_s = _timed(store.erasures.erase_all)
            scrub_s = _timed(scrubber.run_pending)
            (request,) = store.erasures.requests()
            cache.flush()
            device_hits = marker_hits_in_files(state)

            print("reconnecting for the cloud's confirmation...", file=sys.stderr, flush=True)
            agent = _agent(broker, store)
            started = time.perf_counter()
            agent.start()
            _wait(lambda: (store.erasures.get(request.id) or request).confirmed_at is not None, 60, "the confirmation")
            confirm_s = time.perf_counter() - started
            agent.stop()
            cloud_hits = _cloud_hits(prefix)
            memory.close()
            cache.close()
            store.close()
        finally:
            ingestor.terminate()
            ingestor.wait(timeout=30)
            broker.stop()
            shutil.rmtree(root / "broker", ignore_errors=True)
    total_s = erase_s + scrub_s
    print(f"\nErase everything: {turns:,} turns, {memories:,} memories (SQLite + ChromaDB), {cache_mb} MB of cache")
    print(f"marker hits before: device files {len(before)} ({', '.join(sorted(before))}), cloud {cloud_before:,}")
    print(f"{'measure':58} {'baseline':>9} {'papo':>9} {'ratio':>7}")
    print(f"{'device: erase (s) (baseline: plain DELETEs, no scrubbing)':58} {baseline_s:9.3f} {total_s:9.3f} "
          f"{total_s / baseline_s:7.1f}")  # fmt: skip
    print(f"{'  of which: the store (transaction, VACUUM) (s)':58} {'':9} {erase_s:9.3f}")
    print(f"{'  of which: the memory index and the cache (s)':58} {'':9} {scrub_s:9.3f}")
    print(f"{'cloud: reconnect → erasure confirmed on the device (s)':58} {'':9} {confirm_s:9.3f}")
    print(
        f"{'marker hits after: device files / cloud (pg_dump + Redis)':58} {'':9} {len(device_hits):>9} {cloud_hits:>7}"
    )
    print(json.dumps({
        "erase_all_s": round(total_s, 3), "baseline_delete_s": round(baseline_s, 3),
        "cloud_confirm_s": round(confirm_s, 3), "marker_hits": len(device_hits) + cloud_hits,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
