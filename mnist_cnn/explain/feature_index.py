"""What the network has learned, indexed: the 60,000 training digits and the 10,000 test
digits as the network's own penultimate features, for "which training digits does my drawing
resemble?" and "where does it land on the map of all digits?".

The features (the input of the last Dense layer: 3,200 numbers for the improved model, 6,272
for the seed) are too many to keep for 60,000 images, so they are projected on their 64 main
directions (a truncated SVD of a sample of training features) and normalised: a dot product is
then a cosine similarity, and 60,000 of them take a few milliseconds. The 2-D map is a linear
discriminant analysis of the same vectors (the two directions that best separate the ten
digits), so a new drawing lands on it by one small matrix product, always in the same place.

Embedding 60,000 images takes a while, so the index is built once per model in a child
process at low priority (`python -m mnist_cnn.explain.feature_index --model PATH`) and kept on disk
under the user folder by model id; the server only starts it and polls for the file.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_cnn.config import NUM_CLASSES, REPO_ROOT, child_env, user_home
from mnist_cnn.data.mnist import load_mnist, to_model_input
from mnist_cnn.network import store
from mnist_cnn.network.inference import load_classifier

COMPONENTS = 64  # feature directions kept for cosine similarity (128 agreed no better, took twice as long)
BASIS_SAMPLE = 4_000  # training images the directions are fitted on
OVERSAMPLE = 16  # extra random directions that make the randomised SVD accurate
EMBED_CHUNK = 500  # large batches go through TensorFlow: half the CPU time of NumPy for 70,000 images
BUILD_NICENESS = 10  # the child yields the CPU to the server and to training
KEPT_INDEXES = 8  # ~8 MB each on disk: the most recently used are kept, an older one is rebuilt if asked for
SEED = 0
READY, BUILDING, FAILED, MISSING = "ready", "building", "failed", "missing"
LIMIT_ENV = "MNIST_DRAW_INDEX_LIMIT"  # test-only: index only the first N training and test images


@dataclass(frozen=True)
class FeatureIndex:
    """Normalised feature vectors of the training digits and the 2-D map of the test digits."""

    basis: np.ndarray  # (d, COMPONENTS): raw features -> reduced
    train: np.ndarray  # (n_train, COMPONENTS) float32, unit rows
    train_labels: np.ndarray  # (n_train,)
    map_mean: np.ndarray  # (COMPONENTS,)
    map_axes: np.ndarray  # (COMPONENTS, 2): reduced -> 2-D map
    test_xy: np.ndarray  # (n_test, 2)
    test_labels: np.ndarray  # (n_test,)

    def vectors(self, features: np.ndarray) -> np.ndarray:
        """Raw penultimate features (n, d) to unit vectors (n, COMPONENTS)."""
        v = np.asarray(features, np.float32) @ self.basis
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)

    def nearest(self, features: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The k most similar training digits to one image's features: indices, labels, cosines."""
        sims = self.train @ self.vectors(features.reshape(1, -1))[0]
        top = np.argpartition(-sims, k)[:k]
        top = top[np.argsort(-sims[top], kind="stable")]
        return top, self.train_labels[top], sims[top]

    def place(self, features: np.ndarray) -> np.ndarray:
        """Where images with these features (n, d) land on the 2-D map: (n, 2)."""
        return (self.vectors(features) - self.map_mean) @ self.map_axes


# ---------- building (in the child process) ----------

def embed(clf, images: np.ndarray) -> np.ndarray:
    """Penultimate features of uint8 or float images, in chunks."""
    out = []
    for i in range(0, len(images), EMBED_CHUNK):
        chunk = images[i : i + EMBED_CHUNK]
        x = to_model_input(chunk) if chunk.dtype == np.uint8 else np.asarray(chunk, np.float32)
        out.append(np.asarray(clf.embed(x), np.float32))
    return np.concatenate(out)



