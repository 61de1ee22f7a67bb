"""How a training run's progress bar reads: the staff dashboard's presentation of a version's ``progress``.

The training worker records raw events in the row (gallery.training_runs.report_progress); this
turns them into what the page shows.  The bar's stages share it out: loading up to 2 %, training
2-85 %, choosing the decode 87 %, evaluating on the two test splits 90-99 % (landscape, then the
everyday photos), done 100 %.
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
    "evaluating": "evaluating on the test splits",
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
        "stage_label": _stage_label(p),
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


EVALUATING_LABELS = {"landscape": "landscape", "photos": "everyday photos"}


def _stage_label(p: dict) -> str:
    stage = p.get("stage", "")
    if stage == "evaluating" and p.get("collection") in EVALUATING_LABELS:
        return f"evaluating on the {EVALUATING_LABELS[p['collection']]} test split"
    return STAGE_LABELS.get(stage, stage)


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
        # each test split gets an equal share of the evaluation's part of the bar
        collections = ModelVersion.COLLECTIONS
        index = collections.index(p["collection"]) if p.get("collection") in collections else 0
        within = p.get("done", 0) / p["total"] if p.get("total") else 0
        return EVALUATING_START + EVALUATING_SHARE * (index + within) / len(collections), None
    if stage in (ModelVersion.FAILED, ModelVersion.CANCELLED):
        return None, None
    return 0.0, None
