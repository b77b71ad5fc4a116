"""What flows through one turn of conversation: what was heard, whether it is kept, what the companion did with it.

Deciding whether an utterance is kept (`decide`) and storing it (`keep`) are two steps, so the companion can say
an urgent answer before anything is written: a full disk or a broken database never silences "caí, socorro".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from papo.conversation.reminders import ReminderRequest
from papo.conversation.wake import mentions
from papo.conversation.wellbeing import WellbeingSign
from papo.errors import PapoError
from papo.settings import Settings
from papo.store import NewTurn, Store, Turn
from papo.system.logging import fields

if TYPE_CHECKING:
    from papo.conversation.companion import Companion

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HeardTurn:
    """What the person said (its words in memory), the stored turn's ids if it was kept, and when speech ended.

    `unsaved` is the turn still to be stored (`keep`) when it is to be kept but was not written yet.
    """

    text: str
    source: str
    turn_id: str | None = None
    conversation_id: str | None = None
    eos_monotonic: float | None = None
    unsaved: NewTurn | None = None

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
        """Whether it was (or is to be) stored as a turn."""
        return self.heard.turn_id is not None or self.heard.unsaved is not None


def decide(
    new: NewTurn, source: str, eos_monotonic: float, settings: Settings, companion: Companion | None
) -> Admitted:
    """Decide whether `new` was said to Papo, so kept (or kept anyway: the household keeps everything); no write.

    The companion decides (wake word, follow-up window from when the person began speaking); without one, the
    wake words alone. Speech not kept stays in memory, for the companion's wellbeing rules, and is dropped.
    """
    text = new.text
    if companion is not None:
        addressed = companion.addressed(text, began=eos_monotonic - (new.audio_end_s - new.audio_start_s))
    else:
        addressed = mentions(text, settings.conversation.wake_words)
    kept = addressed or settings.privacy.keep_unaddressed
    unsaved = new if kept and settings.privacy.history else None
    return Admitted(HeardTurn(text, source, eos_monotonic=eos_monotonic, unsaved=unsaved), addressed)


def keep(heard: HeardTurn, store: Store) -> HeardTurn:
    """Store the turn if it is to be kept and not stored yet; a store failure is logged (and on /health), not raised."""
    if heard.unsaved is None:
        return heard
    try:
        return HeardTurn.stored(store.turns.record(heard.unsaved, heard.source), heard.source, heard.eos_monotonic)
    except PapoError as exc:
        log.error("turn not stored", extra=fields(reason=str(exc)))
        return replace(heard, unsaved=None)


def admit(
    new: NewTurn, source: str, eos_monotonic: float, store: Store, settings: Settings, companion: Companion | None
) -> Admitted:
    """Decide whether `new` was said to Papo and store it at once if kept (`decide`, then `keep`)."""
    decided = decide(new, source, eos_monotonic, settings, companion)
    return Admitted(keep(decided.heard, store), decided.addressed)


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
