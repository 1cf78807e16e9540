"""The drawings people label, kept so the app can learn their handwriting.

One row per labelled drawing: the 28x28 input the model saw (uint8), the original picture as
PNG (so a better preprocessing can redo it later), the label, what the model predicted and with
which probabilities, which model, when, from which anonymous browser session, and from where
(canvas, upload, import). Saving the same drawing twice keeps one row: "the same" is the same
28x28 input with the same label from the same session (content_hash).

Two databases hold them, with the same table and migrations (schema.py): an SQLite file beside
the retrained models (config.user_home(), sqlite_db.py), the default; or, when
MNIST_DRAW_DATABASE_URL is set, a PostgreSQL database that several servers share
(postgres_db.py). DrawingStore speaks the SQL both understand; each backend owns its
connections, its record of the schema version and what it does when something breaks.
"""

from __future__ import annotations

import datetime as dt
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image

from mnist_cnn.config import IMAGE_SIZE, NUM_CLASSES, database_url, user_home
from mnist_cnn.drawings.postgres_db import PostgresDrawings
from mnist_cnn.drawings.schema import (  # noqa: F401 - HELD_OUT_BUCKETS, SCHEMA_VERSION: part of the store's API
    HELD_OUT_BUCKETS,
    SCHEMA_VERSION,
    SOURCES,
    Database,
    DrawingsError,
    StoreFull,
    content_hash,
    is_held_out,
)
from mnist_cnn.drawings.sqlite_db import SqliteDrawings

DB_NAME = "drawings.sqlite3"
IMPORT_SESSION = "import"  # the session of pictures imported from a folder without metadata
PAGE_SIZE = 24
IMAGE_BYTES = IMAGE_SIZE * IMAGE_SIZE
POSTGRES_SCHEMES = ("postgresql://", "postgres://")

T = TypeVar("T")


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


def _row_to_drawing(row) -> Drawing:
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
    """The drawings database at `path`: an SQLite file, or a postgresql:// address. By default,
    the PostgreSQL database of MNIST_DRAW_DATABASE_URL when it is set, else drawings.sqlite3 in
    the user home folder.

    `path` is where the drawings are, for messages (a PostgreSQL address without its password);
    `location` opens the same store again. `recovered` holds the one-line message when a corrupt
    SQLite file had to be moved aside."""

    def __init__(self, path: Path | str | None = None) -> None:
        if path is None:
            path = database_url() or default_path()
        if isinstance(path, str) and (path.startswith(POSTGRES_SCHEMES) or path == database_url()):
            self._backend: SqliteDrawings | PostgresDrawings = PostgresDrawings(path)
        else:
            self._backend = SqliteDrawings(Path(path))
        self.path: Path | str = self._backend.path
        self.location: Path | str = self._backend.location
        self._run(lambda db: None)  # create or migrate now, and recover a broken file early

    @property
    def recovered(self) -> str | None:
        return self._backend.recovered

    def _run(self, work: Callable[[Database], T]) -> T:
        return self._backend.run(work)

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

        def insert(db: Database) -> list[tuple[int, bool]]:
            out = []
            with db.write():  # the count and the insert in one write lock: no two saves pass the cap
                if cap is not None:
                    held = db.execute("SELECT COUNT(*) FROM drawings").fetchone()[0]
                    known = db.execute(f"SELECT COUNT(*) FROM drawings WHERE content_hash IN "
                                       f"({','.join('?' * len(rows))})", [r[-1] for r in rows]).fetchone()[0]
                    if held + len(rows) - known > cap:
                        raise StoreFull(f"The drawings store is full ({held:,} drawings, the limit on this server); "
                                        "nothing was saved. Ask whoever runs it to export and clear some.")
                for row in rows:  # under the write lock, so looking first and then inserting is safe
                    found = db.execute("SELECT id FROM drawings WHERE content_hash = ?", (row[-1],)).fetchone()
                    if found is not None:
                        out.append((int(found[0]), False))
                        continue
                    new = db.execute("INSERT INTO drawings (image, original, label, prediction, probs, model_id, "
                                     "created, session, source, content_hash) VALUES (?,?,?,?,?,?,?,?,?,?) "
                                     "RETURNING id", row).fetchone()
                    out.append((int(new[0]), True))
            return out

        return self._run(insert)

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
        def run(db: Database) -> int:
            with db.write():
                return db.execute(sql, args).rowcount

        return self._run(run)

    # --- reading ---

    def list(self, label: int | None = None, wrong_only: bool = False, session: str | None = None,
             limit: int | None = None, offset: int = 0) -> list[Drawing]:
        """Drawings, newest first, filtered by label, wrongly predicted and session."""
        where, args = _filters(label, wrong_only, session)
        sql = f"SELECT * FROM drawings{where} ORDER BY created DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            args += [int(limit), int(offset)]
        return self._run(lambda db: [_row_to_drawing(r) for r in db.execute(sql, args)])

    def count(self, label: int | None = None, wrong_only: bool = False, session: str | None = None) -> int:
        where, args = _filters(label, wrong_only, session)
        return self._run(lambda db: db.execute(f"SELECT COUNT(*) FROM drawings{where}", args).fetchone()[0])

    def counts_per_digit(self, session: str | None = None) -> list[int]:
        """How many drawings of each digit 0-9."""
        where, args = _filters(None, False, session)
        rows = self._run(lambda db: db.execute(
            f"SELECT label, COUNT(*) FROM drawings{where} GROUP BY label", args).fetchall())
        counts = [0] * NUM_CLASSES
        for label, n in rows:
            counts[label] = n
        return counts

    def browsers(self) -> list[tuple[str, int]]:
        """Each browser id that saved drawings, with how many, the most first (the admin's view)."""
        rows = self._run(lambda db: db.execute(
            "SELECT session, COUNT(*) AS n FROM drawings GROUP BY session ORDER BY n DESC, session").fetchall())
        return [(str(session), int(n)) for session, n in rows]

    def signature(self) -> tuple[int, int, float]:
        """Changes whenever drawings are added or deleted: a cache key for what is derived from them."""
        row = self._run(lambda db: db.execute(
            "SELECT COUNT(*), COALESCE(MAX(id), 0), COALESCE(SUM(id), 0) FROM drawings").fetchone())
        return int(row[0]), int(row[1]), float(row[2])

    def dataset(self, split: str = "all", session: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(images (n,28,28) uint8, labels (n,), ids (n,)) for training ("train"), measuring
        ("held_out") or everything ("all"), oldest first. The split is fixed by content hash."""
        if split not in ("train", "held_out", "all"):
            raise ValueError(f"split must be train, held_out or all, not {split!r}")
        where, args = _filters(None, False, session)
        rows = self._run(lambda db: db.execute(
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
