"""Drawings in and out as folders of pictures, the layout of Keras' image_dataset_from_directory.

Export writes:

    PATH/0/ … PATH/9/            the 28x28 inputs the model saw, one PNG per drawing
    PATH/originals/0/ … 9/       the original pictures (canvas or upload), same file names
    PATH/drawings.csv            everything else: prediction, probabilities, model, time, session, source

PATH itself keeps the 0/…9/ contract for the inputs; pass class_names=[str(d) for d in range(10)]
to image_dataset_from_directory so it skips originals/. Import takes any folder of 0/…9/
pictures (any size or polarity: screenshots, scans, photos), preprocessed exactly like uploads.
A folder that is an export (it has drawings.csv) is restored exactly: same inputs, originals,
labels, predictions, times and sessions, so export → import elsewhere gives the same collection.
An import reads only files inside the folder it is given: no symbolic link is followed, and no
path is taken from the metadata (an original is looked up beside its own digit folder).
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from mnist_cnn.config import IMAGE_SIZE, NUM_CLASSES
from mnist_cnn.drawings.store import (
    IMPORT_SESSION,
    Drawing,
    DrawingsError,
    DrawingStore,
    NewDrawing,
    check_label,
    png_bytes,
    to_uint8,
)
from mnist_cnn.network.inference import NUMPY_MAX_BATCH
from mnist_cnn.reading.preprocess import MAX_WORKING_SIDE, ImageError, image_to_mnist

METADATA_CSV = "drawings.csv"
ORIGINALS_DIR = "originals"
CSV_FIELDS = ["file", "label", "prediction", *[f"p{d}" for d in range(NUM_CLASSES)], "model_id", "created",
              "session", "source", "id"]
ADD_BATCH = 200  # drawings stored per transaction while importing


# ---------- export ----------

def file_name(drawing: Drawing) -> str:
    """A drawing's file name in an export: stable, unique, the same on every export."""
    return f"{drawing.content_hash[:20]}.png"


def export_entries(store: DrawingStore, session: str | None = None) -> Iterator[tuple[str, bytes]]:
    """(relative path, bytes) of every file of an export, oldest drawing first."""
    rows = []
    for d in sorted(store.list(session=session), key=lambda d: d.id):
        name = file_name(d)
        yield f"{d.label}/{name}", png_bytes(d.image)
        yield f"{ORIGINALS_DIR}/{d.label}/{name}", d.original
        probs = [repr(float(p)) for p in d.probs] if d.probs is not None else [""] * NUM_CLASSES
        rows.append([name, d.label, "" if d.prediction is None else d.prediction, *probs, d.model_id or "",
                     repr(d.created), d.session, d.source, d.id])
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    writer.writerows(rows)
    yield METADATA_CSV, buf.getvalue().encode()


def export_folder(store: DrawingStore, path: Path | str, session: str | None = None) -> int:
    """Write the collection to a new (or empty) folder; returns the number of drawings."""
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise DrawingsError(f"{path} already exists and is not an empty folder; export to a new folder.")
    count = 0
    for rel, data in export_entries(store, session):
        target = path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        count += rel.count("/") == 1
    return count


