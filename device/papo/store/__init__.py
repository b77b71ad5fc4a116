"""The device's own records: SQLite (WAL) through SQLModel, migrated by Alembic, behind the Store facade."""

from papo.store.kinds import (
    ErasureScope,
    EventSource,
    MemoryKind,
    OutboxKind,
    ReminderRepeat,
    ReminderStatus,
    Role,
    Severity,
)
from papo.store.records import (
    Conversation,
    Erasure,
    ErasureRequest,
    Memory,
    NewTurn,
    Reminder,
    Turn,
    TurnPage,
    WellbeingEvent,
    companion_turn,
    utc_now,
)
from papo.store.store import Store
from papo.store.turns import ErasedTurnError

__all__ = [
    "Conversation", "ErasedTurnError", "Erasure", "ErasureRequest", "ErasureScope", "EventSource", "Memory",
    "MemoryKind", "NewTurn", "OutboxKind", "Reminder", "ReminderRepeat", "ReminderStatus", "Role", "Severity",
    "Store", "Turn", "TurnPage", "WellbeingEvent", "companion_turn", "utc_now",
]  # fmt: skip
