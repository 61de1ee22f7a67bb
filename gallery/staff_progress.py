"""How a training run's progress bar reads: the staff dashboard's presentation of a version's ``progress``.

The training worker records raw events in the row (gallery.training_runs.report_progress); this
turns them into what the page shows: a fraction of the bar, the stage in words and the time left.

The bar is shared out among the run's phases (loading, training, choosing the decode, evaluating
on the landscape test split, then on the everyday photos) by each phase's *expected seconds*, so
that it fills at an even pace.  The old fixed shares left choosing the decode and evaluating the
last seventh of the bar while, measured on a fine-tune (RATES), they take nine tenths of its time.
The expected seconds come from ``plan_seconds``: how much work each phase has (crops trained,
validation and test photos) times what a unit of it took in real runs on the site's 2-core CPU
(RATES).  The worker computes the plan when the run
starts (it alone can count the splits) and refines the training phase when the engine reports
its batches.  Within a phase the bar follows the engine's counts (batches, photos evaluated);
where the engine reports nothing for a while (loading, choosing the decode, the first photos of
a split) it follows the clock against the phase's expected length, never past PHASE_CAP of it.

The time left is what remains of the plan at the pace the run has kept so far (elapsed seconds
against expected seconds), in words (``time_left_words``).
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
    "validating": "choosing the decode (temperature, rebalancing correction, saturation) on the validation photos",
    "evaluating": "evaluating on the test splits",
    "done": "done",
    "failed": "failed",
    "cancelled": "cancelled",
}
TRAINING_STAGES = ("training", "batch", "epoch")
EVALUATING_LABELS = {"landscape": "landscape", "photos": "everyday photos"}

# The bar's phases in the order a run goes through them (gallery.training_runs.run).
PHASES = ("loading", "training", "validating", *(f"evaluating:{c}" for c in ModelVersion.COLLECTIONS))
# Seconds per unit of work on the site's 2-core CPU, by architecture, measured on two real runs of the engine
# (ml.train.train, then ml.evaluate.evaluate on 60 and 8 photos of each test split), each phase timed from
# its progress events: lite0_unet on a fine-tune (gallery.training_runs.FINE_TUNE: loading 17 s, training
# 74 s, choosing the decode on 200 validation photos 363 s, 60 landscape test photos 18 s, 60 everyday
# ones 27 s; the machine was shared, so all of them about twice an idle machine's, which only the ratios
# matter for), scratch on the tests' tiny run (tests/staff_fixtures.py TINY_RUN: 3, 3.6, 4.7, 1.3, 2.6 s).
# "load": the photos, the network, a warm start; "train_once" / "epoch_once": compiling, and each epoch's
# validation; "train": one 128 x 128 crop (a 64 px crop is a quarter); "validate": one validation photo of
# the decode search, plus "validate_once"; "evaluate": one test photo at native size, by split (the
# everyday photos are larger), plus "evaluate_once" for each split.  Since the decode search gained the
# confidence power γ (648 decodes instead of 180), choosing the decode on the fine-tune's 200 val photos
# takes 2.25 times as long (119 s against 53 s, measured one after the other on an idle machine), so
# each architecture's "validate" is 2.25 times what was measured before (1.75 and 0.15 s).
RATES: dict[str, dict] = {
    "lite0_unet": {
        "load": 17.0,
        "train_once": 2.0,
        "epoch_once": 12.0,
        "train": 0.094,
        "validate": 3.9,
        "validate_once": 13.0,
        "evaluate": {"landscape": 0.26, "photos": 0.4},
        "evaluate_once": 3.0,
    },
    "scratch": {
        "load": 3.0,
        "train_once": 0.5,
        "epoch_once": 2.9,
        "train": 0.05,
        "validate": 0.34,
        "validate_once": 2.3,
        "evaluate": {"landscape": 0.05, "photos": 0.2},
        "evaluate_once": 1.0,
    },
}
# How far the clock alone may fill a phase the engine reports nothing about: the rest waits for its end.
PHASE_CAP = 0.9
# Before this many seconds of a run (or of its plan) have passed the pace is not yet known: the plan is taken as it is.
PACE_AFTER = 10.0


def plan_seconds(parameters: dict, *, batches: int, val_photos: int, test_photos: dict[str, int]) -> dict[str, float]:
    """Expected seconds of each phase (PHASES) of a run with these training parameters and this much work.

    ``batches`` is an epoch's batches, ``val_photos`` the validation photos the decode is chosen
    on, ``test_photos`` each test split's photos.
    """
    rates = _rates(parameters)
    plan = {
        "loading": rates["load"],
        "training": training_seconds(parameters, epochs=int(parameters.get("epochs") or 1), batches=batches),
        "validating": rates["validate_once"] + val_photos * rates["validate"],
    }
    for collection in ModelVersion.COLLECTIONS:
        n = test_photos.get(collection, 0)
        plan[f"evaluating:{collection}"] = rates["evaluate_once"] + n * rates["evaluate"][collection] if n else 0.0
    return plan


def training_seconds(parameters: dict, *, epochs: int, batches: int) -> float:
    """Expected seconds of the training phase; the worker asks again once the engine has said how many batches."""
    rates = _rates(parameters)
    crops = epochs * batches * int(parameters.get("batch_size") or 1)
    per_crop = rates["train"] * (int(parameters.get("crop") or 128) / 128) ** 2
    return rates["train_once"] + epochs * rates["epoch_once"] + crops * per_crop


def _rates(parameters: dict) -> dict:
    return RATES.get(parameters.get("arch", "scratch"), RATES["scratch"])


def progress_report(version: ModelVersion, now: float | None = None) -> dict:
    """What the progress bar shows: state, stage, a fraction done, epoch x of y, losses, time left."""
    p = version.progress
    fraction, eta = fraction_and_eta(version, now)
    return {
        "id": str(version.pk),
        "label": version.label,
        "state": version.state,
        "state_label": version.get_state_display(),
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
        "time_left": time_left_words(eta),
        "done": p.get("done"),
        "total": p.get("total"),
        "failure_reason": version.failure_reason,
        "cancel_requested": version.cancel_requested,
    }


def _stage_label(p: dict) -> str:
    stage = p.get("stage", "")
    if stage == "evaluating" and p.get("collection") in EVALUATING_LABELS:
        return f"evaluating on the {EVALUATING_LABELS[p['collection']]} test split"
    return STAGE_LABELS.get(stage, stage)


def time_left_words(seconds: float | None) -> str:
    """Seconds left as a person says them: "about 3 minutes left", "about 1 hour 20 minutes left"."""
    if seconds is None:
        return ""
    if seconds < 45:
        return "less than a minute left"
    minutes = max(1, round(seconds / 60))
    if minutes < 60:
        return "about a minute left" if minutes == 1 else f"about {minutes} minutes left"
    hours, minutes = divmod(minutes, 60)
    in_hours = "1 hour" if hours == 1 else f"{hours} hours"
    if minutes == 0:
        return f"about {in_hours} left"
    return f"about {in_hours} {minutes} minute{'s' if minutes != 1 else ''} left"


def phase_of(p: dict) -> str | None:
    """The phase (PHASES) a progress row is in; None before the worker took the run or after it ended."""
    stage = p.get("stage")
    if stage in TRAINING_STAGES:
        return "training"
    if stage == "evaluating":
        collection = p.get("collection")
        return f"evaluating:{collection if collection in ModelVersion.COLLECTIONS else ModelVersion.COLLECTIONS[0]}"
    return stage if stage in PHASES else None


def default_plan() -> dict[str, float]:
    """The plan of a row the worker wrote none for (a run started before plans existed): a fine-tune's shape."""
    from .training_runs import FINE_TUNE

    return plan_seconds(
        {"arch": "lite0_unet", **FINE_TUNE},
        batches=int(FINE_TUNE["steps_per_epoch"]),
        val_photos=2 * int(FINE_TUNE["val_examples"]),
        test_photos={"landscape": 809, "photos": 842},
    )


