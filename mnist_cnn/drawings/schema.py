"""The drawings table and its numbered migrations, the same on SQLite and PostgreSQL.

A migration is written once against `Database`, the little both backends offer: execute and
executemany with `?` placeholders, and the column types that differ (`types`). Each backend
keeps its own record of the version (SQLite: PRAGMA user_version; PostgreSQL: a one-row table)
and runs the missing migrations in one transaction, one process at a time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

SOURCES = ("canvas", "upload", "import")
HELD_OUT_BUCKETS = 5  # one drawing in five (by content hash) is held out of fine-tuning


class DrawingsError(RuntimeError):
    """The drawings store cannot do what was asked; the message says why and what to do."""


class StoreFull(DrawingsError):
    """A save would take the store past its cap (a shared server's limit)."""


class Database(Protocol):
    """One connection to either database, as the store and the migrations use it."""

    types: Mapping[str, str]  # "id", "blob", "real": the column types each database spells its own way

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Any: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...


SCHEMA_V1 = """
CREATE TABLE drawings (
    id {id},
    image {blob} NOT NULL,
    original {blob} NOT NULL,
    label INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),
    prediction INTEGER,
    probs {blob},
    model_id TEXT,
    created {real} NOT NULL,
    session TEXT NOT NULL
);
"""


def _migrate_to_v1(db: Database) -> None:
    """The first schema: drawings without provenance or duplicate detection."""
    db.execute(SCHEMA_V1.format(**db.types))


def _migrate_to_v2(db: Database) -> None:
    """Version 2 adds where a drawing came from and a content hash that makes saving the same
    drawing twice one row; duplicates saved under version 1 are folded into their oldest copy."""
    db.execute(f"ALTER TABLE drawings ADD COLUMN source TEXT NOT NULL DEFAULT 'canvas' "
               f"CHECK (source IN {SOURCES!r})")
    db.execute("ALTER TABLE drawings ADD COLUMN content_hash TEXT")
    rows = db.execute("SELECT id, image, label, session FROM drawings").fetchall()
    db.executemany("UPDATE drawings SET content_hash = ? WHERE id = ?",
                   [(content_hash(bytes(image), label, session), row_id) for row_id, image, label, session in rows])
    db.execute("DELETE FROM drawings WHERE id NOT IN (SELECT MIN(id) FROM drawings GROUP BY content_hash)")
    db.execute("CREATE UNIQUE INDEX drawings_content_hash ON drawings (content_hash)")
    db.execute("CREATE INDEX drawings_created ON drawings (created)")
    db.execute("CREATE INDEX drawings_session ON drawings (session)")


MIGRATIONS: list[Callable[[Database], None]] = [_migrate_to_v1, _migrate_to_v2]
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(db: Database, version: int, where: str) -> None:
    """Run the migrations after `version` (inside the caller's transaction and lock); a database
    from a newer version of the app is refused and left as it is."""
    if version > SCHEMA_VERSION:
        raise DrawingsError(f"{where} was written by a newer version of MNIST Draw (schema {version}, "
                            f"this one knows {SCHEMA_VERSION}); update the app to use it.")
    for number in range(version + 1, SCHEMA_VERSION + 1):
        MIGRATIONS[number - 1](db)


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
