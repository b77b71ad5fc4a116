"""Benchmark: the local web page against the voice pipeline it must not slow down (issue 13).

Run: uv run python bench/web.py [--quick]   (about 5 minutes on 2 cores; generated speech is cached between runs;
needs the PulseAudio programs and Chromium, which `make test` installs)

`papo run` listens on the PulseAudio test rig's microphone, into which generated pt-BR sentences are played in
real time (conversation off: the measure is the pipeline's end of speech → transcript, stored with every turn).
The same sentences are played three times: with the page idle, while 20 concurrent clients fetch the status
API as fast as they can (requests/s and p99), and while they fetch a static file of the same app (the baseline,
same run). The load generator runs in another process at a low priority, as a phone would be another machine.
Last, Chromium loads the status page once with an empty cache: the bytes it transferred (compressed as
sent, headers included; the live-status stream counted only up to the load).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).parent))

import httpx

from papo.audio.wav import write_wav
from papo.settings import load_settings
from papo.speech.voicegen import with_silence
from stt import Clip, generated_clips
from support.browser import CHROMIUM, HOST, Daemon, Owner, daemon_env, owner_session, running_daemon
from support.pulse import PulseRig
from support.wait import wait_until

CLIENTS = 20
STATUS_API = "/api/v1/status"
STATIC = "/static/app.css"
STATUS_PAGE = "/"
GOAL_PAGE_KB = 60
GOAL_VOICE_RATIO = 1.10


@dataclass(frozen=True)
class Load:
    """What the concurrent clients measured on one path."""

    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        """Successful requests per second."""
        return self.requests / self.seconds


async def _hammer(base: str, path: str, headers: dict[str, str], cookies: dict[str, str], stop_at: float) -> Load:
    latencies: list[float] = []
    errors = 0
    started = time.monotonic()
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=base, headers=headers, cookies=cookies, limits=limits, timeout=30) as http:

        async def client() -> None:
            nonlocal errors
            while time.monotonic() < stop_at:
                sent = time.perf_counter()
                response = await http.get(path)
                if response.status_code == 200:
                    latencies.append(time.perf_counter() - sent)
                else:
                    errors += 1

        await asyncio.gather(*(client() for _ in range(CLIENTS)))
    elapsed = time.monotonic() - started
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else float("nan")
    return Load(len(latencies), errors, elapsed, statistics.median(latencies) * 1000 if latencies else 0, p99 * 1000)


def _load_process(base: str, path: str, headers: dict[str, str], cookies: dict[str, str], seconds: float,
                  out: Any) -> None:  # fmt: skip
    os.nice(10)  # a phone is another machine: the generator yields the CPU to the daemon where it can
    load = asyncio.run(_hammer(base, path, headers, cookies, time.monotonic() + seconds))
    out.put(load)


@contextmanager
def hammered(owner: Owner, path: str, seconds: float) -> Iterator[list[Load]]:
    """20 clients fetching `path` in the owner's session for `seconds`, in another process; the result on exit."""
    queue: multiprocessing.Queue[Load] = multiprocessing.Queue()
    headers = {"host": owner.daemon.host, "accept-encoding": "gzip, br"}
    process = multiprocessing.Process(
        target=_load_process, args=(owner.daemon.base, path, headers, dict(owner.client.cookies), seconds, queue)
    )
    result: list[Load] = []
    process.start()
    try:
        yield result
        result.append(queue.get(timeout=seconds + 120))
    finally:
        process.join(timeout=30)
        if process.is_alive():
            process.kill()


def _turns(state_dir: Path) -> list[float]:
    """End of speech → transcript (ms) of every stored turn, oldest first."""
    with sqlite3.connect(state_dir / "papo.sqlite3") as db:
        rows = db.execute("SELECT eos_to_text_ms FROM turn WHERE role = 'person' ORDER BY seq").fetchall()
    return [float(r[0]) for r in rows if r[0] is not None]


def feed(rig: PulseRig, daemon: Daemon, room: Path, expected: int) -> list[float]:
    """Play `room` into the test microphone in real time; the end of speech → transcript of the turns it made."""
    before = len(_turns(daemon.state_dir))
    rig.play_into_room(room).wait(timeout=600)
    wait_until(lambda: len(_turns(daemon.state_dir)) >= before + expected, 120,
               lambda: f"{expected} turns (have {len(_turns(daemon.state_dir)) - before})")  # fmt: skip
    return _turns(daemon.state_dir)[before:]


