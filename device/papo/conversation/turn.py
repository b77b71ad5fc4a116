"""What flows through one turn of conversation: what was heard, and what the companion did with it."""

from __future__ import annotations

from dataclasses import dataclass, field

from papo.conversation.reminders import ReminderRequest
from papo.conversation.wellbeing import WellbeingSign
from papo.store import Turn


@dataclass(frozen=True)
class HeardTurn:
    """What the person said, as stored, and when their speech ended."""

    text: str
    source: str
    turn_id: str | None = None
    conversation_id: str | None = None
    eos_monotonic: float | None = None

    @classmethod
    def stored(cls, turn: Turn, source: str, eos_monotonic: float | None) -> HeardTurn:
        """The person's turn as stored, heard from `source`, their speech having ended at `eos_monotonic`."""
        return cls(turn.text, source, turn.id, turn.conversation_id, eos_monotonic)


@dataclass
class TurnOutcome:
    """What the companion did with one turn."""

    reply: str | None = None
    wellbeing: WellbeingSign | None = None
    reminder: ReminderRequest | None = None
    first_token_ms: float | None = None
    first_audio_ms: float | None = None
    interrupted: bool = False
    fallback: bool = False
    spoken_sentences: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TurnContext:
    """One turn being answered: what was heard, when speech ended, and what the rules found in it."""

    heard: HeardTurn
    started: float
    sign: WellbeingSign | None
    reminder: ReminderRequest | None
