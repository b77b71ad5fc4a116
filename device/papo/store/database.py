"""The SQLite database under the store: WAL mode, Alembic migrations, short sessions with clear errors.

A file found corrupt when opened (`PRAGMA quick_check`, or a "not a database" error) is set aside with its
-wal/-shm (renamed `<name>.corrupt-<UTC time>`) and a fresh one is started, so a damaged card never makes the
daemon exit and restart forever; `DatabaseStatus` says so, and whether the disk was full at the last write.
"""

from __future__ import annotations

import errno
import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from papo.errors import StoreError, StoreFullError
from papo.statedir import writable_dir
from papo.system.logging import fields
from papo.text import fold

log = logging.getLogger(__name__)

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
    # papo_fold(text): lower case without accents, so a search for "julia" finds "Júlia" (SQLite's lower() is ASCII)
    dbapi_connection.create_function("papo_fold", 1, _fold_or_none, deterministic=True)


def _fold_or_none(text: str | None) -> str | None:
    return None if text is None else fold(text)


def _migrate(engine: Engine) -> None:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _changes(session: Session) -> int:
    """Rows changed on the session's connection since it was opened (sqlite3's total_changes)."""
    driver = session.connection().connection.driver_connection
    return int(getattr(driver, "total_changes", 0))


def _sqlite_error(exc: BaseException) -> BaseException:
    """The driver's own error under SQLAlchemy's wrapper (or `exc` itself)."""
    return getattr(exc, "orig", None) or exc


def reason(exc: BaseException) -> str:
    """The first line of the database's own message."""
    return str(_sqlite_error(exc)).splitlines()[0]


def is_corrupt(exc: BaseException) -> bool:
    """Whether `exc` says the file is damaged or not a database at all."""
    code = getattr(_sqlite_error(exc), "sqlite_errorcode", 0) & 0xFF
    return code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def is_full(exc: BaseException) -> bool:
    """Whether `exc` says the disk (or the database's size limit) is full."""
    original = _sqlite_error(exc)
    if isinstance(original, OSError):
        return original.errno == errno.ENOSPC
    return getattr(original, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_FULL


def integrity_problem(path: Path) -> str | None:
    """Why the SQLite file at `path` is corrupt (`PRAGMA quick_check`), or None when it is sound or absent.

    Read-only, so the write-ahead log is left as found (it goes aside with the file). An error that does not
    mean damage (locked, a read-only open refused) is not a verdict: None, and opening the store tells.
    """
    if not path.exists():
        return None
    try:
        with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as connection:
            rows = connection.execute("PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as exc:
        if is_corrupt(exc):
            return reason(exc)
        log.debug("integrity check not run", extra=fields(reason=reason(exc)))
        return None
    problems = [str(row[0]) for row in rows if row[0] != "ok"]
    return "; ".join(problems[:3]) or None


def quarantined(path: Path) -> list[Path]:
    """The files set aside from the store at `path` (they hold the person's words until erased)."""
    return sorted(path.parent.glob(f"{path.name}.corrupt-*"))


def quarantine(path: Path) -> Path:
    """Set the file at `path` (and its -wal/-shm) aside as `<name>.corrupt-<UTC time>`; the new name."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    number = 1
    while target.exists():
        number += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{number}")
    for suffix in ("", "-wal", "-shm"):
        part = Path(f"{path}{suffix}")
        if part.exists():
            part.rename(Path(f"{target}{suffix}"))
    return target


@dataclass
class DatabaseStatus:
    """What /health says of the store: the disk was full at the last write, a corrupt file was set aside."""

    full: bool = False
    quarantined: Path | None = None
    quarantine_reason: str | None = None
    failures: int = 0  # reads and writes that failed since start
    last_error: str | None = None


class Database:
    """One SQLite file, checked and migrated to the newest schema when opened (a corrupt one set aside)."""

    def __init__(self, path: Path) -> None:
        writable_dir(path.parent, "state")
        self.path = path
        self.status = DatabaseStatus()
        self._write_hooks: list[Callable[[Session], None]] = []
        try:
            problem = integrity_problem(path)
            if problem is not None:
                self._set_aside(problem)
            self._engine = self._open()
        except (SQLAlchemyError, sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the store {path}: {reason(exc)}; check the file and its directory") from None

    def _open(self) -> Engine:
        """Connect and migrate; a file found damaged only now is set aside once and a fresh one started."""
        for attempt in (1, 2):
            engine = create_engine(f"sqlite:///{self.path}", connect_args={"check_same_thread": False})
            event.listen(engine, "connect", _set_pragmas)
            try:
                _migrate(engine)
                return engine
            except (SQLAlchemyError, sqlite3.Error) as exc:
                engine.dispose()
                if attempt == 2 or not is_corrupt(exc):
                    raise
                self._set_aside(reason(exc))
        raise AssertionError("unreachable")

    def _set_aside(self, problem: str) -> None:
        target = quarantine(self.path)
        self.status.quarantined, self.status.quarantine_reason = target, problem
        log.error(
            "store was corrupt; set aside and started fresh",
            extra=fields(path=str(self.path), quarantined=str(target), reason=problem[:200]),
        )

    @contextmanager
    def transaction(self, doing: str) -> Iterator[Session]:
        """A session in one transaction; a database failure becomes a StoreError saying what was being done.

        A full disk raises StoreFullError and marks the status full until a later write succeeds.
        """
        try:
            with Session(self._engine, expire_on_commit=False) as session, session.begin():
                before = _changes(session)
                yield session
                session.flush()
                wrote = _changes(session) != before
                for hook in self._write_hooks if wrote else ():
                    hook(session)
        except (SQLAlchemyError, sqlite3.Error) as exc:
            raise self._failed(doing, exc) from None
        if wrote and self.status.full:
            self.status.full = False
            log.warning("store writable again")

    def on_write(self, hook: Callable[[Session], None]) -> None:
        """Run `hook` at the end of every transaction that changed rows, inside it (before the commit)."""
        self._write_hooks.append(hook)

    def _failed(self, doing: str, exc: BaseException) -> StoreError:
        self.status.failures += 1
        self.status.last_error = f"cannot {doing}: {reason(exc)}"
        if is_full(exc):
            self.status.full = True
            return StoreFullError(f"cannot {doing} in the store {self.path}: the disk is full; free some space")
        return StoreError(f"cannot {doing} in the store {self.path}: {reason(exc)}")

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
