"""The fixed vocabularies of the device's records (stored as their string values)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """Who said a turn."""

    PERSON = "person"
    COMPANION = "companion"


class MemoryKind(StrEnum):
    """Where a memory came from."""

    FACT = "fact"  # extracted by the review crew
    SAID = "said"  # the person's own words


class ReminderStatus(StrEnum):
    """Where a reminder is in its life."""

    PENDING = "pending"
    SPOKEN = "spoken"
    CANCELLED = "cancelled"
    MISSED = "missed"  # overdue past the grace (a clock jump, the device off): mentioned once, not said


class ReminderRepeat(StrEnum):
    """How often a reminder comes back once said (or missed)."""

    NONE = "none"
    DAILY = "daily"
    WEEKLY = "weekly"


class Severity(StrEnum):
    """How urgently a caregiver should know."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class EventSource(StrEnum):
    """What noticed a wellbeing sign."""

    RULES = "rules"
    CREW = "crew"


class OutboxKind(StrEnum):
    """What an outbox row carries to the cloud."""

    TURN = "turn"
    WELLBEING = "wellbeing"
    TOMBSTONE = "tombstone"
    WELLBEING_OK = "wellbeing_ok"  # "estou bem" said while the caregiver alert of a wellbeing event was open


class ErasureScope(StrEnum):
    """What an erasure request covered."""

    ALL_HISTORY = "all_history"  # everything the person said, and everything that came from it
    TURNS = "turns"  # some turns, and the replies, memories, events and reminders that came from them
    MEMORIES = "memories"  # memories only (they never leave the device, so no tombstone is sent)