def export_zip(store: DrawingStore, session: str | None = None) -> bytes:
    """The same export as a zip file's bytes (the My drawings tab's download)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel, data in export_entries(store, session):
            zf.writestr(f"drawings/{rel}", data)
    return buf.getvalue()


# ---------- import ----------

@dataclass
class ImportReport:
    """What an import did: drawings added per digit, ones already stored, files refused and why."""

    added: list[int] = field(default_factory=lambda: [0] * NUM_CLASSES)
    duplicates: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)  # (file or folder, reason)

    @property
    def total_added(self) -> int:
        return sum(self.added)

    def lines(self) -> list[str]:
        """The report as the CLI prints it: one line per refused file, then the totals."""
        out = [f"refused {name}: {reason}" for name, reason in self.refused]
        per_digit = "  ".join(f"{d}:{n}" for d, n in enumerate(self.added))
        out.append(f"added {self.total_added} drawings ({per_digit})")
        if self.duplicates:
            out.append(f"{self.duplicates} were already stored and were skipped")
        return out


def _read_metadata(folder: Path) -> dict[str, dict[str, str]]:
    path = folder / METADATA_CSV
    if not path.is_file():
        return {}
    if path.is_symlink():
        raise DrawingsError(f"{path} is a symbolic link; an import reads only files inside its folder.")
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            if not set(CSV_FIELDS) - {"id"} <= set(reader.fieldnames or []):
                raise DrawingsError(f"{path} is not a drawings export's metadata (columns {reader.fieldnames}).")
            return {row["file"]: row for row in reader}
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DrawingsError(f"Cannot read {path} ({exc}).") from None


def _original_png(data: bytes) -> bytes:
    """Keep a PNG as it is; other formats (and huge pictures) become a PNG no larger than what
    the preprocessing works on, so the stored original can always be preprocessed again."""
    with Image.open(io.BytesIO(data)) as image:
        if image.format == "PNG" and max(image.size) <= MAX_WORKING_SIDE:
            return data
        image.thumbnail((MAX_WORKING_SIDE, MAX_WORKING_SIDE), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        return buf.getvalue()


def inside(folder: Path, path: Path) -> Path:
    """`path` if it is a real file or folder inside `folder`; a symbolic link, or a path that
    leads out of the folder, is refused (ImageError): an import reads only the folder it was given."""
    if path.is_symlink():
        raise ImageError("it is a symbolic link; copy the file itself into the folder")
    if not path.resolve().is_relative_to(folder.resolve()):
        raise ImageError(f"it is outside the folder {folder}")
    return path


def _exported_drawing(folder: Path, file: Path, label: int, meta: dict[str, str]) -> NewDrawing:
    """A drawing from an export, exactly as it was stored. Its original is looked up under the
    digit folder it was found in, never under a path taken from the metadata."""
    if check_label(meta["label"]) != label:
        raise ValueError(f"label {meta['label']!r} in {METADATA_CSV} differs from its folder {label}/")
    with Image.open(file) as image:
        if image.size != (IMAGE_SIZE, IMAGE_SIZE) or image.mode != "L":
            raise ImageError(f"an exported input must be a 28x28 greyscale PNG, this is {image.size} {image.mode}")
        pixels = np.asarray(image, dtype=np.uint8)
    original = folder / ORIGINALS_DIR / str(label) / file.name
    if not original.is_file():
        raise ImageError(f"its original picture {original.relative_to(folder)} is missing")
    inside(folder, original)
    probs = [meta[f"p{d}"] for d in range(NUM_CLASSES)]
    return NewDrawing(pixels, label, original.read_bytes(), meta["session"],
                      prediction=int(meta["prediction"]) if meta["prediction"] else None,
                      probs=np.array([float(p) for p in probs], np.float32) if all(probs) else None,
                      model_id=meta["model_id"] or None, source=meta["source"], created=float(meta["created"]))


def _picture_drawing(file: Path, label: int) -> NewDrawing:
    """Any picture, preprocessed like an upload."""
    data = file.read_bytes()
    image = image_to_mnist(data)
    if image is None:
        raise ImageError("no ink: the picture is blank")
    return NewDrawing(image, label, _original_png(data), IMPORT_SESSION, source="import")


def _digit_folders(folder: Path, metadata: dict, report: ImportReport) -> list[tuple[int, Path]]:
    """The 0/…9/ folders; anything else at the top level is reported once."""
    found = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or (metadata and entry.name in (METADATA_CSV, ORIGINALS_DIR)):
            continue
        if entry.is_symlink():
            report.refused.append((entry.name, "it is a symbolic link; copy the files themselves into the folder"))
            continue
        if not entry.is_dir():
            report.refused.append((entry.name, "not inside a digit folder; put pictures in folders 0/ … 9/"))
            continue
        try:
            found.append((check_label(entry.name), entry))
        except ValueError:
            what = f"label {entry.name} is outside 0-9" if entry.name.isdigit() else "the folder name is not a digit"
            report.refused.append((f"{entry.name}/", f"{what}; folders must be named 0 … 9"))
    return found


def _predict(classifier, batch: list[NewDrawing]) -> None:
    """Fill in the current model's prediction for imported pictures that have none."""
    todo = [d for d in batch if d.prediction is None]
    if classifier is None or not todo:
        return
    images = np.stack([to_uint8(d.image) for d in todo]).astype(np.float32) / 255.0  # exactly what is stored
    step = NUMPY_MAX_BATCH  # the classifier's NumPy path: no TensorFlow start-up for an import
    probs = np.concatenate([classifier.predict_proba(images[i:i + step]) for i in range(0, len(images), step)])
    for d, p in zip(todo, probs):
        d.prediction, d.probs, d.model_id = int(p.argmax()), p, classifier.model_id


def import_folder(store: DrawingStore, folder: Path | str, classifier=None) -> ImportReport:
    """Import a folder of 0/…9/ pictures (or an export) into the store; `classifier`, when
    given, records its prediction for pictures that come without one."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DrawingsError(f"{folder} is not a folder; give a folder with subfolders 0/ … 9/ of pictures.")
    report = ImportReport()
    metadata = _read_metadata(folder)
    digit_folders = _digit_folders(folder, metadata, report)
    if not digit_folders and not report.refused:
        raise DrawingsError(f"{folder} has no folders 0/ … 9/; put each picture in the folder of its digit.")
    batch: list[NewDrawing] = []
    for label, sub in digit_folders:
        for file in sorted(p for p in sub.rglob("*") if p.is_file() and not p.name.startswith(".")):
            rel = str(file.relative_to(folder))
            try:
                inside(folder, file)
                meta = metadata.get(file.name)
                drawing = _exported_drawing(folder, file, label, meta) if meta else _picture_drawing(file, label)
                drawing.row()  # checks it now, so one bad file never sinks a batch
                batch.append(drawing)
            except (ImageError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
                report.refused.append((rel, str(exc)))
            except OSError as exc:
                report.refused.append((rel, f"cannot read it ({exc.strerror or exc})"))
            except (ValueError, KeyError) as exc:
                report.refused.append((rel, f"its metadata in {METADATA_CSV} is unusable ({exc})"))
            if len(batch) >= ADD_BATCH:
                _store_batch(store, batch, classifier, report)
    _store_batch(store, batch, classifier, report)
    return report


def _store_batch(store: DrawingStore, batch: list[NewDrawing], classifier, report: ImportReport) -> None:
    _predict(classifier, batch)
    for d, (_, new) in zip(batch, store.add_many(batch)):
        if new:
            report.added[int(d.label)] += 1
        else:
            report.duplicates += 1
    batch.clear()
