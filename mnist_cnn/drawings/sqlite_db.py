"""The drawings in an SQLite file: the embedded default, when no MNIST_DRAW_DATABASE_URL is set.

Many Streamlit sessions and CLI processes write at once, so the file runs in WAL mode with a busy
timeout, every call opens its own short connection, and writes are single IMMEDIATE
transactions. The schema version is PRAGMA user_version. A file that SQLite says is corrupt is
moved aside (drawings.sqlite3.corrupt-<time>) with one message, and a fresh one is started:
drawing never stops working because of the store. A file that cannot be opened (permissions, a
folder in its place) is reported in one sentence and left where it is: moving it aside would
make every drawing vanish for a problem that fixing the permissions solves.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from mnist_cnn.drawings.schema import SCHEMA_VERSION, DrawingsError, migrate

BUSY_TIMEOUT_S = 30.0
SQLITE_CORRUPT, SQLITE_NOTADB = 11, 26
CANNOT_OPEN = (3, 8, 14, 23)  # SQLITE_PERM, SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_AUTH
TYPES = {"id": "INTEGER PRIMARY KEY AUTOINCREMENT", "blob": "BLOB", "real": "REAL"}

log = logging.getLogger(__name__)
T = TypeVar("T")


class SqliteDatabase:
    """One SQLite connection as the store uses it (schema.Database)."""

    types = TYPES

    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con

    def execute(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.con.execute(sql, args)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.con.executemany(sql, rows)

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        """BEGIN IMMEDIATE takes the write lock up front (waiting up to the busy timeout), so
        concurrent writers queue instead of failing half-way."""
        self.con.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")


class SqliteDrawings:
    """The drawings file at `path`; `recovered` holds the one-line message when a corrupt file
    had to be moved aside."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.location: Path = path  # what opens this store again
        self.recovered: str | None = None

    def run(self, work: Callable[[SqliteDatabase], T]) -> T:
        """Run `work` on a fresh connection; a corrupt or unreadable file is moved aside once and
        the work retried on a new, empty database."""
        try:
            with self._connection() as db:
                return work(db)
        except sqlite3.DatabaseError as exc:
            if not _corrupt(exc):
                raise self._unusable(exc) from None
            self._move_aside(str(exc))
        try:
            with self._connection() as db:
                return work(db)
        except sqlite3.DatabaseError as exc:
            raise self._unusable(exc) from None

    # --- connections and schema ---

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        con.row_factory = sqlite3.Row
        con.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        con.execute("PRAGMA synchronous = NORMAL")  # safe in WAL mode: a power cut loses at most the last saves
        return con

    @contextlib.contextmanager
    def _connection(self) -> Iterator[SqliteDatabase]:
        con = self._connect()
        try:
            self._ensure_schema(con)
            yield SqliteDatabase(con)
        finally:
            con.close()

    def _ensure_schema(self, con: sqlite3.Connection) -> None:
        version = con.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:  # a newer app's file: refused before anything touches it
            migrate(SqliteDatabase(con), version, str(self.path))
        with self._file_lock():  # processes creating or migrating the file at once take turns
            if con.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                con.execute("PRAGMA journal_mode = WAL")  # persistent: every later connection uses WAL
            db = SqliteDatabase(con)
            with db.write():
                version = con.execute("PRAGMA user_version").fetchone()[0]  # another process may have migrated
                migrate(db, version, str(self.path))
                con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        """An exclusive lock beside the database (drawings.sqlite3.lock), for the rare moments no
        other process may touch the file: creating, migrating, moving it aside."""
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    # --- what goes wrong ---

    def _unusable(self, exc: sqlite3.DatabaseError) -> DrawingsError:
        """One sentence for a store that fails for any reason but corruption; the file is left
        where it is, so fixing the cause (permissions, a full disk) brings every drawing back."""
        if getattr(exc, "sqlite_errorcode", None) in CANNOT_OPEN or _unreadable(self.path):
            return DrawingsError(f"The drawings store {self.path} cannot be opened ({exc}); make sure the app's "
                                 "user may read and write it and its folder. It was left as it is.")
        return DrawingsError(f"The drawings store {self.path} cannot be used ({exc}).")

    def _move_aside(self, reason: str) -> None:
        """Rename the broken database (and its WAL files) out of the way, under a lock file so
        two processes that both noticed never move a fresh database aside."""
        with self._file_lock():
            if not self._still_broken():
                return
            stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
            aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
            for suffix in ("", "-wal", "-shm"):
                src = Path(str(self.path) + suffix)
                if src.exists():
                    os.replace(src, str(aside) + suffix)
        self.recovered = (f"The drawings store was unreadable ({reason}); it was moved to {aside.name} and a new "
                          f"one started.")
        log.warning(self.recovered)

    def _still_broken(self) -> bool:
        if not self.path.exists():
            return False
        try:
            con = self._connect()
            try:
                con.execute("PRAGMA user_version").fetchone()
                con.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
                if con.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                    return True
            finally:
                con.close()
        except sqlite3.DatabaseError as exc:
            return _corrupt(exc)
        return False


def _unreadable(path: Path) -> bool:
    return path.exists() and not os.access(path, os.R_OK | os.W_OK)


def _corrupt(exc: sqlite3.DatabaseError) -> bool:
    """SQLite itself says the file is damaged or not a database: only then is it moved aside."""
    return getattr(exc, "sqlite_errorcode", None) in (SQLITE_CORRUPT, SQLITE_NOTADB)