def feature_basis(features: np.ndarray) -> np.ndarray:
    """The COMPONENTS main directions of the (uncentred) features, so cosines between the
    projected vectors approximate those between the full ones. A randomised SVD (Halko et
    al. 2011, one power iteration): four matrix products instead of a full SVD, which takes
    minutes for 6,272 features."""
    f = np.asarray(features, np.float32)
    k = min(COMPONENTS, *f.shape)
    probe = np.random.default_rng(SEED).standard_normal((f.shape[1], min(k + OVERSAMPLE, f.shape[1])))
    q, _ = np.linalg.qr(f @ probe.astype(np.float32))
    q, _ = np.linalg.qr(f @ (f.T @ q))
    _, _, vt = np.linalg.svd(q.T @ f, full_matrices=False)
    return np.ascontiguousarray(vt[:k].T, dtype=np.float32)


def discriminant_axes(vectors: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Linear discriminant analysis: the mean and the two directions along which the digits'
    class means are furthest apart relative to the spread within each digit."""
    from scipy.linalg import eigh

    mean = vectors.mean(axis=0)
    within = np.zeros((vectors.shape[1],) * 2)
    between = np.zeros_like(within)
    for d in range(NUM_CLASSES):
        members = vectors[labels == d].astype(np.float64)
        if len(members) == 0:
            continue
        centred = members - members.mean(axis=0)
        within += centred.T @ centred
        offset = (members.mean(axis=0) - mean)[:, None]
        between += len(members) * offset @ offset.T
    within += 1e-3 * np.trace(within) / len(within) * np.eye(len(within))  # keep it invertible
    values, vecs = eigh(between, within)
    axes = vecs[:, np.argsort(-values)[:2]]
    axes *= np.sign(axes[np.abs(axes).argmax(axis=0), [0, 1]])  # a fixed orientation
    axes /= ((vectors - mean) @ axes).std(axis=0)  # unit spread along each axis
    return mean.astype(np.float32), axes.astype(np.float32)


def build(clf, train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray]) -> FeatureIndex:
    (x_train, y_train), (x_test, y_test) = train, test
    features = embed(clf, x_train)
    rng = np.random.default_rng(SEED)
    sample = rng.choice(len(features), min(BASIS_SAMPLE, len(features)), replace=False)
    basis = feature_basis(features[np.sort(sample)])
    partial = FeatureIndex(basis, np.empty((0, basis.shape[1]), np.float32), y_train, np.zeros(basis.shape[1]),
                           np.zeros((basis.shape[1], 2)), np.empty((0, 2)), y_test)
    train_vectors = partial.vectors(features)
    map_mean, map_axes = discriminant_axes(train_vectors, y_train)
    test_vectors = partial.vectors(embed(clf, x_test))
    return FeatureIndex(basis, train_vectors, y_train.astype(np.uint8), map_mean, map_axes,
                        ((test_vectors - map_mean) @ map_axes).astype(np.float32), y_test.astype(np.uint8))


# ---------- on disk, by model id ----------

def index_dir() -> Path:
    return user_home() / "index"


def env_limit() -> int | None:
    """Tests and the browser test set LIMIT_ENV to build small indexes in seconds."""
    value = os.environ.get(LIMIT_ENV)
    return int(value) if value else None


def index_name(model_id: str, limit: int | None = None) -> str:
    """A partial index (first `limit` training and test images, for tests) never shadows the full one."""
    limit = limit if limit is not None else env_limit()
    return model_id if limit is None else f"{model_id}-first{limit}"


def index_path(name: str) -> Path:
    return index_dir() / f"{name}.npz"


def save(index: FeatureIndex, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
    arrays = {k: getattr(index, k) for k in FeatureIndex.__dataclass_fields__}
    arrays["train"] = index.train.astype(np.float16)  # half the size; cosines barely move
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def prune(keep: int = KEPT_INDEXES) -> list[Path]:
    """Remove all but the `keep` most recently used indexes (one per model a person has looked
    at; every retrain adds a model), with their logs; returns the removed files."""
    def last_used(path: Path) -> float:
        try:
            return path.stat().st_mtime
        except OSError:  # removed meanwhile (another server's prune)
            return 0.0

    indexes = sorted((p for p in index_dir().glob("*.npz") if not p.name.startswith(".")), key=last_used,
                     reverse=True)
    removed = indexes[keep:]
    for path in removed:
        path.unlink(missing_ok=True)
        path.with_suffix(".log").unlink(missing_ok=True)
    return removed


_loaded: dict[str, FeatureIndex] = {}
_lock = threading.Lock()


def load(name: str) -> FeatureIndex | None:
    """The index from disk (once per process), or None if it is not built yet."""
    with _lock:
        if name not in _loaded:
            path = index_path(name)
            if not path.is_file():
                return None
            with np.load(path) as f:
                arrays = {k: f[k] for k in FeatureIndex.__dataclass_fields__}
            os.utime(path)  # used: prune() keeps the most recently used
            arrays["train"] = arrays["train"].astype(np.float32)
            _loaded[name] = FeatureIndex(**arrays)
        return _loaded[name]


# ---------- the background build ----------

_children: dict[str, subprocess.Popen] = {}


def _marker(name: str, kind: str) -> Path:
    return index_dir() / f"{name}.{kind}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def status(name: str) -> tuple[str, str]:
    """(READY | BUILDING | FAILED | MISSING, a message for FAILED)."""
    child = _children.get(name)
    if child is not None and child.poll() is not None:  # reap a finished child
        _children.pop(name, None)
    if index_path(name).is_file():
        return READY, ""
    error = _marker(name, "error")
    if error.is_file():
        return FAILED, error.read_text().strip()
    try:
        if _alive(int(_marker(name, "building").read_text())):
            return BUILDING, ""
    except (OSError, ValueError):
        pass
    return MISSING, ""


def ensure_built(model_path: Path | str, model_id: str, limit: int | None = None, retry: bool = False) -> str:
    """Start building the index for a model in a low-priority child process unless it exists
    or is being built; returns its status. `retry` clears an earlier failure first."""
    limit = limit if limit is not None else env_limit()
    name = index_name(model_id, limit)
    with _lock:
        if retry:
            _marker(name, "error").unlink(missing_ok=True)
        state, _ = status(name)
        if state != MISSING:
            return state
        index_dir().mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "mnist_cnn.explain.feature_index", "--model", str(model_path)]
        if limit is not None:
            command += ["--limit", str(limit)]
        with open(_marker(name, "log"), "w") as log:
            child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     cwd=REPO_ROOT, env=child_env(), start_new_session=True)
        _children[name] = child
        _marker(name, "building").write_text(str(child.pid))
        return BUILDING


def wait(model_id: str, limit: int | None = None, timeout: float = 600.0) -> str:
    """Block until a started build ends (for the CLI and tests); returns the final status."""
    name = index_name(model_id, limit)
    child = _children.get(name)
    if child is not None:
        child.wait(timeout)
    return status(name)[0]


def build_for(model_path: Path | str, limit: int | None = None) -> Path:
    """Embed MNIST with the model at model_path, fit, and save the index; returns its file.
    A failure leaves a one-line .error file the app shows (and raises)."""
    name = index_name(store.entry(Path(model_path)).model_id, limit)
    _marker(name, "building").parent.mkdir(parents=True, exist_ok=True)
    _marker(name, "building").write_text(str(os.getpid()))
    try:
        clf = load_classifier(model_path)
        (x_train, y_train), (x_test, y_test) = load_mnist()
        n = limit or len(x_train)
        save(build(clf, (x_train[:n], y_train[:n]), (x_test[:n], y_test[:n])), index_path(name))
    except Exception as exc:  # the app shows this line; the log keeps the traceback
        _marker(name, "error").write_text(f"Building the index failed: {exc}\n")
        raise
    finally:
        _marker(name, "building").unlink(missing_ok=True)
    prune()  # after the build has succeeded: tidying never fails it
    return index_path(name)


def main(argv: list[str] | None = None) -> int:
    """The child process the server starts, at low priority."""
    parser = argparse.ArgumentParser(prog="python -m mnist_cnn.explain.feature_index",
                                     description="Build the nearest-neighbour index and 2-D map for a model.")
    parser.add_argument("--model", required=True, help="path of the .keras model")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N training and test images")
    args = parser.parse_args(argv)
    os.nice(BUILD_NICENESS)
    print(f"index written to {build_for(args.model, args.limit)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
