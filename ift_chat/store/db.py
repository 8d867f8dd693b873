"""Opening the SQLite database: pragmas, migrations, one guarded connection."""

from __future__ import annotations

import contextlib
import datetime
import sqlite3
import threading
from pathlib import Path
from typing import Iterator

from sqlite_utils import Database

from ..errors import StorageError
from .migrations import migrations

DEFAULT_BUSY_TIMEOUT_S = 30.0


def now() -> str:
    """UTC timestamp with microseconds; sorts as text."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds")


def open_database(path: Path | str, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> Database:
    """A sqlite-utils Database with WAL, foreign keys and durable commits, migrated.

    A write that finds the database locked (another process, e.g. the CLI) is
    retried by SQLite for ``busy_timeout_s`` before it fails."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # One connection shared by Gradio's worker threads; Store serialises use.
    conn = sqlite3.connect(str(path), check_same_thread=False, timeout=busy_timeout_s)
    db = Database(conn)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA foreign_keys=ON")
    # FULL: a commit we acknowledge (e.g. a rating) survives power loss / SIGKILL.
    db.execute("PRAGMA synchronous=FULL")
    db.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
    migrations.apply(db)
    return db


class Transactor:
    """Shared plumbing the repositories use: one connection, one lock."""

    def __init__(self, db: Database, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S):
        self.db = db
        self.busy_timeout_s = busy_timeout_s
        self._lock = threading.RLock()

    @contextlib.contextmanager
    def write(self) -> Iterator[Database]:
        """A transaction; the lock keeps threads from interleaving statements."""
        with self._lock:
            try:
                with self._transaction():
                    yield self.db
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    raise StorageError(
                        f"the database stayed busy for {self.busy_timeout_s:g} s; nothing was saved, try again"
                    ) from exc
                if "disk" in str(exc) or "full" in str(exc):
                    raise StorageError(f"could not write the database: {exc}") from exc
                raise

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        if self.db.conn.in_transaction:  # nested: a savepoint inside the outer transaction
            with self.db.atomic():
                yield
            return
        # IMMEDIATE takes the write lock up front, waiting up to busy_timeout_s. A plain BEGIN
        # that reads first and writes later gets SQLITE_BUSY at once, without waiting.
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.conn.rollback()
            raise
        self.db.conn.commit()

    @contextlib.contextmanager
    def read(self) -> Iterator[Database]:
        with self._lock:
            yield self.db

    def query(self, sql: str, params=()) -> list[dict]:
        with self.read() as db:
            return list(db.query(sql, params))
