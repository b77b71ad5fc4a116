"""Giving memory back to the system once work pauses: what a long-running process on a 2 GB board must do."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import os
from functools import cache
from pathlib import Path

from papo.system.logging import fields

log = logging.getLogger(__name__)


@cache
def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


_M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)
DAEMON_ARENAS = 2


def limit_malloc_arenas(arenas: int = DAEMON_ARENAS) -> bool:
    """Cap glibc's malloc arenas (default 8 per core) before the daemon starts its threads; False if not glibc.

    Each thread that allocates while another holds an arena gets a new one; freed memory stays in its arena, so
    the threads of the audio pipeline, the models and the web server spread the heap over many partly empty
    arenas. Two keep the contention low and the RSS of a 2 GB board's daemon down (bench/footprint.py).
    """
    libc = _glibc()
    return libc is not None and libc.mallopt(_M_ARENA_MAX, arenas) == 1


def resident_mb() -> float:
    """The resident memory (MB) of the calling process, from /proc."""
    pages = int(Path("/proc/self/statm").read_text(encoding="ascii").split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def give_back_memory(reason: str) -> float:
    """Collect garbage and return the C heap's free pages to the system (glibc `malloc_trim`); MB given back.

    The model libraries and the review crew allocate and free hundreds of MB per turn from many threads; glibc keeps
    freed pages in its arenas, so without this the daemon's RSS only grows towards its peak.
    """
    before = resident_mb()
    gc.collect()
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
    freed = max(0.0, before - resident_mb())
    rss = round(before - freed)
    log.info("idle: memory returned", extra=fields(reason=reason, freed_mb=round(freed, 1), rss_mb=rss))
    return freed
