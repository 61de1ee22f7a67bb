"""The training loop's reporting callback (imports Keras, so it lives apart from ml.train's config)."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import keras


class EpochProgress(keras.callbacks.Callback):
    """Reports batches and epochs to ``report``, appends each epoch to the training log, and stops
    training after the epoch that passes ``deadline`` (a ``time.time()`` value, or None).

    ``extra(model)`` adds per-collection validation figures to each epoch's row.
    """

    def __init__(
        self,
        report,
        log_path: Path,
        history: list[dict],
        *,
        stage: str,
        epochs: int,
        batches: int,
        extra,
        deadline: float | None,
    ):
        super().__init__()
        self.report, self.log_path, self.history = report, log_path, history
        self.stage, self.epochs, self.batches, self.extra, self.deadline = stage, epochs, batches, extra, deadline
        self.epoch, self.started = 0, time.time()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.started = epoch, time.time()

    def on_train_batch_end(self, batch, logs=None):
        if batch % 10 == 0:
            self.report(
                {
                    "stage": "batch",
                    "epoch": self.epoch + 1,
                    "epochs": self.epochs,
                    "batch": batch + 1,
                    "batches": self.batches,
                    "loss": float((logs or {}).get("loss", math.nan)),
                }
            )

    def on_epoch_end(self, epoch, logs=None):
        row = {
            "epoch": epoch + 1,
            "stage": self.stage,
            **{k: float(v) for k, v in (logs or {}).items()},
            **self.extra(self.model),
            "seconds": round(time.time() - self.started, 1),
        }
        self.history[:] = [h for h in self.history if h["epoch"] < epoch + 1] + [row]
        self.log_path.write_text(json.dumps(self.history, indent=1))
        self.report({"stage": "epoch", "epoch": epoch + 1, "epochs": self.epochs, "logs": row})
        if self.deadline is not None and time.time() > self.deadline:
            self.model.stop_training = True
