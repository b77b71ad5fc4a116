"""After an erasure: rewrite the memory index and cache files so that nothing erased is left in them."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from papo import _native
from papo.errors import PapoError
from papo.store import ErasureRequest, Store
from papo.store.database import quarantined
from papo.system.logging import fields

if TYPE_CHECKING:
    from papo.conversation.memory import MemoryStore

log = logging.getLogger(__name__)


class ScrubError(PapoError):
    """The memory index or the cache could not be rewritten after an erasure."""


class Scrubber:
    """Wipes erased records from the memory index (ChromaDB) and the cache (sled), one wipe at a time.

    SQLite is wiped by the erasure itself; the index and the cache are held open by one process (the companion
    service when it runs), which finds the requests still to wipe in the store and marks them done.
    `memory` gives the index when this process has it open; else the index directory is rewritten directly.
    The cache holds only recomputable results (spoken replies, embeddings), so it is wiped whole; so is
    `crew_dir`, where CrewAI keeps the inputs and outputs of its last review (the conversation's words).
    """

    def __init__(
        self,
        store: Store,
        memory_dir: Path,
        memory: Callable[[], MemoryStore | None],
        cache: Callable[[], _native.Cache | None],
        crew_dir: Path | None = None,
    ) -> None:
        self._store = store
        self._memory_dir = memory_dir
        self._memory = memory
        self._cache = cache
        self._crew_dir = crew_dir
        self._lock = threading.Lock()

    def run_pending(self) -> list[ErasureRequest]:
        """Wipe what the requests not yet wiped erased, then mark them wiped; the requests done."""
        with self._lock:
            pending = self._store.erasures.unscrubbed()
            if not pending:
                return []
            started = time.perf_counter()
            self._wipe_index()
            self._wipe_cache()
            if self._crew_dir is not None:
                shutil.rmtree(self._crew_dir, ignore_errors=True)  # recreated by CrewAI's next review
            for set_aside in quarantined(self._store.path):  # a damaged store set aside still holds words
                set_aside.unlink(missing_ok=True)
            self._store.erasures.mark_scrubbed([request.id for request in pending])
        log.info(
            "erasure wiped from the memory index and cache",
            extra=fields(requests=len(pending), ms=round((time.perf_counter() - started) * 1000)),
        )
        return pending

    def _wipe_index(self) -> None:
        memory = self._memory()
        if memory is not None:
            memory.scrub()
            return
        from papo.conversation.memory import scrub_index

        scrub_index(self._memory_dir, {row.id for row in self._store.memories.all()})

    def _wipe_cache(self) -> None:
        cache = self._cache()
        if cache is None:
            return
        try:
            cache.wipe()
        except _native.NativeError as exc:
            raise ScrubError(f"cannot wipe the cache: {exc}; check the state directory's free space") from None


def wipe_now(scrubber: Scrubber) -> bool:
    """Wipe pending erasures from the memory index and cache at once; False (logged) if it failed.

    The erasure stays a request, so the service's watcher tries again.
    """
    try:
        scrubber.run_pending()
    except Exception:
        log.exception("cannot wipe the erasure from the memory index and cache yet")
        return False
    return True
