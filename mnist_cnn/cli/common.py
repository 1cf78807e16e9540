"""What the commands share: argument types, one-line failures, the progress bar, quiet TensorFlow."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mnist_cnn.config import EPOCH_RANGE

EXIT_ERROR = 2
BAR_WIDTH = 30
MAX_EPOCHS = EPOCH_RANGE[1] * 5


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(EXIT_ERROR)


def unreadable(path: Path, exc: OSError) -> str:
    """A plain sentence for a file that cannot be opened (no errno, no path twice)."""
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, IsADirectoryError):
        return "this is a folder, not a picture"
    if isinstance(exc, PermissionError):
        return "permission denied: the file cannot be read"
    return f"cannot be read ({exc.strerror or type(exc).__name__})"


def plain(exc: OSError) -> str:
    """An OSError as a sentence: 'cannot write /x/y: permission denied', not '[Errno 13] ... /x/y'."""
    reason = (exc.strerror or str(exc)).lower()
    return f"{exc.filename}: {reason}" if exc.filename else reason


def plural(n: int, word: str) -> str:
    """'1 epoch', '3 epochs'."""
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def epochs(text: str) -> int:
    value = positive(text)
    if value > MAX_EPOCHS:
        raise argparse.ArgumentTypeError(f"{value} epochs is too many; use 1 to {MAX_EPOCHS}")
    return value


bar_open = False  # a progress bar line is on stderr without its newline yet


def print_progress(p) -> None:
    global bar_open
    filled = int(BAR_WIDTH * p.fraction)
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    eta = f" eta {p.eta:4.0f}s" if p.eta is not None else ""
    line = (f"\r[{bar}] epoch {p.epoch}/{p.epochs} batch {p.batch}/{p.steps} "
            f"loss {p.loss:.4f} acc {p.accuracy:.4f}{eta}")
    if p.kind == "epoch":
        val = f"val_loss {p.val_loss:.4f} val_acc {p.val_accuracy:.4f} " if p.val_accuracy is not None else ""
        line = (f"\repoch {p.epoch}/{p.epochs}: loss {p.loss:.4f} acc {p.accuracy:.4f} "
                f"{val}({p.elapsed:.0f}s)").ljust(len(line)) + "\n"
    sys.stderr.write(line)
    sys.stderr.flush()
    bar_open = p.kind != "epoch"


def import_tensorflow_quietly() -> None:
    """TensorFlow's C++ start-up lines (oneDNN, CPU features) bypass every log setting and would
    bury the CLI's one-line messages, so stderr is muted at the file-descriptor level while it loads.
    Every command that needs TensorFlow calls this first (after checking its cheap inputs)."""
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import keras  # noqa: F401
            import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
