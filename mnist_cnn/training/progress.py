"""Progress reports of a training run: what the worker process sends and every session draws.
Kept apart from train.py so that the server can read them without importing TensorFlow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass
class Progress:
    """One progress report. kind is "batch" (throttled) or "epoch" (every epoch end)."""

    kind: str
    epoch: int  # 1-based
    epochs: int
    batch: int  # batches done in this epoch
    steps: int  # batches per epoch
    loss: float
    accuracy: float
    elapsed: float
    val_loss: float | None = None
    val_accuracy: float | None = None

    @property
    def fraction(self) -> float:
        """Fraction of the whole run done, 0..1."""
        return min(1.0, ((self.epoch - 1) + self.batch / max(1, self.steps)) / max(1, self.epochs))

    @property
    def eta(self) -> float | None:
        """Seconds left, extrapolated from the pace so far."""
        f = self.fraction
        return None if f <= 0 else self.elapsed * (1 - f) / f


ProgressHook = Callable[[Progress], None]
