"""The web server waits for the voice: a request is held while a decode is in flight, never longer than the bound."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import Future
from typing import Any

from papo.voice_first import VoiceFirst, VoiceFirstGate


def test_nothing_waits_while_no_decode_is_in_flight() -> None:
    voice_first = VoiceFirst(max_wait_s=30)
    asyncio.run(asyncio.wait_for(voice_first.wait_idle(), 5))
    assert not voice_first.busy


def test_a_waiter_is_released_when_the_last_decode_ends_on_another_thread() -> None:
    voice_first = VoiceFirst(max_wait_s=30)
    decodes: list[Future[str]] = [Future(), Future()]
    for decode in decodes:
        voice_first.track(decode)

    async def scenario() -> list[str]:
        seen: list[str] = []
        waiting = asyncio.create_task(voice_first.wait_idle())
        await asyncio.sleep(0)  # the waiter is registered
        await asyncio.to_thread(decodes[0].set_result, "first")
        seen.append("done" if waiting.done() else "held")  # one decode is still running
        await asyncio.to_thread(decodes[1].set_result, "second")
        await asyncio.wait_for(waiting, 5)
        seen.append("released")
        return seen

    assert asyncio.run(scenario()) == ["held", "released"]
    assert not voice_first.busy


def test_a_request_is_never_held_past_the_bound() -> None:
    voice_first = VoiceFirst(max_wait_s=0.05)
    voice_first.track(Future())  # a decode that never ends
    started = time.monotonic()
    asyncio.run(voice_first.wait_idle())
    assert time.monotonic() - started < 5
    assert voice_first.busy and not voice_first._waiters  # the timed-out waiter was forgotten


def _scope(path: str) -> Any:
    return {"type": "http", "path": path, "method": "GET", "headers": []}


def test_the_gate_holds_the_page_but_not_the_health_check() -> None:
    voice_first = VoiceFirst(max_wait_s=30)
    decode: Future[str] = Future()
    voice_first.track(decode)
    served: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        served.append(scope["path"])

    async def nothing(*_: Any) -> Any:
        return {}

    async def scenario() -> None:
        gate = VoiceFirstGate(app, voice_first)
        page = asyncio.create_task(gate(_scope("/api/v1/status"), nothing, nothing))
        await asyncio.wait_for(gate(_scope("/health"), nothing, nothing), 5)
        assert served == ["/health"]  # at once, while the page waits
        ended = threading.Thread(target=decode.set_result, args=("text",))
        ended.start()
        await asyncio.wait_for(page, 5)
        ended.join()

    asyncio.run(scenario())
    assert served == ["/health", "/api/v1/status"]
