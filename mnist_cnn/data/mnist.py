"""Loading MNIST: the four original IDX files, a Keras-style mnist.npz, or the Keras download.

Sources, in order: an explicit folder, the MNIST_DATA_DIR environment variable, the Keras
cache (~/.keras/datasets/mnist.npz), and finally a download of Keras' mnist.npz into that
cache. Every failure is a MnistDataError whose message is one sentence saying what is
wrong and how to fix it. The arrays are loaded once per process (they are 55 MB).
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import socket
import ssl
import threading
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import numpy as np

from mnist_cnn.config import DATA_ENV, IMAGE_SIZE, NUM_CLASSES

Split = tuple[np.ndarray, np.ndarray]
Dataset = tuple[Split, Split]

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
EXPECTED_COUNTS = {"train": 60_000, "test": 10_000}
IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
KERAS_CACHE = Path.home() / ".keras" / "datasets" / "mnist.npz"
# Keras' own copy of MNIST (keras.datasets.mnist) and its checksum.
MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
DOWNLOAD_TIMEOUT = 60.0  # seconds without an answer before giving up
OFFLINE_HINT = (f"put the four MNIST IDX files (or mnist.npz) in a folder and set {DATA_ENV} to it, "
                f"or copy mnist.npz to {KERAS_CACHE} (README: Getting MNIST offline)")

_cache: dict[str, Dataset] = {}
_lock = threading.Lock()


class MnistDataError(RuntimeError):
    """MNIST could not be loaded; the message says why and how to fix it."""


def _fix_hint(folder: Path) -> str:
    names = ", ".join(f"{n}[.gz]" for n in IDX_FILES.values())
    return (
        f"expected {names} (or mnist.npz) in {folder}; "
        f"set {DATA_ENV} to a folder that holds them"
    )


def _read_idx(path: Path, magic: int, folder: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)  # "Permission denied", not "[Errno 13] ... path"
        raise MnistDataError(f"Cannot read {path.name} ({reason}): {_fix_hint(folder)}.") from None
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header or int.from_bytes(raw[:4], "big") != magic:
        raise MnistDataError(f"{path.name} is not an MNIST IDX file (bad magic number): {_fix_hint(folder)}.")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise MnistDataError(
            f"{path.name} is truncated or padded ({len(raw)} bytes, expected {expected}): {_fix_hint(folder)}."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _find(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _load_idx_folder(folder: Path) -> Dataset:
    arrays = {}
    for key, name in IDX_FILES.items():
        path = _find(folder, name)
        if path is None:
            raise MnistDataError(f"MNIST file {name}[.gz] is missing: {_fix_hint(folder)}.")
        arrays[key] = _read_idx(path, IMAGES_MAGIC if key.endswith("images") else LABELS_MAGIC, folder)
    return (arrays["train_images"], arrays["train_labels"]), (arrays["test_images"], arrays["test_labels"])


def _load_npz(path: Path) -> Dataset:
    try:
        with np.load(path, allow_pickle=False) as f:
            return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
    except Exception as exc:  # zipfile, KeyError, ValueError: all mean "not a usable mnist.npz"
        raise MnistDataError(f"Cannot read {path} ({exc}): {_fix_hint(path.parent)}.") from None


def _validate(data: Dataset, origin: str) -> Dataset:
    for split, (x, y) in zip(("train", "test"), data):
        n = EXPECTED_COUNTS[split]
        if x.shape != (n, IMAGE_SIZE, IMAGE_SIZE) or y.shape != (n,):
            raise MnistDataError(
                f"MNIST {split} split from {origin} has shape {x.shape}/{y.shape}, "
                f"expected ({n}, {IMAGE_SIZE}, {IMAGE_SIZE})/({n},); set {DATA_ENV} to the original files."
            )
        if y.min() < 0 or y.max() >= NUM_CLASSES:
            raise MnistDataError(f"MNIST {split} labels from {origin} fall outside 0-9; the file is corrupt.")
    return tuple((x.astype(np.uint8, copy=False), y.astype(np.uint8, copy=False)) for x, y in data)


def _load_from_folder(folder: Path) -> Dataset:
    if not folder.is_dir():
        raise MnistDataError(f"MNIST folder {folder} does not exist: {_fix_hint(folder)}.")
    if _find(folder, IDX_FILES["train_images"]) is None and (folder / "mnist.npz").is_file():
        return _validate(_load_npz(folder / "mnist.npz"), str(folder))
    return _validate(_load_idx_folder(folder), str(folder))


def _failure_cause(exc: BaseException, timeout: float) -> str:
    """Name why a download failed in words a person can act on."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"the server answered HTTP {exc.code} {exc.reason}"
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, socket.gaierror):
        return "the host name could not be resolved (no network or no DNS)"
    if isinstance(reason, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(reason, ConnectionRefusedError):
        return "the connection was refused"
    if isinstance(reason, ssl.SSLError):
        return f"the secure connection failed ({reason.reason or reason})"
    return f"{type(reason).__name__}: {reason}"


def download_mnist(dest: Path = KERAS_CACHE, url: str = MNIST_URL, timeout: float = DOWNLOAD_TIMEOUT) -> Path:
    """Download Keras' mnist.npz to dest, checking its SHA-256; the same file and place Keras uses.

    Done here rather than by keras.datasets so loading data needs no TensorFlow and a failure can
    name its real cause. The file appears at dest only once complete and verified.
    """
    try:
        with urllib.request.build_opener().open(url, timeout=timeout) as response:  # proxies as set now
            payload = response.read()
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise MnistDataError(_download_failed(url, _failure_cause(exc, timeout))) from None
    if hashlib.sha256(payload).hexdigest() != MNIST_SHA256:
        raise MnistDataError(_download_failed(
            url, f"the file received ({len(payload):,} bytes) is corrupt or incomplete (checksum mismatch)"))
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(f".{dest.name}.part")
        partial.write_bytes(payload)
        os.replace(partial, dest)
    except OSError as exc:
        raise MnistDataError(f"MNIST was downloaded but cannot be saved to {dest} ({exc.strerror}); "
                             f"{OFFLINE_HINT}.") from None
    return dest


def _download_failed(url: str, cause: str) -> str:
    return f"MNIST is not on this machine and downloading it from {url} failed: {cause}; {OFFLINE_HINT}."


def data_source(data_dir: str | os.PathLike | None = None) -> str:
    """Name the place load_mnist() will read from, without reading it."""
    if data_dir is not None:
        return str(Path(data_dir))
    if os.environ.get(DATA_ENV):
        return str(Path(os.environ[DATA_ENV]))
    if KERAS_CACHE.is_file():
        return str(KERAS_CACHE)
    return "download"


def load_mnist(data_dir: str | os.PathLike | None = None) -> Dataset:
    """Return ((x_train, y_train), (x_test, y_test)) as uint8 arrays, loading each source once."""
    source = data_source(data_dir)
    with _lock:
        if source not in _cache:
            if source == "download":
                _cache[source] = _validate(_load_npz(download_mnist()), "the download")
            elif source == str(KERAS_CACHE) and data_dir is None and not os.environ.get(DATA_ENV):
                _cache[source] = _validate(_load_npz(KERAS_CACHE), source)
            else:
                _cache[source] = _load_from_folder(Path(source))
        return _cache[source]


def to_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 (n, 28, 28) images to the float32 (n, 28, 28, 1) in [0, 1] the networks take."""
    return (images.astype(np.float32) / 255.0)[..., np.newaxis]


def one_hot(labels: np.ndarray) -> np.ndarray:
    return np.eye(NUM_CLASSES, dtype=np.float32)[labels]