def first_load_bytes(owner: Owner) -> tuple[int, list[tuple[str, int]]]:
    """Bytes Chromium transferred for the first load of the status page (empty cache), and per resource."""
    from playwright.sync_api import sync_playwright

    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_playwright() as playwright:
        args = ["--no-sandbox"] if os.geteuid() == 0 else []  # Chromium's sandbox cannot run as root (see browser.py)
        args.append(f"--host-resolver-rules=MAP {HOST} 127.0.0.1")
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            context = browser.new_context()
            context.add_cookies(
                [{"name": k, "value": v, "url": owner.daemon.origin} for k, v in owner.client.cookies.items()]
            )
            page = context.new_page()
            cdp = context.new_cdp_session(page)
            cdp.send("Network.enable")
            cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
            urls: dict[str, str] = {}
            done: dict[str, int] = {}
            streaming: dict[str, int] = {}
            cdp.on("Network.requestWillBeSent", lambda e: urls.__setitem__(e["requestId"], e["request"]["url"]))
            cdp.on("Network.loadingFinished", lambda e: done.__setitem__(e["requestId"], int(e["encodedDataLength"])))
            cdp.on("Network.dataReceived", lambda e: streaming.__setitem__(
                e["requestId"], streaming.get(e["requestId"], 0) + int(e["encodedDataLength"])))  # fmt: skip
            page.goto(owner.daemon.origin + STATUS_PAGE, wait_until="load")

            def loaded() -> bool:  # every request done, and the live stream (opened after load) sent its first event
                open_ = [rid for rid in urls if rid not in done]
                return bool(open_) and all(streaming.get(rid, 0) > 0 for rid in open_)

            deadline = time.monotonic() + 15
            while not loaded() and time.monotonic() < deadline:
                page.wait_for_timeout(50)  # lets Playwright deliver the devtools events while polling
            if not loaded():
                raise RuntimeError(f"the status page did not finish loading: {urls} {done} {streaming}")
            sizes = [(urls.get(rid, rid), done.get(rid, streaming.get(rid, 0))) for rid in urls]
        finally:
            browser.close()
    return sum(size for _, size in sizes), sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="4 sentences per phase instead of 10 (a smoke run)")
    args = parser.parse_args()
    bench_state = Path.home() / ".cache" / "papo-bench"
    cache = bench_state / "speech"
    cache.mkdir(parents=True, exist_ok=True)
    print("generating speech (cached after the first run)...", file=sys.stderr, flush=True)
    clips: list[Clip] = generated_clips(load_settings(state_dir=bench_state), cache, "pt-br", "sentences_pt.txt")
    clips = clips[: 4 if args.quick else 10]
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        room = root / "room.wav"
        write_wav(room, with_silence([c.audio for c in clips], gap_s=2.0, lead_s=0.5))
        room_s = sum(len(c.audio) for c in clips) / 16_000 + 2.0 * len(clips) + 0.5
        (root / "pulse").mkdir()
        rig = PulseRig(root / "pulse")
        state = root / "state"
        state.mkdir()
        (bench_state / "models").mkdir(exist_ok=True)
        (state / "models").symlink_to(bench_state / "models")
        env = daemon_env(state, rig.env | {
            "PAPO_AUDIO__INPUT_DEVICE": "papo_mic", "PAPO_CONVERSATION__ENABLED": "false",
            "PAPO_PRIVACY__KEEP_UNADDRESSED": "true", "PAPO_CACHE__ENABLED": "false",
        })  # fmt: skip
        try:
            with running_daemon(env, ready_timeout=300) as daemon, owner_session(daemon) as owner:
                daemon.wait_health(lambda h: h["pipeline"]["state"] == "listening", 120)
                print("warm-up feed...", file=sys.stderr, flush=True)
                feed(rig, daemon, room, len(clips))
                print("page idle...", file=sys.stderr, flush=True)
                idle = feed(rig, daemon, room, len(clips))
                print(f"status API hammered by {CLIENTS} clients...", file=sys.stderr, flush=True)
                with hammered(owner, STATUS_API, room_s) as status_load:
                    busy = feed(rig, daemon, room, len(clips))
                print(f"static file hammered by {CLIENTS} clients...", file=sys.stderr, flush=True)
                with hammered(owner, STATIC, room_s) as static_load:
                    busy_static = feed(rig, daemon, room, len(clips))
                print("first load of the status page in Chromium...", file=sys.stderr, flush=True)
                page_bytes, resources = first_load_bytes(owner)
                daemon.stop()
        finally:
            rig.close()

    status, static = status_load[0], static_load[0]
    idle_p50, busy_p50, static_p50 = (statistics.median(v) for v in (idle, busy, busy_static))
    ratio = busy_p50 / idle_p50
    print(f"\n{len(clips)} generated pt-BR sentences per phase, fed in real time on the PulseAudio test microphone;")
    print(f"{CLIENTS} concurrent keep-alive clients in another process (nice 10), owner session, 2 shared cores.")
    print(f"{'measure':60} {'baseline':>10} {'page':>10} {'ratio':>7}")
    rows = [
        ("requests/s (static file → status API)", static.rps, status.rps),
        ("p50 latency ms (static file → status API)", static.p50_ms, status.p50_ms),
        ("p99 latency ms (static file → status API)", static.p99_ms, status.p99_ms),
        ("end of speech → transcript p50 ms (idle → status hammered)", idle_p50, busy_p50),
        ("end of speech → transcript p50 ms (idle → static hammered)", idle_p50, static_p50),
    ]
    for name, baseline, ours in rows:
        print(f"{name:60} {baseline:10.1f} {ours:10.1f} {ours / baseline:7.2f}")
    print(f"errors: status API {status.errors}, static file {static.errors}")
    print(f"\nFirst load of the status page (Chromium, empty cache, as transferred): {page_bytes / 1024:.1f} KB"
          f" (goal ≤ {GOAL_PAGE_KB} KB)")  # fmt: skip
    for url, size in resources:
        print(f"  {size / 1024:8.1f} KB  {url.removeprefix(owner.daemon.origin)}")
    print(f"voice slowdown while the status API is hammered: {ratio:.2f} (goal ≤ {GOAL_VOICE_RATIO})")
    print(json.dumps({
        "status_api_rps": round(status.rps, 1), "status_p99_ms": round(status.p99_ms, 1),
        "page_first_load_kb": round(page_bytes / 1024, 1), "voice_slowdown_ratio": round(ratio, 3),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
