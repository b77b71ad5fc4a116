"""The Store facade: one SQLite database and its repositories; the only way other layers reach the records."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from papo.store.database import Database, DatabaseStatus
from papo.store.erasures import ErasureRepository
from papo.store.memories import MemoryRepository
from papo.store.outbox import OutboxCap, OutboxRepository
from papo.store.reminders import ReminderRepository
from papo.store.turns import TurnRepository
from papo.store.wellbeing import WellbeingRepository


class Store:
    """The device's records: turns, memories, reminders, wellbeing events, the sync outbox and erasure requests."""

    def __init__(
        self, path: Path, device_id: str, conversation_idle_s: float = 300.0, outbox_cap: OutboxCap | None = None
    ) -> None:
        """Open (check, migrate; a corrupt file is set aside and a fresh one started) the store at `path`."""
        self.path = path
        self._db = Database(path)
        self.turns = TurnRepository(self._db, device_id, conversation_idle_s)
        self.memories = MemoryRepository(self._db)
        self.reminders = ReminderRepository(self._db)
        self.wellbeing = WellbeingRepository(self._db)
        self.outbox = OutboxRepository(self._db, outbox_cap)
        self.erasures = ErasureRepository(self._db)

    @property
    def status(self) -> DatabaseStatus:
        """Whether the disk was full at the last write, and whether a corrupt file was set aside at start."""
        return self._db.status

    def close(self) -> None:
        """Release the database connections."""
        self._db.close()

    def __enter__(self) -> Store:
        """Use the store in a with-block; closed at its end."""
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        """Close the store."""
        self.close()
