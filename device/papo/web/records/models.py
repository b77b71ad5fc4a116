"""The JSON shapes of the records API (requests and responses), so the OpenAPI schema says exactly what is sent."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from papo.store import (
    Erasure,
    Memory,
    MemoryKind,
    Reminder,
    ReminderRepeat,
    ReminderStatus,
    Role,
    Severity,
    Turn,
    WellbeingEvent,
    utc_now,
)
from papo.store.records import UtcTime

WHAT_MAX = 200


class ApiModel(BaseModel):
    """A JSON body of the records API."""

    model_config = ConfigDict(frozen=True, extra="forbid")


EARLIEST_YEAR, LATEST_YEAR = 2000, 2100


def _local_to_utc(value: datetime) -> datetime:
    """A time without a zone is the device's local time (what a datetime-local field sends); all kept in UTC."""
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"the time must be between the years {EARLIEST_YEAR} and {LATEST_YEAR}")
    return value.astimezone(UTC)


LocalOrUtcTime = Annotated[datetime, AfterValidator(_local_to_utc)]
"""A time; without a zone it is taken as the device's local time."""


class TurnOut(ApiModel):
    """One thing said: by the person or by Papo."""

    id: str = Field(description="The turn's id (what deleting it takes)")
    conversation_id: str
    role: Role = Field(description="person or companion")
    text: str = Field(description="What was said")
    started_at: UtcTime
    reply_to: str | None = Field(description="For Papo's answer: the turn it answered")

    @classmethod
    def of(cls, turn: Turn) -> TurnOut:
        """The API shape of a stored turn."""
        return cls(
            id=turn.id, conversation_id=turn.conversation_id, role=turn.role, text=turn.text,
            started_at=turn.started_at, reply_to=turn.reply_to,
        )  # fmt: skip


class DayOut(ApiModel):
    """The turns of one day (the device's local date), newest first."""

    day: date
    turns: list[TurnOut]


class HistoryOut(ApiModel):
    """One page of the history, grouped by day, newest first."""

    q: str = Field(description="The words searched for (empty: everything)")
    page: int = Field(ge=1)
    pages: int = Field(ge=1, description="How many pages there are")
    total: int = Field(ge=0, description="How many turns matched, on every page")
    days: list[DayOut]


class ErasureOut(ApiModel):
    """What an erasure removed, and whether it is already wiped from the memory index and cache."""

    erasure_id: str = Field(description="The erasure request (`papo forget --status` lists it)")
    turns: int
    memories: int
    wellbeing_events: int
    reminders: int
    pending_reminders_kept: int
    wiped: bool = Field(description="Already wiped from the memory index and cache (else the service does it soon)")
    cloud_told: bool = Field(description="A request to erase the cloud's copy is queued (always, unless memories only)")

    @classmethod
    def of(cls, erasure: Erasure, wiped: bool, cloud_told: bool) -> ErasureOut:
        """The API shape of an erasure."""
        return cls(
            erasure_id=erasure.request.id, turns=erasure.turns, memories=erasure.memories,
            wellbeing_events=erasure.wellbeing_events, reminders=erasure.reminders,
            pending_reminders_kept=erasure.pending_reminders_kept, wiped=wiped, cloud_told=cloud_told,
        )  # fmt: skip


class EraseAllIn(ApiModel):
    """Erase everything: conversations, memories, wellbeing events and reminders already said."""

    include_reminders: bool = Field(default=False, description="Also erase reminders not said yet")


class MemoryOut(ApiModel):
    """Something Papo remembers about the person."""

    id: str
    kind: MemoryKind = Field(description="fact (noted from a conversation) or said (the person's own words)")
    text: str
    created_at: UtcTime
    turn_id: str | None

    @classmethod
    def of(cls, memory: Memory) -> MemoryOut:
        """The API shape of a memory."""
        return cls(
            id=memory.id, kind=memory.kind, text=memory.text, created_at=memory.created_at, turn_id=memory.turn_id
        )


What = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=WHAT_MAX)]


class ReminderIn(ApiModel):
    """A reminder as a caregiver writes it: what Papo will say, when, and how often."""

    what: What = Field(description=f"What to remind the person of (1 to {WHAT_MAX} characters)")
    due_at: LocalOrUtcTime = Field(description="When to say it (without a zone: the device's local time)")
    repeat: ReminderRepeat = Field(default=ReminderRepeat.NONE, description="none, daily or weekly")


class NewReminderIn(ReminderIn):
    """A new reminder: its time must be in the future."""

    @field_validator("due_at")
    @classmethod
    def _in_the_future(cls, value: datetime) -> datetime:
        if value <= utc_now():
            raise ValueError("the time must be in the future")
        return value


class ReminderOut(ApiModel):
    """A reminder and where it is in its life."""

    id: str
    what: str
    due_at: UtcTime
    repeat: ReminderRepeat
    status: ReminderStatus
    spoken_at: UtcTime | None = Field(description="When it was last said")
    created_at: UtcTime
    from_conversation: bool = Field(description="Asked for aloud (else set on this page)")

    @classmethod
    def of(cls, reminder: Reminder) -> ReminderOut:
        """The API shape of a reminder."""
        return cls(
            id=reminder.id, what=reminder.what, due_at=reminder.due_at, repeat=reminder.repeat,
            status=reminder.status, spoken_at=reminder.spoken_at, created_at=reminder.created_at,
            from_conversation=reminder.turn_id is not None,
        )  # fmt: skip


class WellbeingOut(ApiModel):
    """A sign of trouble noticed: when, what, how urgent, the words that showed it, and who has seen it."""

    id: str
    kind: str = Field(description="distress, fall, emergency, unwell, loneliness or sadness")
    severity: Severity
    evidence: str = Field(description="Only the words that matched (nothing else of what was said is kept)")
    created_at: UtcTime
    seen_at: UtcTime | None
    seen_by: str | None

    @classmethod
    def of(cls, event: WellbeingEvent) -> WellbeingOut:
        """The API shape of a wellbeing event."""
        return cls(
            id=event.id, kind=event.kind, severity=event.severity, evidence=event.evidence,
            created_at=event.created_at, seen_at=event.seen_at, seen_by=event.seen_by,
        )  # fmt: skip
