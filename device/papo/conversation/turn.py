"""What flows through one turn of conversation: what was heard, whether it is kept, what the companion did with it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from papo.conversation.reminders import ReminderRequest
from papo.conversation.wake import mentions
from papo.conversation.wellbeing import WellbeingSign
from papo.settings import Settings
from papo.store import NewTurn, Store, Turn

if TYPE_CHECKING:
    from papo.conversation.companion import Companion


@dataclass(frozen=True)
class HeardTurn:
    """What the person said (its words in memory), the stored turn's ids if it was kept, and when speech ended."""

    text: str
    source: str
    turn_id: str | None = None
    conversation_id: str | None = None
    eos_monotonic: float | None = None

    @classmethod
    def stored(cls, turn: Turn, source: str, eos_monotonic: float | None) -> HeardTurn:
        """The person's turn as stored, heard from `source`, their speech having ended at `eos_monotonic`."""
        return cls(turn.text, source, turn.id, turn.conversation_id, eos_monotonic)


@dataclass(frozen=True)
class Admitted:
    """One transcribed utterance after the privacy rule: what the companion gets, and whether it was for Papo."""

    heard: HeardTurn
    addressed: bool

    @property
    def kept(self) -> bool:
        """Whether it was stored as a turn."""
        return self.heard.turn_id is not None


def admit(
    new: NewTurn, source: str, eos_monotonic: float, store: Store, settings: Settings, companion: Companion | None
) -> Admitted:
    """Decide whether `new` was said to Papo and store it only then (or when the household keeps everything).

    The companion decides (wake word, follow-up window from when the person began speaking); without one, the
    wake words alone. Speech not kept stays in memory, for the companion's wellbeing rules, and is dropped.
    """
    text = new.text
    if companion is not None:
        addressed = companion.addressed(text, began=eos_monotonic - (new.audio_end_s - new.audio_start_s))
    else:
        addressed = mentions(text, settings.conversation.wake_words)
    if addressed or settings.privacy.keep_unaddressed:
        return Admitted(HeardTurn.stored(store.turns.record(new, source), source, eos_monotonic), addressed)
    return Admitted(HeardTurn(text, source, eos_monotonic=eos_monotonic), addressed)


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
    checked_in: bool = False
    spoken_sentences: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TurnContext:
    """One turn being answered: what was heard, when speech ended, what the rules found, whether it was for Papo."""

    heard: HeardTurn
    started: float
    sign: WellbeingSign | None
    reminder: ReminderRequest | None
    addressed: bool = True
