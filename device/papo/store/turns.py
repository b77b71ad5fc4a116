"""Conversations and turns: each turn written with its outbox row in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlmodel import Session, col, func, select

from papo.errors import StoreError
from papo.store.database import Database
from papo.store.ids import new_id
from papo.store.outbox import turn_row
from papo.store.records import Conversation, NewTurn, Turn, TurnPage, utc_now
from papo.store.tables import ConversationRow, TurnRow
from papo.text import fold

_MAX_SEARCH_WORDS = 8


class ErasedTurnError(StoreError):
    """What came from a turn cannot be kept: the turn was erased while work on it (a review) was running."""


def require_turn(session: Session, turn_id: str | None) -> None:
    """Raise ErasedTurnError when `turn_id` names a turn that is no longer stored."""
    if turn_id is not None and session.get(TurnRow, turn_id) is None:
        raise ErasedTurnError(f"turn {turn_id} was erased; what came from it is not kept")


def _escaped(word: str) -> str:
    """`word` with LIKE's wildcards taken literally."""
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class TurnRepository:
    """The device's conversation history, one short transaction per write."""

    def __init__(self, database: Database, device_id: str, conversation_idle_s: float) -> None:
        self._db = database
        self._device_id = device_id
        self._idle = timedelta(seconds=conversation_idle_s)

    def record(self, turn: NewTurn, source: str) -> Turn:
        """Store one turn in the current conversation of `source` (a new one after a long silence)."""
        (stored,) = self.record_many([turn], source)
        return stored

    def record_many(self, turns: Sequence[NewTurn], source: str) -> list[Turn]:
        """Store turns in order in one transaction (an import, a backlog), each with its outbox row."""
        with self._db.transaction("write a turn") as session:
            last_seq = session.exec(select(func.max(TurnRow.seq))).one() or 0
            conversation = self._latest(session, source)
            stored = []
            for offset, turn in enumerate(turns, start=1):
                now = utc_now()
                if conversation is None or now - conversation.last_turn_at > self._idle:
                    conversation = ConversationRow(
                        id=new_id(), device_id=self._device_id, source=source, started_at=now, last_turn_at=now
                    )
                row = TurnRow(
                    id=new_id(), conversation_id=conversation.id, seq=last_seq + offset, started_at=now,
                    **turn.model_dump(),
                )  # fmt: skip
                conversation.last_turn_at = now
                session.add(conversation)
                session.add(row)
                session.flush()
                session.add(turn_row(row, self._device_id))
                stored.append(Turn.model_validate(row))
            session.flush()
            return stored

    def _latest(self, session: Session, source: str) -> ConversationRow | None:
        return session.exec(
            select(ConversationRow)
            .where(ConversationRow.device_id == self._device_id, ConversationRow.source == source)
            .order_by(col(ConversationRow.last_turn_at).desc())
            .limit(1)
        ).first()

    def recent(self, limit: int = 20, conversation_id: str | None = None) -> list[Turn]:
        """The newest turns (of one conversation, if given), newest first."""
        query = select(TurnRow).order_by(col(TurnRow.seq).desc()).limit(limit)
        if conversation_id is not None:
            query = query.where(TurnRow.conversation_id == conversation_id)
        with self._db.transaction("read turns") as session:
            return [Turn.model_validate(row) for row in session.exec(query).all()]

    def search(self, words: str = "", limit: int = 50, offset: int = 0) -> TurnPage:
        """Turns holding every one of `words` (case and accents ignored; all when empty), newest first, one page."""
        where = [
            func.papo_fold(TurnRow.text).like(f"%{_escaped(word)}%", escape="\\")
            for word in fold(words).split()[:_MAX_SEARCH_WORDS]
        ]
        query = select(TurnRow).where(*where).order_by(col(TurnRow.seq).desc()).offset(offset).limit(limit)
        with self._db.transaction("search turns") as session:
            total = int(session.exec(select(func.count()).select_from(TurnRow).where(*where)).one())
            return TurnPage(turns=[Turn.model_validate(row) for row in session.exec(query).all()], total=total)

    def get(self, turn_id: str) -> Turn | None:
        """One turn, or None."""
        with self._db.transaction("read a turn") as session:
            row = session.get(TurnRow, turn_id)
            return None if row is None else Turn.model_validate(row)

    def all(self) -> list[Turn]:
        """Every stored turn, oldest first."""
        with self._db.transaction("read turns") as session:
            return [Turn.model_validate(row) for row in session.exec(select(TurnRow).order_by(col(TurnRow.seq))).all()]

    def conversations(self) -> list[Conversation]:
        """Every conversation, oldest first."""
        query = select(ConversationRow).order_by(col(ConversationRow.started_at))
        with self._db.transaction("read conversations") as session:
            return [Conversation.model_validate(row) for row in session.exec(query).all()]

    def count(self) -> int:
        """How many turns are stored."""
        with self._db.transaction("count turns") as session:
            return int(session.exec(select(func.count()).select_from(TurnRow)).one())
