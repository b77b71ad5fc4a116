"""Giving memory back once the daemon is idle: freed C-heap pages really leave the process."""

from __future__ import annotations

import logging

import pytest

from papo.system.memory import give_back_memory, limit_malloc_arenas, resident_mb


def test_freed_heap_pages_held_by_the_allocator_are_returned_to_the_system(caplog: pytest.LogCaptureFixture) -> None:
    chunks = [bytearray(100_000) for _ in range(2000)]  # 200 MB of heap blocks (under glibc's mmap threshold)
    for chunk in chunks:
        chunk[::4096] = b"x" * len(chunk[::4096])  # touch every page
    kept = chunks[::10]  # every tenth stays: the heap cannot simply shrink from its top
    del chunks
    held = resident_mb()
    with caplog.at_level(logging.INFO, logger="papo.system.memory"):
        freed = give_back_memory("test")
    assert freed > 100, (held, freed)  # ~180 MB were free inside the heap
    assert resident_mb() < held - 100
    assert len(kept) == 200
    record = next(r for r in caplog.records if r.getMessage() == "idle: memory returned")
    assert record.freed_mb == pytest.approx(freed, abs=0.1) and record.reason == "test"  # type: ignore[attr-defined]


def test_the_malloc_arena_cap_is_taken_by_glibc() -> None:
    assert limit_malloc_arenas(16)  # the cap only bounds arenas made from now on: harmless to this test process
