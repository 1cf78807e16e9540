"""`python -m mnist_cnn predict`: read the digit, or the number, in picture files.

One line per file on stdout:

    seven.png: 7 (99.1%)
    year.png: 2026 (digits 2 99.1%, 0 98.7%, 2 97.0%, 6 99.9%)
    blurry.png: 4 (48.0%) not sure: maybe a 4, or a 9
    letter.png: not a digit (it looks most like a 4, 62.0%)
    blank.png: no digit found (the picture is blank)

A file that cannot be read gives one line on stderr and the exit code 1. Nothing here imports
TensorFlow: the models run through the NumPy forward pass, so a prediction takes well under
two seconds from the shell.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mnist_cnn.cli.common import unreadable
from mnist_cnn.config import LOW_CONFIDENCE

EXIT_OK, EXIT_UNREADABLE, EXIT_NO_MODEL = 0, 1, 2


def _digit_text(d) -> str:
    text = f"{d.digit} {d.confidence:.1%}"
    if d.confidence < LOW_CONFIDENCE:
        text += f" (not sure: maybe a {d.digit}, or a {d.runner_up})"
    return text


def describe(reading) -> str:
    """What to print for one picture's NumberReading."""
    digits = reading.digits
    if not digits:
        return "no digit found (the picture is blank)"
    if len(digits) == 1:
        d = digits[0]
        if not d.is_digit:
            return f"not a digit (it looks most like a {d.digit}, {d.confidence:.1%})"
        line = f"{d.digit} ({d.confidence:.1%})"
        return line + (f" not sure: maybe a {d.digit}, or a {d.runner_up}" if d.confidence < LOW_CONFIDENCE else "")
    parts = [_digit_text(d) if d.is_digit else "? not a digit" for d in digits]
    flagged = sum(not d.is_digit for d in digits)
    note = f"; {flagged} of the {len(digits)} pieces {'is' if flagged == 1 else 'are'} not a digit" if flagged else ""
    return f"{reading.text} (digits {', '.join(parts)}){note}"


def predict_files(paths: list[str], model: str | None = None) -> int:
    """Print one line per picture; returns the exit code (1 if any file could not be read,
    2 if the model cannot be loaded)."""
    from mnist_cnn.network.inference import load_classifier
    from mnist_cnn.network.store import ModelStoreError
    from mnist_cnn.reading.numbers import read_ink
    from mnist_cnn.reading.preprocess import ImageError, picture_ink

    try:
        clf = load_classifier(model)
    except ModelStoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NO_MODEL
    code = EXIT_OK
    for name in paths:
        path = Path(name)
        try:
            with open(path, "rb") as f:
                ink = picture_ink(f)
        except OSError as exc:
            print(f"{name}: error: {unreadable(path, exc)}", file=sys.stderr)
            code = EXIT_UNREADABLE
            continue
        except ImageError as exc:
            print(f"{name}: error: {exc}", file=sys.stderr)
            code = EXIT_UNREADABLE
            continue
        print(f"{name}: {describe(read_ink(clf, ink))}", flush=True)
    return code
