"""The drawings people label, kept in SQLite so the app can learn their handwriting.

One row per labelled drawing: the 28x28 input the model saw (uint8), the original picture as
PNG (so a better preprocessing can redo it later), the label, what the model predicted and with
which probabilities, which model, when, from which anonymous browser session, and from where
(canvas, upload, import). Saving the same drawing twice keeps one row: "the same" is the same
28x28 input with the same label from the same session (content_hash).

The file lives beside the retrained models (config.user_home()). Many Streamlit sessions and
CLI processes write at once, so it runs in WAL mode with a busy timeout, every call opens its
own short connection, and writes are single IMMEDIATE transactions. The schema is versioned with
PRAGMA user_version and migrated forward from version 1. A file that SQLite says is corrupt is
moved aside (drawings.sqlite3.corrupt-<time>) with one message, and a fresh one is started:
drawing never stops working because of the store. A file that cannot be opened (permissions, a
folder in its place) is reported in one sentence and left where it is: moving it aside would
make every drawing vanish for a problem that fixing the permissions solves.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import io
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image

from mnist_cnn.config import IMAGE_SIZE, NUM_CLASSES, user_home

DB_NAME = "drawings.sqlite3"
BUSY_TIMEOUT_S = 30.0
SOURCES = ("canvas", "upload", "import")
IMPORT_SESSION = "import"  # the session of pictures imported from a folder without metadata
HELD_OUT_BUCKETS = 5  # one drawing in five (by content hash) is held out of fine-tuning
PAGE_SIZE = 24
SQLITE_CORRUPT, SQLITE_NOTADB = 11, 26
CANNOT_OPEN = (3, 8, 14, 23)  # SQLITE_PERM, SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_AUTH
IMAGE_BYTES = IMAGE_SIZE * IMAGE_SIZE

log = logging.getLogger(__name__)
T = TypeVar("T")


class DrawingsError(RuntimeError):
    """The drawings store cannot do what was asked; the message says why and what to do."""


class StoreFull(DrawingsError):
    """A save would take the store past its cap (a shared server's limit)."""


@dataclass(frozen=True)
class Drawing:
    """One stored drawing."""

    id: int
    image: np.ndarray  # (28, 28) uint8, white digit on black: exactly what the model saw
    original: bytes  # PNG
    label: int
    prediction: int | None
    probs: np.ndarray | None  # (10,) float32
    model_id: str | None
    created: float  # Unix time
    session: str
    source: str
    content_hash: str

    @property
    def wrong(self) -> bool:
        return self.prediction is not None and self.prediction != self.label

    @property
    def held_out(self) -> bool:
        return is_held_out(self.content_hash)

    @property
    def created_text(self) -> str:
        return dt.datetime.fromtimestamp(self.created, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


@dataclass
class NewDrawing:
    """A drawing about to be saved; row() checks it and computes its content hash."""

    image: np.ndarray  # (28, 28) float in [0, 1] or uint8
    label: int
    original_png: bytes
    session: str
    prediction: int | None = None
    probs: np.ndarray | None = None
    model_id: str | None = None
    source: str = "canvas"
    created: float | None = None

    def row(self) -> tuple:
        label = check_label(self.label)
        pixels = to_uint8(self.image)
        if pixels.max() == 0:
            raise ValueError("the drawing has no ink; draw a digit first")
        if self.source not in SOURCES:
            raise ValueError(f"source {self.source!r} is not one of {', '.join(SOURCES)}")
        if not self.original_png:
            raise ValueError("the original picture is missing")
        raw = pixels.tobytes()
        return (raw, bytes(self.original_png), label, None if self.prediction is None else int(self.prediction),
                _probs_blob(self.probs), self.model_id, time.time() if self.created is None else float(self.created),
                self.session, self.source, content_hash(raw, label, self.session))


# ---------- schema and migrations ----------

SCHEMA_V1 = """
CREATE TABLE drawings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    image BLOB NOT NULL,
    original BLOB NOT NULL,
    label INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),
    prediction INTEGER,
    probs BLOB,
    model_id TEXT,
    created REAL NOT NULL,
    session TEXT NOT NULL
);
"""


def _migrate_to_v1(con: sqlite3.Connection) -> None:
    """The first schema: drawings without provenance or duplicate detection."""
    con.execute(SCHEMA_V1)  # not executescript: it would commit the migration half-way


def _migrate_to_v2(con: sqlite3.Connection) -> None:
    """Version 2 adds where a drawing came from and a content hash that makes saving the same
    drawing twice one row; duplicates saved under version 1 are folded into their oldest copy."""
    con.execute(f"ALTER TABLE drawings ADD COLUMN source TEXT NOT NULL DEFAULT 'canvas' "
                f"CHECK (source IN {SOURCES!r})")
    con.execute("ALTER TABLE drawings ADD COLUMN content_hash TEXT")
    rows = con.execute("SELECT id, image, label, session FROM drawings").fetchall()
    con.executemany("UPDATE drawings SET content_hash = ? WHERE id = ?",
                    [(content_hash(bytes(image), label, session), row_id) for row_id, image, label, session in rows])
    con.execute("DELETE FROM drawings WHERE id NOT IN (SELECT MIN(id) FROM drawings GROUP BY content_hash)")
    con.execute("CREATE UNIQUE INDEX drawings_content_hash ON drawings (content_hash)")
    con.execute("CREATE INDEX drawings_created ON drawings (created)")
    con.execute("CREATE INDEX drawings_session ON drawings (session)")


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_migrate_to_v1, _migrate_to_v2]
SCHEMA_VERSION = len(MIGRATIONS)


def content_hash(image: bytes, label: int, session: str) -> str:
    """What makes two saves the same drawing: the same input, label and session."""
    h = hashlib.sha256(image)
    h.update(bytes([label]))
    h.update(session.encode())
    return h.hexdigest()


def is_held_out(digest: str) -> bool:
    """The fixed held-out split: decided by the drawing's own content, so it never changes as
    rows are added or deleted."""
    return int(digest[:8], 16) % HELD_OUT_BUCKETS == 0


# ---------- conversions ----------

def to_uint8(image: np.ndarray) -> np.ndarray:
    """A (28, 28) image as uint8: float images in [0, 1] are scaled, uint8 ones kept."""
    image = np.asarray(image)
    if image.shape not in ((IMAGE_SIZE, IMAGE_SIZE), (IMAGE_SIZE, IMAGE_SIZE, 1)):
        raise ValueError(f"a drawing must be a 28x28 image, got shape {image.shape}")
    image = image.reshape(IMAGE_SIZE, IMAGE_SIZE)
    if image.dtype == np.uint8:
        return image
    return np.round(np.clip(image.astype(np.float32), 0.0, 1.0) * 255).astype(np.uint8)


def png_bytes(pixels: np.ndarray) -> bytes:
    """A uint8 greyscale or RGB(A) array as PNG bytes (lossless)."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buf, format="PNG")
    return buf.getvalue()


def _probs_blob(probs: np.ndarray | None) -> bytes | None:
    if probs is None:
        return None
    probs = np.asarray(probs, dtype="<f4").reshape(-1)
    if probs.shape != (NUM_CLASSES,):
        raise ValueError(f"probabilities must be 10 numbers, got {probs.shape[0]}")
    return probs.tobytes()


def _row_to_drawing(row: sqlite3.Row) -> Drawing:
    probs = None if row["probs"] is None else np.frombuffer(row["probs"], dtype="<f4").astype(np.float32)
    return Drawing(id=row["id"], image=np.frombuffer(row["image"], np.uint8).reshape(IMAGE_SIZE, IMAGE_SIZE),
                   original=bytes(row["original"]), label=row["label"], prediction=row["prediction"], probs=probs,
                   model_id=row["model_id"], created=row["created"], session=row["session"], source=row["source"],
                   content_hash=row["content_hash"])


def check_label(label: object) -> int:
    """A label as an int in 0-9, or ValueError saying what is wrong."""
    try:
        value = int(label)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"label {label!r} is not a digit; use 0-9") from None
    if value != label and not (isinstance(label, str) and label.strip() == str(value)):
        raise ValueError(f"label {label!r} is not a digit; use 0-9")
    if not 0 <= value < NUM_CLASSES:
        raise ValueError(f"label {value} is outside 0-9")
    return value


# ---------- the store ----------

def default_path() -> Path:
    return user_home() / DB_NAME


class DrawingStore:
    """The drawings database at `path` (default: drawings.sqlite3 in the user home folder).

    `recovered` holds the one-line message when a corrupt file had to be moved aside."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.recovered: str | None = None
        self._guarded(lambda con: None)  # create or migrate now, and recover a broken file early

    # --- connections, schema, recovery ---

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        con.row_factory = sqlite3.Row
        con.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        con.execute("PRAGMA synchronous = NORMAL")  # safe in WAL mode: a power cut loses at most the last saves
        return con

    def _ensure_schema(self, con: sqlite3.Connection) -> None:
        version = con.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise DrawingsError(f"{self.path} was written by a newer version of MNIST Draw (schema {version}, "
                                f"this one knows {SCHEMA_VERSION}); update the app to use it.")
        with self._file_lock():  # processes creating or migrating the file at once take turns
            if con.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                con.execute("PRAGMA journal_mode = WAL")  # persistent: every later connection uses WAL
            with _transaction(con):
                version = con.execute("PRAGMA user_version").fetchone()[0]  # another process may have migrated
                for number in range(version + 1, SCHEMA_VERSION + 1):
                    MIGRATIONS[number - 1](con)
                    con.execute(f"PRAGMA user_version = {number}")

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        """An exclusive lock beside the database (drawings.sqlite3.lock), for the rare moments no
        other process may touch the file: creating, migrating, moving it aside."""
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        con = self._connect()
        try:
            self._ensure_schema(con)
            yield con
        finally:
            con.close()

    def _guarded(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` on a fresh connection; a corrupt or unreadable file is moved aside once and
        the work retried on a new, empty database."""
        try:
            with self._connection() as con:
                return work(con)
        except sqlite3.DatabaseError as exc:
            if not _corrupt(exc):
                raise self._unusable(exc) from None
            self._move_aside(str(exc))
        try:
            with self._connection() as con:
                return work(con)
        except sqlite3.DatabaseError as exc:
            raise self._unusable(exc) from None

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

    # --- writing ---

    def add(self, image: np.ndarray, label: int, original_png: bytes, *, session: str,
            prediction: int | None = None, probs: np.ndarray | None = None, model_id: str | None = None,
            source: str = "canvas", created: float | None = None, cap: int | None = None) -> tuple[int, bool]:
        """Store one labelled drawing; returns (row id, whether it is new). The same drawing saved
        again (same input, label and session) returns the existing row. With `cap`, a new drawing
        is refused (StoreFull) once the store holds that many."""
        return self.add_many([NewDrawing(image, label, original_png, session, prediction, probs, model_id,
                                         source, created)], cap=cap)[0]

    def add_many(self, drawings: list[NewDrawing], cap: int | None = None) -> list[tuple[int, bool]]:
        """Store several drawings in one transaction (imports); (row id, is new) for each. With
        `cap`, nothing is stored (StoreFull) if the new ones would take the store past it."""
        rows = [d.row() for d in drawings]

        def insert(con: sqlite3.Connection) -> list[tuple[int, bool]]:
            out = []
            with _transaction(con):  # the count and the insert in one write lock: no two saves pass the cap
                if cap is not None:
                    held = con.execute("SELECT COUNT(*) FROM drawings").fetchone()[0]
                    known = con.execute(f"SELECT COUNT(*) FROM drawings WHERE content_hash IN "
                                        f"({','.join('?' * len(rows))})", [r[-1] for r in rows]).fetchone()[0]
                    if held + len(rows) - known > cap:
                        raise StoreFull(f"The drawings store is full ({held:,} drawings, the limit on this server); "
                                        "nothing was saved. Ask whoever runs it to export and clear some.")
                for row in rows:
                    cur = con.execute("INSERT OR IGNORE INTO drawings (image, original, label, prediction, probs, "
                                      "model_id, created, session, source, content_hash) VALUES (?,?,?,?,?,?,?,?,?,?)",
                                      row)
                    if cur.rowcount:
                        out.append((int(cur.lastrowid), True))
                    else:
                        found = con.execute("SELECT id FROM drawings WHERE content_hash = ?", (row[-1],)).fetchone()
                        out.append((int(found[0]), False))
            return out

        return self._guarded(insert)

    def delete(self, ids: list[int], session: str | None = None) -> int:
        """Delete drawings by id (only those of `session`, when given); returns how many went."""
        ids = [int(i) for i in ids]
        if not ids:
            return 0
        marks = ",".join("?" * len(ids))
        sql = f"DELETE FROM drawings WHERE id IN ({marks})"
        args: list[object] = list(ids)
        if session is not None:
            sql += " AND session = ?"
            args.append(session)
        return self._write(sql, args)

    def delete_session(self, session: str) -> int:
        """Delete every drawing saved from one browser session; returns how many went."""
        return self._write("DELETE FROM drawings WHERE session = ?", [session])

    def clear(self) -> int:
        """Delete every drawing; returns how many went."""
        return self._write("DELETE FROM drawings", [])

    def _write(self, sql: str, args: list[object]) -> int:
        def run(con: sqlite3.Connection) -> int:
            with _transaction(con):
                return con.execute(sql, args).rowcount

        return self._guarded(run)

    # --- reading ---

    def list(self, label: int | None = None, wrong_only: bool = False, session: str | None = None,
             limit: int | None = None, offset: int = 0) -> list[Drawing]:
        """Drawings, newest first, filtered by label, wrongly predicted and session."""
        where, args = _filters(label, wrong_only, session)
        sql = f"SELECT * FROM drawings{where} ORDER BY created DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            args += [int(limit), int(offset)]
        return self._guarded(lambda con: [_row_to_drawing(r) for r in con.execute(sql, args)])

    def count(self, label: int | None = None, wrong_only: bool = False, session: str | None = None) -> int:
        where, args = _filters(label, wrong_only, session)
        return self._guarded(lambda con: con.execute(f"SELECT COUNT(*) FROM drawings{where}", args).fetchone()[0])

    def counts_per_digit(self, session: str | None = None) -> list[int]:
        """How many drawings of each digit 0-9."""
        where, args = _filters(None, False, session)
        rows = self._guarded(lambda con: con.execute(
            f"SELECT label, COUNT(*) FROM drawings{where} GROUP BY label", args).fetchall())
        counts = [0] * NUM_CLASSES
        for label, n in rows:
            counts[label] = n
        return counts

    def signature(self) -> tuple[int, int, float]:
        """Changes whenever drawings are added or deleted: a cache key for what is derived from them."""
        row = self._guarded(lambda con: con.execute(
            "SELECT COUNT(*), COALESCE(MAX(id), 0), TOTAL(id) FROM drawings").fetchone())
        return int(row[0]), int(row[1]), float(row[2])

    def dataset(self, split: str = "all", session: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(images (n,28,28) uint8, labels (n,), ids (n,)) for training ("train"), measuring
        ("held_out") or everything ("all"), oldest first. The split is fixed by content hash."""
        if split not in ("train", "held_out", "all"):
            raise ValueError(f"split must be train, held_out or all, not {split!r}")
        where, args = _filters(None, False, session)
        rows = self._guarded(lambda con: con.execute(
            f"SELECT id, image, label, content_hash FROM drawings{where} ORDER BY id", args).fetchall())
        if split != "all":
            rows = [r for r in rows if is_held_out(r["content_hash"]) == (split == "held_out")]
        images = np.frombuffer(b"".join(r["image"] for r in rows), np.uint8).reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
        return (images.copy(), np.array([r["label"] for r in rows], np.int64),
                np.array([r["id"] for r in rows], np.int64))


def _filters(label: int | None, wrong_only: bool, session: str | None) -> tuple[str, list[object]]:
    clauses, args = [], []
    if label is not None:
        clauses.append("label = ?")
        args.append(check_label(label))
    if wrong_only:
        clauses.append("prediction IS NOT NULL AND prediction != label")
    if session is not None:
        clauses.append("session = ?")
        args.append(session)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), args


@contextlib.contextmanager
def _transaction(con: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE takes the write lock up front (waiting up to the busy timeout), so
    concurrent writers queue instead of failing half-way."""
    con.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def _unreadable(path: Path) -> bool:
    return path.exists() and not os.access(path, os.R_OK | os.W_OK)


def _corrupt(exc: sqlite3.DatabaseError) -> bool:
    """SQLite itself says the file is damaged or not a database: only then is it moved aside."""
    return getattr(exc, "sqlite_errorcode", None) in (SQLITE_CORRUPT, SQLITE_NOTADB)
