"""Opening the SQLite database: pragmas, migrations, a write connection and a read connection.

Writes go through one connection under one lock, in ``BEGIN IMMEDIATE`` transactions that wait
at most ``busy_timeout_s`` for another process's lock, then fail with a clear error. Reads use
a connection of their own (WAL: readers never wait for a writer), so a write queued behind
another process's lock never holds up a page that only reads.
"""

from __future__ import annotations

import contextlib
import datetime
import re
import sqlite3
import threading
from pathlib import Path
from typing import Iterator

from sqlite_utils import Database

from ..errors import StorageError, ValidationError
from .migrations import migrations

DEFAULT_BUSY_TIMEOUT_S = 30.0


def now() -> str:
    """UTC timestamp with microseconds; sorts as text."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds")


def check_text(text: str, what: str = "text") -> str:
    """``text`` if SQLite can store it (UTF-8), else a ValidationError that says where it is not:
    a lone UTF-16 surrogate (``"\\ud800"``, which JSON can carry) has no UTF-8 encoding."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(
            f"the {what} contains an invalid character (a lone surrogate, U+{ord(text[exc.start]):04X}, "
            f"at position {exc.start + 1}): remove it and try again; nothing was saved") from None
    return text


NAME_RE = re.compile(r"^[\w][\w .@+-]{0,63}$", re.UNICODE)


def check_name(name: str, what: str = "name") -> str:
    """A name people type (rater, checkpoint, set): 1-64 letters, digits, spaces or . _ @ + -."""
    name = check_text(name or "", what).strip()
    if not NAME_RE.match(name):
        raise ValidationError(
            f"{what} {name!r} is not allowed: 1-64 letters, digits, spaces or . _ @ + -")
    return name


def _connect(path: Path, busy_timeout_s: float) -> Database:
    # One connection shared by Gradio's worker threads; Transactor serialises its use.
    conn = sqlite3.connect(str(path), check_same_thread=False, timeout=busy_timeout_s)
    db = Database(conn)
    db.execute("PRAGMA foreign_keys=ON")
    db.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
    return db


def open_database(path: Path | str, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> Database:
    """A sqlite-utils Database with WAL, foreign keys and durable commits, migrated.

    A write that finds the database locked (another process, e.g. the CLI) is
    retried by SQLite for ``busy_timeout_s`` before it fails."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = _connect(path, busy_timeout_s)
    db.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit we acknowledge (e.g. a rating) survives power loss / SIGKILL.
    db.execute("PRAGMA synchronous=FULL")
    migrations.apply(db)
    return db


class Transactor:
    """Shared plumbing the repositories use: a write connection and lock, a read connection and lock."""

    def __init__(self, db: Database, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S):
        self.db = db
        self.busy_timeout_s = busy_timeout_s
        self._lock = threading.RLock()
        self._reader = _connect(Path(db.conn.execute("PRAGMA database_list").fetchone()[2]),
                                busy_timeout_s)
        self._read_lock = threading.RLock()
        self._writing = threading.local()  # this thread is inside write(): it reads what it wrote

    @contextlib.contextmanager
    def write(self) -> Iterator[Database]:
        """A transaction; the lock keeps threads from interleaving statements."""
        with self._lock:
            depth = getattr(self._writing, "depth", 0)
            self._writing.depth = depth + 1
            try:
                with self._transaction():
                    yield self.db
            except UnicodeEncodeError as exc:  # a lone surrogate that no check caught before
                raise ValidationError(f"text with an invalid character (a lone surrogate) cannot be "
                                      f"stored; nothing was saved ({exc.reason})") from None
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    raise StorageError(
                        f"the database stayed busy for {self.busy_timeout_s:g} s; nothing was saved, try again"
                    ) from exc
                if "disk" in str(exc) or "full" in str(exc):
                    raise StorageError(f"could not write the database: {exc}") from exc
                raise
            finally:
                self._writing.depth = depth

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
        """Committed data; inside ``write()`` the writer's own connection (its uncommitted rows)."""
        if getattr(self._writing, "depth", 0):
            with self._lock:
                yield self.db
            return
        with self._read_lock:
            yield self._reader

    def query(self, sql: str, params=()) -> list[dict]:
        with self.read() as db:
            try:
                return list(db.query(sql, params))
            except UnicodeEncodeError:  # a lookup by a text no check caught (nothing is written)
                raise ValidationError("the text contains an invalid character (a lone surrogate): "
                                      "remove it and try again") from None

    def close(self) -> None:
        with self._read_lock:
            self._reader.close()
        with self.write():
            pass
        self.db.close()
