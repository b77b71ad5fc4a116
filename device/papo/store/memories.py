"""The person's memories: the source of truth the ChromaDB index is rebuilt from."""

from __future__ import annotations

from sqlmodel import col, delete, select

from papo.store.database import Database
from papo.store.ids import new_id
from papo.store.kinds import MemoryKind
from papo.store.records import Memory, utc_now
from papo.store.tables import MemoryRow
from papo.store.turns import require_turn


class MemoryRepository:
    """Keep, list and forget memories."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def add(self, text: str, kind: MemoryKind, turn_id: str | None) -> Memory:
        """Keep one memory; ErasedTurnError if the turn it came from was erased meanwhile."""
        row = MemoryRow(id=new_id(), turn_id=turn_id, kind=MemoryKind(kind).value, text=text, created_at=utc_now())
        with self._db.transaction("keep a memory") as session:
            require_turn(session, turn_id)
            session.add(row)
        return Memory.model_validate(row)

    def get(self, memory_id: str) -> Memory | None:
        """One memory, or None."""
        with self._db.transaction("read a memory") as session:
            row = session.get(MemoryRow, memory_id)
            return None if row is None else Memory.model_validate(row)

    def all(self) -> list[Memory]:
        """Every memory, oldest first."""
        with self._db.transaction("read memories") as session:
            rows = session.exec(select(MemoryRow).order_by(col(MemoryRow.created_at))).all()
            return [Memory.model_validate(row) for row in rows]

    def delete_all(self) -> int:
        """Forget every memory; how many there were."""
        with self._db.transaction("forget memories") as session:
            count = len(session.exec(select(MemoryRow.id)).all())
            session.exec(delete(MemoryRow))
            return count
