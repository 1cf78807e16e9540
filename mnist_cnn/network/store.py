"""Saving and loading models: Keras' native .keras file plus a JSON sidecar.

A .keras file carries the architecture, the weights and the data layout (channels-last), so a
model saved on one backend or machine loads on another: no loose HDF5 weight files. Every write
goes to a temporary file in the same folder and is moved into place with os.replace, so a
crash, a cancel or a failed run never leaves a damaged model behind. Models retrained by a
user go to a user folder; the shipped models in the repository's models/ are never written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnist_cnn.config import DEFAULT_ARCH, SHIPPED_MODELS_DIR, user_home, user_models_dir

CURRENT_FILE = "current.json"
FILE_MODE = 0o644  # temporary files are created private; the final files are ordinary ones


class ModelStoreError(RuntimeError):
    """A model file is missing or unreadable; the message says which and what to do."""


@dataclass(frozen=True)
class ModelEntry:
    """A model on disk and what its sidecar says about it."""

    path: Path
    meta: dict[str, Any]
    shipped: bool

    @property
    def model_id(self) -> str:
        """Identity of the file's contents: changes whenever the model is retrained."""
        if not self.path.is_file():
            raise ModelStoreError(f"Model file {self.path} does not exist.")
        return self.meta.get("sha256") or file_digest(self.path)

    @property
    def label(self) -> str:
        arch = self.meta.get("arch", self.path.stem)
        acc = self.meta.get("test_accuracy")
        where = "shipped" if self.shipped else f"retrained {self.meta.get('trained_at', '')[:16].replace('T', ' ')}"
        return f"{arch} ({where}{f', {acc:.2%}' if acc is not None else ''})"


def sidecar_path(model_path: Path) -> Path:
    return Path(model_path).with_suffix(".json")


def shipped_model_path(arch: str = DEFAULT_ARCH) -> Path:
    return SHIPPED_MODELS_DIR / f"{arch}.keras"


def user_model_path(arch: str) -> Path:
    return user_models_dir() / f"{arch}.keras"


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def _move_into_place(tmp: Path | str, path: Path) -> None:
    """The last step of every write: make the finished temporary file readable like any other
    and rename it over the target in one atomic step."""
    os.chmod(tmp, FILE_MODE)
    os.replace(tmp, path)


def write_text_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        _move_into_place(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def versions() -> dict[str, str]:
    import keras
    import tensorflow as tf

    return {"tensorflow": tf.__version__, "keras": keras.__version__}


def save_model(model, path: Path, meta: dict[str, Any]) -> ModelEntry:
    """Write model and sidecar atomically; the previous file stays intact until the final rename.

    A new file's sidecar is written first: the model shows in the list (available_models) only
    once the sidecar says what it is (its accuracy, its not-a-digit verdict), so no session loads
    and caches it without. A file replaced in place keeps its old sidecar until its new model is
    there, so its sidecar never describes weights it does not hold."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ModelStoreError(f"Model files must end in .keras, not {path.name}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp.keras")
    os.close(fd)
    tmp = Path(tmp_name)
    new_file = not path.exists()
    try:
        model.save(tmp)
        full_meta = {
            "arch": meta.get("arch", model.name),
            "params": int(model.count_params()),
            **meta,
            "trained_at": meta.get("trained_at") or dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            **versions(),
            "sha256": file_digest(tmp),
        }
        if new_file:
            write_meta(path, full_meta)
        _move_into_place(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        if new_file and not path.exists():
            sidecar_path(path).unlink(missing_ok=True)
        raise
    if not new_file:
        write_meta(path, full_meta)
    return ModelEntry(path, full_meta, shipped=is_shipped(path))


def write_meta(path: Path, meta: dict[str, Any]) -> None:
    """Write a model's sidecar (atomically), as save_model does; for fitted additions to it."""
    write_text_atomically(sidecar_path(path), json.dumps(meta, indent=2) + "\n")


def read_meta(path: Path) -> dict[str, Any]:
    """The sidecar's contents, or {} if it is missing or unreadable (the model still works)."""
    try:
        return json.loads(sidecar_path(path).read_text())
    except (OSError, ValueError):
        return {}


def is_shipped(path: Path) -> bool:
    return Path(path).resolve().parent == SHIPPED_MODELS_DIR.resolve()


def entry(path: Path) -> ModelEntry:
    path = Path(path)
    return ModelEntry(path, read_meta(path), shipped=is_shipped(path))


def load_keras_model(path: Path):
    """Load a .keras file in Keras' safe mode, or raise ModelStoreError with a clear message."""
    import keras

    path = Path(path)
    if not path.is_file():
        raise ModelStoreError(f"Model file {path} does not exist.")
    try:
        return keras.models.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:
        raise ModelStoreError(f"Model file {path} is not a loadable .keras model ({type(exc).__name__}).") from None


def available_models() -> list[ModelEntry]:
    """Shipped models first, then the user's retrained ones, each only if its file exists."""
    shipped = sorted(SHIPPED_MODELS_DIR.glob("*.keras"), key=lambda p: (p.stem != DEFAULT_ARCH, p.stem))
    users = sorted(user_models_dir().glob("*.keras")) if user_models_dir().is_dir() else []
    return [entry(p) for p in [*shipped, *users] if not p.name.startswith(".")]


def current_model_path() -> Path:
    """The model the app and load_classifier(None) use: the user's choice if it still exists,
    else the shipped default architecture."""
    try:
        chosen = Path(json.loads((user_home() / CURRENT_FILE).read_text())["path"])
        if chosen.is_file():
            return chosen
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return shipped_model_path(DEFAULT_ARCH)


def current_choice_stamp() -> tuple[int, int] | None:
    """When the choice of current model last changed: current.json's inode and modification time
    (None: no choice made, the shipped default). One stat(), cheap enough for every stroke; every
    process sharing user_home() (other sessions, other replicas) sees a new choice in it, since
    set_current_model replaces the file with a new one."""
    try:
        info = (user_home() / CURRENT_FILE).stat()
    except OSError:
        return None
    return info.st_ino, info.st_mtime_ns


def set_current_model(path: Path) -> None:
    """Make a model the current one for every session and process (atomically)."""
    write_text_atomically(user_home() / CURRENT_FILE, json.dumps({"path": str(Path(path).resolve())}) + "\n")


def restore_shipped(arch: str = DEFAULT_ARCH) -> Path:
    """Switch back to a shipped model; retrained files are kept."""
    path = shipped_model_path(arch)
    set_current_model(path)
    return path


def delete_model(path: Path) -> bool:
    """Delete a retrained model and its sidecar; returns whether it was the one in use, in which
    case every session and process is switched to the shipped model of its architecture (or the
    default one). The shipped models are never deleted (ModelStoreError)."""
    path = Path(path)
    if is_shipped(path) or path.resolve().parent != user_models_dir().resolve():
        raise ModelStoreError(f"{path.name} is not a retrained model; the shipped models stay.")
    if not path.is_file():
        raise ModelStoreError(f"Model file {path.name} is already gone.")
    in_use = current_model_path().resolve() == path.resolve()
    if in_use:
        arch = read_meta(path).get("arch", DEFAULT_ARCH)
        restore_shipped(arch if shipped_model_path(arch).is_file() else DEFAULT_ARCH)
    path.unlink()
    sidecar_path(path).unlink(missing_ok=True)
    return in_use
