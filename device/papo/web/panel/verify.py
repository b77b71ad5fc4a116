"""Verifying the prepared models again (sha256 of every file) in a background thread, with its progress."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from papo.models.manifest import ModelEntry
from papo.models.provision import verify
from papo.system.logging import fields

log = logging.getLogger(__name__)

JobState = Literal["idle", "running", "done"]


@dataclass(frozen=True)
class Verified:
    """One model's verification: every file matched its sha256, or what is wrong."""

    ok: bool
    problems: list[str]
    at: datetime


@dataclass
class VerifyJob:
    """The one verification run of this daemon: idle, running (files checked so far) or done, and its results."""

    state: JobState = "idle"
    checked_files: int = 0
    total_files: int = 0
    results: dict[str, Verified] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def start(self, entries: list[ModelEntry], models_dir: Path) -> bool:
        """Start verifying `entries` in a thread; False if a run is already going."""
        with self._lock:
            if self.state == "running":
                return False
            self.state, self.checked_files = "running", 0
            self.total_files = sum(len(entry.files) for entry in entries)
            self._thread = threading.Thread(
                target=self._run, args=(entries, models_dir), name="verify-models", daemon=True
            )
            self._thread.start()
            return True

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the run to end; whether it did."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.state != "running"

    def _run(self, entries: list[ModelEntry], models_dir: Path) -> None:
        try:
            for entry in entries:
                checks = verify(entry, models_dir)
                problems = [f"{c.name}: {c.problem}" for c in checks if not c.ok]
                self.results[entry.name] = Verified(not problems, problems, datetime.now(UTC))
                self.checked_files += len(entry.files)
                log.info("model verified", extra=fields(model=entry.name, ok=not problems))
        except Exception:  # a failing check must not leave the page saying "running" for ever
            log.exception("model verification failed")
        finally:
            self.state = "done"