def fraction_and_eta(version: ModelVersion, now: float | None = None) -> tuple[float | None, float | None]:
    """How far the bar is filled (None once a run failed or was cancelled) and the seconds left (None: unknown)."""
    p = version.progress
    if version.state == ModelVersion.READY:
        return 1.0, None
    if p.get("stage") in (ModelVersion.FAILED, ModelVersion.CANCELLED):
        return None, None
    phase = phase_of(p)
    plan = p.get("plan") or default_plan()
    total = sum(plan.get(name, 0.0) for name in PHASES)
    if phase is None or total <= 0:
        return 0.0, None
    now = time.time() if now is None else now
    index = PHASES.index(phase)
    before = sum(plan.get(name, 0.0) for name in PHASES[:index])
    expected = plan.get(phase, 0.0)
    since = p.get("since")
    pace = _pace(since, p.get("stage_since"), before)
    within = _within(p, phase, expected * pace, now)
    done = before + expected * within
    fraction = done / total
    if since is None:
        return fraction, None
    elapsed = max(0.0, now - since)
    if elapsed < PACE_AFTER or done < PACE_AFTER:  # too early to know the pace: the plan as it is
        return fraction, max(0.0, total - done)
    return fraction, elapsed * (total - done) / done


def _pace(since: float | None, stage_since: float | None, before: float) -> float:
    """Seconds this run has taken per planned second, over the phases it has finished (1 until it is known)."""
    if since is None or stage_since is None or before < PACE_AFTER or stage_since - since < PACE_AFTER:
        return 1.0
    return (stage_since - since) / before


def _within(p: dict, phase: str, expected: float, now: float) -> float:
    """How much of the current phase is done: the engine's counts where it reports them, else the clock's."""
    by_clock = 0.0
    if p.get("stage_since") is not None and expected > 0:
        by_clock = min(PHASE_CAP, max(0.0, now - p["stage_since"]) / expected)
    if phase == "training":
        epochs, batches = p.get("epochs") or 0, p.get("batches") or 1
        if not epochs:
            return 0.0
        return min(1.0, (p.get("epochs_done", 0) + p.get("batch", 0) / batches) / epochs)
    if phase.startswith("evaluating:") and p.get("total"):
        return max(by_clock, min(1.0, (p.get("done") or 0) / p["total"]))
    return by_clock
