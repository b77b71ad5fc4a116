"""Erasures in the store: what the person asked to erase is deleted in one transaction and wiped from the file.

Each erasure also records a request row (its id is the msg_id of the tombstone queued for the cloud), so the
process holding the memory index and the cache can wipe them too (`scrubbed_at`) and the cloud's confirmation
can be shown (`confirmed_at`, set by `OutboxRepository.confirm_erasures`).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import ColumnElement
from sqlmodel import Session, SQLModel, col, delete, func, select, update

from papo.store.database import Database
from papo.store.ids import new_id
from papo.store.kinds import ErasureScope, OutboxKind, ReminderStatus
from papo.store.outbox import tombstone_row
from papo.store.records import Erasure, ErasureRequest, utc_now
from papo.store.tables import (
    ConversationRow,
    ErasureRow,
    MemoryRow,
    OutboxRow,
    ReminderRow,
    TurnRow,
    WellbeingEventRow,
)


def _deleted(session: Session, table: type[SQLModel], *where: ColumnElement[bool]) -> int:
    return int(session.exec(delete(table).where(*where)).rowcount or 0)


def _outbox_about(kinds: Collection[OutboxKind], turn_ids: Collection[str] | None) -> list[ColumnElement[bool]]:
    """Outbox rows of these kinds (about these turns, when given: the payload's turn_id)."""
    where: list[ColumnElement[bool]] = [col(OutboxRow.kind).in_([kind.value for kind in kinds])]
    if turn_ids is not None:
        where.append(func.json_extract(OutboxRow.payload, "$.turn_id").in_(turn_ids))
    return where


def _reminders_done(include_pending: bool) -> list[ColumnElement[bool]]:
    """Reminders already said or cancelled (and the pending ones, when asked)."""
    return [] if include_pending else [col(ReminderRow.status) != ReminderStatus.PENDING.value]


class ErasureRepository:
    """Erase everything, some turns or some memories; list the requests and follow them to the end."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def erase_all(self, include_reminders: bool = False) -> Erasure:
        """Erase every turn, conversation, memory, wellbeing event and done reminder, and their queued rows.

        Pending reminders are kept unless `include_reminders`. One tombstone (scope all_history) is queued.
        """
        with self._db.transaction("erase everything") as session:
            request = self._request(session, ErasureScope.ALL_HISTORY, [])
            erased = Erasure(
                request=request,
                outbox_rows=_deleted(session, OutboxRow, *_outbox_about((OutboxKind.TURN, OutboxKind.WELLBEING), None)),
                memories=_deleted(session, MemoryRow),
                wellbeing_events=_deleted(session, WellbeingEventRow),
                reminders=_deleted(session, ReminderRow, *_reminders_done(include_reminders)),
                turns=_deleted(session, TurnRow),
                conversations=_deleted(session, ConversationRow),
                pending_reminders_kept=self._pending_reminders(session),
            )
        self._db.seal()
        return erased

    def erase_turns(self, turn_id: str, include_reminders: bool = False) -> Erasure | None:
        """Erase one turn, the companion's replies to it and what came from them; None if there is no such turn.

        What came from them: memories, wellbeing events, done reminders (pending ones too if
        `include_reminders`), their queued rows, and conversations left empty. A tombstone (scope turns) is queued.
        """
        with self._db.transaction("erase a turn") as session:
            if session.get(TurnRow, turn_id) is None:
                return None
            replies = session.exec(select(TurnRow.id).where(TurnRow.reply_to == turn_id)).all()
            ids = [turn_id, *replies]
            conversations = set(session.exec(select(TurnRow.conversation_id).where(col(TurnRow.id).in_(ids))).all())
            request = self._request(session, ErasureScope.TURNS, ids)
            erased = Erasure(
                request=request,
                outbox_rows=_deleted(session, OutboxRow, *_outbox_about((OutboxKind.TURN, OutboxKind.WELLBEING), ids)),
                memories=_deleted(session, MemoryRow, col(MemoryRow.turn_id).in_(ids)),
                wellbeing_events=_deleted(session, WellbeingEventRow, col(WellbeingEventRow.turn_id).in_(ids)),
                reminders=_deleted(
                    session, ReminderRow, col(ReminderRow.turn_id).in_(ids), *_reminders_done(include_reminders)
                ),
                turns=_deleted(session, TurnRow, col(TurnRow.id).in_(ids)),
                conversations=_deleted(
                    session,
                    ConversationRow,
                    col(ConversationRow.id).in_(conversations),
                    col(ConversationRow.id).not_in(select(TurnRow.conversation_id)),
                ),
                pending_reminders_kept=self._pending_reminders(session, ids),
            )
        self._db.seal()
        return erased

    def forget_memories(self, memory_ids: Collection[str] | None) -> Erasure | None:
        """Forget these memories (every one if None); None if there was none of them.

        Memories never leave the device, so no tombstone is queued; the request only asks for the wipe.
        """
        with self._db.transaction("forget memories") as session:
            where = [] if memory_ids is None else [col(MemoryRow.id).in_(memory_ids)]
            forgotten = _deleted(session, MemoryRow, *where)
            if forgotten == 0:
                return None
            erased = Erasure(request=self._request(session, ErasureScope.MEMORIES, []), memories=forgotten)
        self._db.seal()
        return erased

    @staticmethod
    def _request(session: Session, scope: ErasureScope, turn_ids: list[str]) -> ErasureRequest:
        if scope is ErasureScope.MEMORIES:
            row = ErasureRow(id=new_id(), scope=scope.value, requested_at=utc_now())
        else:
            tombstone = tombstone_row(scope.value, turn_ids)
            session.add(tombstone)
            row = ErasureRow(id=tombstone.msg_id, scope=scope.value, requested_at=tombstone.created_at)
        session.add(row)
        return ErasureRequest.model_validate(row)

    @staticmethod
    def _pending_reminders(session: Session, turn_ids: list[str] | None = None) -> int:
        query = select(func.count()).select_from(ReminderRow).where(ReminderRow.status == ReminderStatus.PENDING.value)
        if turn_ids is not None:
            query = query.where(col(ReminderRow.turn_id).in_(turn_ids))
        return int(session.exec(query).one())

    def requests(self) -> list[ErasureRequest]:
        """Every erasure request, newest first."""
        with self._db.transaction("read erasure requests") as session:
            rows = session.exec(select(ErasureRow).order_by(col(ErasureRow.requested_at).desc())).all()
            return [ErasureRequest.model_validate(row) for row in rows]

    def get(self, request_id: str) -> ErasureRequest | None:
        """One erasure request, or None."""
        with self._db.transaction("read an erasure request") as session:
            row = session.get(ErasureRow, request_id)
            return None if row is None else ErasureRequest.model_validate(row)

    def unscrubbed(self) -> list[ErasureRequest]:
        """Requests whose memory index and cache files have not been rewritten yet, oldest first."""
        query = select(ErasureRow).where(col(ErasureRow.scrubbed_at).is_(None)).order_by(col(ErasureRow.requested_at))
        with self._db.transaction("read erasure requests") as session:
            return [ErasureRequest.model_validate(row) for row in session.exec(query).all()]

    def mark_scrubbed(self, request_ids: Collection[str], at: datetime | None = None) -> None:
        """Record that the memory index and cache files no longer hold what these requests erased."""
        with self._db.transaction("update erasure requests") as session:
            session.exec(
                update(ErasureRow)
                .where(col(ErasureRow.id).in_(request_ids), col(ErasureRow.scrubbed_at).is_(None))
                .values(scrubbed_at=at or utc_now())
            )
