"""The SQLite database under the store: WAL mode, Alembic migrations, short sessions with clear errors."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from papo.errors import StoreError
from papo.statedir import writable_dir

_MIGRATIONS = Path(__file__).parent / "migrations"
_CHECKPOINT_TRIES = 5


def _set_pragmas(dbapi_connection: sqlite3.Connection, _: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA secure_delete=ON")  # deleted records are overwritten with zeros, not left in free space
    cursor.close()


def reason(exc: BaseException) -> str:
    """The first line of the database's own message."""
    original = getattr(exc, "orig", None) or exc
    return str(original).splitlines()[0]


class Database:
    """One SQLite file, migrated to the newest schema when opened."""

    def __init__(self, path: Path) -> None:
        writable_dir(path.parent, "state")
        self.path = path
        self._engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})
        event.listen(self._engine, "connect", _set_pragmas)
        try:
            self._migrate()
        except (SQLAlchemyError, sqlite3.Error, OSError) as exc:
            self._engine.dispose()
            raise StoreError(f"cannot open the store {path}: {reason(exc)}; check the file and its directory") from None

    def _migrate(self) -> None:
        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        with self._engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    @contextmanager
    def transaction(self, doing: str) -> Iterator[Session]:
        """A session in one transaction; a database failure becomes a StoreError saying what was being done."""
        try:
            with Session(self._engine, expire_on_commit=False) as session, session.begin():
                yield session
        except (SQLAlchemyError, sqlite3.Error) as exc:
            raise StoreError(f"cannot {doing} in the store {self.path}: {reason(exc)}") from None

    def seal(self) -> None:
        """Leave no trace of deleted records on disk: rewrite the file (VACUUM) and empty the write-ahead log.

        The log still holds every page as it was written until a full checkpoint truncates it; a checkpoint
        waits for other connections' reads (the busy timeout), and is tried again while one is in progress.
        """
        try:
            with self._engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("VACUUM")
                for _ in range(_CHECKPOINT_TRIES):
                    busy, _, _ = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
                    if not busy:
                        return
        except (SQLAlchemyError, sqlite3.Error) as exc:
            raise StoreError(f"cannot wipe erased records from the store {self.path}: {reason(exc)}") from None
        raise StoreError(
            f"cannot wipe erased records from the store {self.path}: it is busy; stop the companion and try again"
        )

    def close(self) -> None:
        """Release the connections."""
        self._engine.dispose()
