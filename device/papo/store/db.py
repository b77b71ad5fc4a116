"""Open the SQLite store in WAL mode, bring its schema up to date and record turns."""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, func
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, delete, select

from papo.errors import StoreError
from papo.statedir import writable_dir
from papo.store.ids import new_id
from papo.store.outbox import tombstone_row, turn_row
from papo.store.tables import Conversation, OutboxRow, Turn

log = logging.getLogger(__name__)

_MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass(frozen=True)
class NewTurn:
    """Everything the pipeline knows about one heard utterance."""

    text: str
    language: str
    audio_start_s: float
    audio_end_s: float
    audio_duration_s: float
    stt_model: str
    stt_window: str
    vad_model: str
    vad_ms: float | None = None
    stt_ms: float | None = None
    eos_to_text_ms: float | None = None
    role: str = "person"
    reply_to: str | None = None
    eos_to_first_token_ms: float | None = None
    eos_to_first_audio_ms: float | None = None
    llm_model: str | None = None
    tts_voice: str | None = None
    interrupted: bool = False


def companion_turn(
    text: str,
    language: str,
    reply_to: str | None,
    llm_model: str,
    tts_voice: str,
    eos_to_first_token_ms: float | None,
    eos_to_first_audio_ms: float | None,
    interrupted: bool,
) -> NewTurn:
    """The companion's spoken answer as a turn (no audio position or speech models of its own)."""
    return NewTurn(
        text=text,
        language=language,
        audio_start_s=0.0,
        audio_end_s=0.0,
        audio_duration_s=0.0,
        stt_model="",
        stt_window="",
        vad_model="",
        role="companion",
        reply_to=reply_to,
        eos_to_first_token_ms=eos_to_first_token_ms,
        eos_to_first_audio_ms=eos_to_first_audio_ms,
        llm_model=llm_model,
        tts_voice=tts_voice,
        interrupted=interrupted,
    )


def _set_pragmas(dbapi_connection: sqlite3.Connection, _: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _now() -> datetime:
    return datetime.now(UTC)


class TurnStore:
    """The device store: conversations and turns, one short transaction per write."""

    def __init__(self, path: Path, device_id: str, conversation_idle_s: float) -> None:
        writable_dir(path.parent, "state")
        self.path = path
        self._device_id = device_id
        self._idle = timedelta(seconds=conversation_idle_s)
        self.engine: Engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})
        event.listen(self.engine, "connect", _set_pragmas)
        try:
            self._migrate()
        except (SQLAlchemyError, sqlite3.Error, OSError) as exc:
            raise StoreError(
                f"cannot open the store {path}: {_reason(exc)}; check the file and its directory"
            ) from None

    def _migrate(self) -> None:
        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def record(self, turn: NewTurn, source: str) -> Turn:
        """Store one turn in the current conversation of `source` (a new one after a long silence)."""
        try:
            with Session(self.engine) as session, session.begin():
                now = _now()
                conversation = self._conversation(session, source, now)
                last_seq = session.exec(select(func.max(Turn.seq))).one()
                row = Turn(
                    id=new_id(),
                    conversation_id=conversation.id,
                    seq=(last_seq or 0) + 1,
                    started_at=now,
                    **turn.__dict__,
                )
                conversation.last_turn_at = now
                session.add(conversation)
                session.add(row)
                session.flush()
                session.add(turn_row(row, self._device_id))  # the outbox row: same transaction as the turn
                session.flush()
                session.expunge(row)
                return row
        except (SQLAlchemyError, sqlite3.Error) as exc:
            raise StoreError(f"cannot write to the store {self.path}: {_reason(exc)}") from None

    def _conversation(self, session: Session, source: str, now: datetime) -> Conversation:
        latest = session.exec(
            select(Conversation)
            .where(Conversation.device_id == self._device_id, Conversation.source == source)
            .order_by(col(Conversation.last_turn_at).desc())
            .limit(1)
        ).first()
        if latest is not None and now - latest.last_turn_at <= self._idle:
            return latest
        return Conversation(id=new_id(), device_id=self._device_id, source=source, started_at=now, last_turn_at=now)

    def delete_history(self) -> int:
        """Erase every conversation here and replicate the erasure to the cloud (a tombstone); turns erased."""
        try:
            with Session(self.engine) as session, session.begin():
                count = int(session.exec(select(func.count()).select_from(Turn)).one())
                session.exec(delete(OutboxRow).where(col(OutboxRow.kind) == "turn"))
                session.exec(delete(Turn))
                session.exec(delete(Conversation))
                session.add(tombstone_row("all_history", []))
                return count
        except (SQLAlchemyError, sqlite3.Error) as exc:
            raise StoreError(f"cannot erase the history in {self.path}: {_reason(exc)}") from None

    def recent_turns(self, limit: int = 20, conversation_id: str | None = None) -> list[Turn]:
        """Return the newest turns (of one conversation, if given), newest first."""
        query = select(Turn).order_by(col(Turn.seq).desc()).limit(limit)
        if conversation_id is not None:
            query = query.where(Turn.conversation_id == conversation_id)
        with Session(self.engine) as session:
            return list(session.exec(query).all())

    def count_turns(self) -> int:
        """Return how many turns are stored."""
        with Session(self.engine) as session:
            return int(session.exec(select(func.count()).select_from(Turn)).one())


def _reason(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    return str(original).splitlines()[0]
