"""How a training run's progress bar reads: the staff dashboard's presentation of a version's ``progress``.

The training worker records raw events in the row (gallery.training_runs.report_progress); this
turns them into what the page shows.  The bar's stages share it out: loading up to 2 %, training
2-85 %, choosing the decode 87 %, evaluating on the test split 90-99 %, done 100 %.
"""

from __future__ import annotations

import time

from .models import ModelVersion

STAGE_LABELS = {
    "queued": "waiting for the training worker",
    "loading": "loading the photos",
    "training": "training",
    "batch": "training",
    "epoch": "training",
    "validating": "choosing the decode (temperature, rebalancing correction) on the validation photos",
    "evaluating": "evaluating on the test split",
    "done": "done",
    "failed": "failed",
    "cancelled": "cancelled",
}
TRAINING_STAGES = ("training", "batch", "epoch")
# The share of the bar before training starts, and training's own share.
TRAINING_START, TRAINING_SHARE = 0.02, 0.83
VALIDATING = 0.87
EVALUATING_START, EVALUATING_SHARE = 0.9, 0.09


def progress_report(version: ModelVersion) -> dict:
    """What the progress bar shows: state, stage, a fraction done, epoch x of y, losses, time left."""
    p = version.progress
    fraction, eta = _fraction_and_eta(version)
    return {
        "id": str(version.pk),
        "label": version.label,
        "state": version.state,
        "stage": p.get("stage", ""),
        "stage_label": STAGE_LABELS.get(p.get("stage", ""), p.get("stage", "")),
        "fraction": round(fraction, 4) if fraction is not None else None,
        "epoch": p.get("epoch"),
        "epochs": p.get("epochs"),
        "batch": p.get("batch"),
        "batches": p.get("batches"),
        "loss": p.get("loss"),
        "val_loss": p.get("val_loss"),
        "eta_seconds": round(eta) if eta is not None else None,
        "done": p.get("done"),
        "total": p.get("total"),
        "failure_reason": version.failure_reason,
        "cancel_requested": version.cancel_requested,
    }


def _fraction_and_eta(version: ModelVersion) -> tuple[float | None, float | None]:
    """How far the bar is filled (None once a run failed or was cancelled) and the training seconds left."""
    p, stage = version.progress, version.progress.get("stage")
    epochs, batches = p.get("epochs") or 0, p.get("batches") or 1
    if version.state == ModelVersion.READY:
        return 1.0, None
    if stage in TRAINING_STAGES and epochs:
        trained = min(1.0, (p.get("epochs_done", 0) + p.get("batch", 0) / batches) / epochs)
        eta = None
        if trained > 0 and p.get("training_since"):
            eta = (time.time() - p["training_since"]) * (1 - trained) / trained
        return TRAINING_START + TRAINING_SHARE * trained, eta
    if stage == "validating":
        return VALIDATING, None
    if stage == "evaluating":
        return EVALUATING_START + EVALUATING_SHARE * (p.get("done", 0) / p["total"] if p.get("total") else 0), None
    if stage in (ModelVersion.FAILED, ModelVersion.CANCELLED):
        return None, None
    return 0.0, None
