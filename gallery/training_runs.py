"""Training runs started from the staff page: queue, claim, train, report progress, cancel, end.

A run is a ModelVersion row that starts QUEUED and ends READY, FAILED or CANCELLED.  It is
trained by the training worker (gallery.tasks.train_model_version) into a folder of its own
under COLORSITE_MODELS_ROOT, so nothing here can change the active model; a run that does not
end ready has its folder removed and keeps only its row (and its training log, for the page).
Progress goes to the row, which is also where a cancel request is noticed.  How the progress
bar reads that row is gallery.staff_progress; what a dead training worker leaves behind is
taken care of here (fail_lost, fail_abandoned) and listed in gallery.recovery.
"""

from __future__ import annotations

import json
import logging
import shlex
import shutil
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ml.families import FAMILIES
from ml.grid import ARCHITECTURES

from . import enqueue, failures, model_store, staff_progress
from .failures import Failure
from .models import ModelVersion
from .models.versions import finite, stored_directory

log = logging.getLogger(__name__)

# What a finished run stores from its version row.
READY_FIELDS = (
    "state",
    "finished",
    "failure_reason",
    "progress",
    "family",
    "parameter_count",
    "size_bytes",
    "training_parameters",
    "train_log",
    "evaluation",
    "summary",
    "photos_evaluation",
    "photos_summary",
    "artefact_sha256",
)


def start(parameters: dict, created_by) -> ModelVersion | None:
    """Queue a training run on the training queue; None while another run is queued or training.

    One run at a time: training takes the training worker's whole CPU (or GPU), so a second
    run would only wait, and two admins clicking at once should not start two.
    """
    with transaction.atomic():
        if ModelVersion.objects.filter(state__in=ModelVersion.IN_PROGRESS).exists():
            return None
        version = ModelVersion(
            id=uuid.uuid4(),
            state=ModelVersion.QUEUED,
            created_by=created_by,
            family=parameters["family"],
            training_parameters=parameters,
            progress={"stage": "queued"},
        )
        version.number = ModelVersion.next_number()
        version.label = f"v{version.number}"
        version.directory = stored_directory(Path(settings.COLORSITE_MODELS_ROOT) / str(version.id))
        version.save()
        enqueue.training_run(version)
    return version


FINE_TUNE_KIND, FULL_KIND = "finetune", "full"
# A fine-tune is a short continuation of the active model, sized to take a few minutes of training on
# the site's 2-core CPU (the evaluation of both test splits afterwards takes a few more):
# * 1 epoch of 40 batches of 16 crops (640 crops, about a minute for the pretrained U-Net there, all
#   of it trainable: a warm start skips the frozen stage);
# * learning rate 1e-3, which the engine scales by 0.1 for a warm start: a nudge that keeps what the
#   model knows;
# * crop 128, a multiple of 32 (lite0_unet) and of 8 (scratch) that fits the 150 px landscape photos;
# * mix 0.3, the engine's default: mostly the everyday photos the site's users bring, landscape kept
#   so that the headline split does not slip;
# * 100 validation photos per collection: the val loss that keeps the best epoch and the decode
#   calibration (48 decodes on 200 photos) stay short;
# * max_minutes 10: a safety stop should the machine be busy.
FINE_TUNE = {
    "epochs": 1,
    "frozen_epochs": 0,
    "steps_per_epoch": 40,
    "batch_size": 16,
    "learning_rate": 1e-3,
    "crop": 128,
    "mix": 0.3,
    "val_examples": 100,
    "max_minutes": 10,
}


def claim(pk) -> ModelVersion | None:
    """Move a queued run to training and return it; None when it was cancelled, gone or taken."""
    now = timezone.now()
    since = now.timestamp()  # the progress bar's clock (gallery.staff_progress): the run's and its phase's start
    if not ModelVersion.objects.filter(pk=pk, state=ModelVersion.QUEUED).update(
        state=ModelVersion.TRAINING,
        started=now,
        heartbeat=now,
        progress={"stage": "loading", "since": since, "stage_since": since},
    ):
        return None
    return ModelVersion.objects.get(pk=pk)


def train_config(version: ModelVersion) -> Any:
    """The engine's TrainConfig for this run: the form's parameters plus the site's settings.

    Rows queued before the pretrained architecture existed have no ``arch`` (they were scratch
    runs) and no ``mix`` (they trained on landscape only), so those are their defaults here.
    """
    from ml.train import TrainConfig

    p = version.training_parameters
    cache = settings.COLORSITE_TRAINING_CACHE_DIR
    photos = settings.COLORSITE_PHOTOS_DATASET
    scratch = {"filters": p["filters"], "depth": p["depth"]} if "filters" in p and "depth" in p else {}
    return TrainConfig(
        family=p["family"],
        arch=p.get("arch", "scratch"),
        out=str(version.path),
        photos=str(photos) if photos else None,
        mix=p.get("mix", 1.0),
        epochs=p["epochs"],
        frozen_epochs=p.get("frozen_epochs") or 0,
        steps_per_epoch=p.get("steps_per_epoch"),
        batch_size=p["batch_size"],
        learning_rate=p["learning_rate"],
        crop=p["crop"],
        max_examples=p.get("max_examples"),
        val_examples=p.get("val_examples"),
        max_minutes=p.get("max_minutes"),
        init_from=str(init_folder(p)) if p.get("init_from") else None,
        cache_dir=str(cache) if cache else None,
        command=training_command(version),
        **scratch,
    )


def init_folder(parameters: dict) -> Path:
    """The folder a fine-tune continues from: its artefact (fetched into this host's cache), else its folder."""
    if parameters.get("init_from_sha256"):
        return model_store.cached(parameters["init_from_sha256"])
    return model_folder(parameters["init_from"])


def model_folder(directory: str) -> Path:
    """A stored model directory (ModelVersion.directory) as a path: relative ones are under BASE_DIR."""
    path = Path(directory)
    return path if path.is_absolute() else Path(settings.BASE_DIR) / path


def training_command(version: ModelVersion) -> str:
    """The `python -m ml train` command that repeats this run (a fine-tune or a full run), recorded in model.json."""
    p = version.training_parameters
    arch = p.get("arch", "scratch")
    args = [
        f"--family {p['family']}",
        f"--arch {arch}",
        f"--epochs {p['epochs']}",
        f"--frozen-epochs {p.get('frozen_epochs') or 0}",  # always: the engine's default is 1
    ]
    if p.get("steps_per_epoch"):
        args.append(f"--steps-per-epoch {p['steps_per_epoch']}")
    args += [
        f"--batch-size {p['batch_size']}",
        f"--learning-rate {p['learning_rate']}",
        f"--crop {p['crop']}",
        f"--mix {p.get('mix', 1.0)}",
    ]
    if arch == "scratch" and "filters" in p:
        args += [f"--filters {p['filters']}", f"--depth {p['depth']}"]
    for key in ("max_examples", "val_examples", "max_minutes"):
        if p.get(key):
            args.append(f"--{key.replace('_', '-')} {p[key]}")
    if p.get("init_from"):
        args.append(f"--init-from {shlex.quote(p['init_from'])}")
    if settings.COLORSITE_PHOTOS_DATASET:
        args.append(f"--photos {shlex.quote(str(settings.COLORSITE_PHOTOS_DATASET))}")
    return f"python -m ml train {' '.join(args)} --out {shlex.quote(version.directory)}"


def fine_tune_parameters(active: ModelVersion | None, **extra) -> dict:
    """A fine-tune of the active version: FINE_TUNE continued from its folder, with its family and architecture.

    Raises ValueError, with a message for the page, when there is nothing to continue from.
    """
    if active is None:
        raise ValueError("There is no active version to fine-tune; start a full run instead.")
    try:
        folder = model_store.local_folder(active)  # with object storage: this host's cached copy
    except OSError:
        log.exception("fetching version %s to read its model.json failed", active.pk)
        raise ValueError("The model storage cannot be reached right now; try again in a minute.") from None
    except model_store.ModelNotAvailable:
        log.exception("version %s cannot be fetched", active.pk)
        folder = active.path  # reported below as "no readable model.json"
    try:
        info = json.loads((folder / "model.json").read_text())
        family, arch = info["family"], info.get("arch", "scratch")  # the first engine's folders have no arch
        shape = {"filters": int(info["filters"]), "depth": int(info["depth"])} if arch == "scratch" else {}
    except (OSError, ValueError, KeyError, TypeError):
        raise ValueError(
            f"The active version {active.label} has no readable model.json, so it cannot be fine-tuned; "
            "start a full run instead."
        ) from None
    if family not in FAMILIES or arch not in ARCHITECTURES:
        raise ValueError(
            f"The active version {active.label} is a {family} {arch} model, which this engine cannot train."
        )
    if not (folder / "model.keras").is_file():
        raise ValueError(f"The active version {active.label} has no model.keras to fine-tune.")
    parameters = {
        "kind": FINE_TUNE_KIND,
        "family": family,
        "arch": arch,
        **shape,
        **FINE_TUNE,
        "init_from": active.directory,
        "init_from_label": active.label,
        **({"init_from_sha256": active.artefact_sha256} if active.artefact_sha256 else {}),
        **extra,
    }
    if parameters.get("max_examples"):  # a quick check: the first N train and validation photos, as in a full run
        parameters["val_examples"] = min(parameters["val_examples"], parameters["max_examples"])
    return parameters


def run(version: ModelVersion) -> None:
    """Train, calibrate and evaluate on both test splits (landscape, then photos); end ready, failed or cancelled.

    Runs in the training worker (gallery.tasks.train_model_version).
    """
    from ml.evaluate import evaluate
    from ml.train import TrainingCancelled, train

    def progress(event: dict) -> None:
        report_progress(version, event)

    folders = {"landscape": None, "photos": settings.COLORSITE_PHOTOS_DATASET}
    try:
        progress({"stage": "loading", "plan": plan(version)})
        train(train_config(version), progress=progress)
        reports = []
        for collection in ModelVersion.COLLECTIONS:
            progress({"stage": "evaluating", "collection": collection, "done": 0, "total": None})
            folder = folders[collection]
            reports.append(
                evaluate(
                    version.path,
                    data=str(folder) if folder else None,
                    collection=collection,
                    max_examples=settings.COLORSITE_EVAL_EXAMPLES or None,
                    progress=lambda done, total, c=collection: progress(
                        {"stage": "evaluating", "collection": c, "done": done, "total": total}
                    ),
                )
            )
        version.read_folder()
        for report in reports:
            version.set_report(report)
        model_store.publish(version)  # with object storage: how the colouring workers will get it
        _finish_ready(version)
    except TrainingCancelled:
        _end(version, ModelVersion.CANCELLED, failures.TRAINING_CANCELLED)
    except SoftTimeLimitExceeded:
        log.error("training version %s took longer than %s s", version.pk, settings.COLORSITE_TRAINING_TIME_LIMIT)
        _end(version, ModelVersion.FAILED, failures.TRAINING_TIMED_OUT)
    except Exception:
        log.exception("training version %s failed", version.pk)
        _end(version, ModelVersion.FAILED, failures.TRAINING_FAILED)


def plan(version: ModelVersion) -> dict[str, float]:
    """The run's expected seconds per phase (gallery.staff_progress.plan_seconds), from the splits it will read.

    Counted here, in the worker, because only the engine knows the splits; a split that cannot be
    read counts as empty (the run itself will say why it fails).
    """
    from ml.data import dataset_root, split_files

    p = version.training_parameters
    folders = {"landscape": None, "photos": settings.COLORSITE_PHOTOS_DATASET}

    def count(collection: str, split: str, limit: int | None) -> int:
        folder = folders[collection]
        try:
            return len(split_files(dataset_root(str(folder) if folder else None, collection), split, limit))
        except (OSError, ValueError):
            return 0

    mix = p.get("mix", 1.0)
    read = [c for c, share in (("landscape", mix), ("photos", 1.0 - mix)) if share > 0]  # ml.train's collections()
    batch_size = int(p.get("batch_size") or 1)
    batches = p.get("steps_per_epoch") or max(
        1, sum(count(c, "train", p.get("max_examples")) for c in read) // batch_size
    )
    return staff_progress.plan_seconds(
        p,
        batches=batches,
        val_photos=sum(count(c, "val", p.get("val_examples") or p.get("max_examples")) for c in read),
        test_photos={c: count(c, "test", settings.COLORSITE_EVAL_EXAMPLES or None) for c in ModelVersion.COLLECTIONS},
    )


def _finish_ready(version: ModelVersion) -> None:
    """Store the results and mark the run ready, unless a cancel came in meanwhile (then raise)."""
    from ml.train import TrainingCancelled

    version.state, version.finished, version.failure_reason = ModelVersion.READY, timezone.now(), ""
    version.progress = dict(version.progress, stage="done")
    if not _still_running(version).update(**{name: getattr(version, name) for name in READY_FIELDS}):
        version.state = ModelVersion.TRAINING
        raise TrainingCancelled()


def _still_running(version: ModelVersion):
    """The run's row while it trains and no cancel was asked for: a conditional UPDATE notices a cancel for free."""
    return ModelVersion.objects.filter(pk=version.pk, state=ModelVersion.TRAINING, cancel_requested=False)


def report_progress(version: ModelVersion, event: dict) -> None:
    """Record an engine progress event in the row; raise TrainingCancelled once a cancel is asked for.

    The UPDATE is conditional on no cancel having been requested, so noticing a cancel costs no
    extra query.  Batch events are recorded at most once a second; epochs always, with the
    training log so far, so the page can draw the curves while the run goes on.
    """
    from ml.train import TrainingCancelled

    now = time.time()
    stage = event.get("stage")
    if stage == "batch" and now - version.progress.get("written", 0) < 1.0:
        return
    progress = dict(version.progress, stage=stage, written=now)
    if "plan" in event:
        progress["plan"] = event["plan"]
    fields = {}
    if stage == "training" and "training_since" in progress:
        # a later stage of the same run (frozen encoder, then the full network): its epochs go on counting
        progress.update(epochs=event["epochs"], batches=event["batches"])
    elif stage == "training":
        progress.update(
            epoch=1, epochs_done=0, epochs=event["epochs"], batch=0, batches=event["batches"], training_since=now
        )
        if progress.get("plan"):  # the engine knows the batches an epoch has: the training phase's plan follows
            expected = staff_progress.training_seconds(
                version.training_parameters, epochs=event["epochs"], batches=event["batches"]
            )
            progress["plan"] = dict(progress["plan"], training=expected)
    elif stage == "batch":  # `epoch` is the one being trained (1-based), `epochs_done` those finished
        progress.update(
            epoch=event["epoch"],
            epochs_done=event["epoch"] - 1,
            batch=event["batch"],
            batches=event["batches"],
            loss=event["loss"],
        )
    elif stage == "epoch":
        logs = event["logs"]
        progress.update(
            epoch=event["epoch"],
            epochs_done=event["epoch"],
            batch=0,
            loss=logs.get("loss"),
            val_loss=logs.get("val_loss"),
        )
        version.train_log = [row for row in version.train_log if row.get("epoch", 0) < event["epoch"]] + [logs]
        fields["train_log"] = version.train_log = finite(version.train_log)
    elif stage == "evaluating":
        progress.update(done=event["done"], total=event["total"], collection=event.get("collection", "landscape"))
    if staff_progress.phase_of(progress) != staff_progress.phase_of(version.progress):
        progress["stage_since"] = now  # the bar follows the clock within a phase the engine says little about
    version.progress = finite(progress)
    if not _still_running(version).update(progress=version.progress, heartbeat=timezone.now(), **fields):
        raise TrainingCancelled()


def _end(version: ModelVersion, state: str, failure: Failure) -> None:
    """End a run that did not succeed: record why (a sentence of gallery.failures), keep its log, remove its folder."""
    log_file = version.path / "train_log.json"
    if log_file.is_file():
        version.train_log = finite(json.loads(log_file.read_text()))
    shutil.rmtree(version.path, ignore_errors=True)
    version.state, version.failure_reason, version.finished = state, failure.reason, timezone.now()
    version.progress = dict(version.progress, stage=state)
    ModelVersion.objects.filter(pk=version.pk).update(
        state=state,
        failure_reason=version.failure_reason,
        finished=version.finished,
        progress=version.progress,
        train_log=version.train_log,
    )


def request_cancel(version: ModelVersion) -> bool:
    """Stop a run: a queued one is cancelled at once, a training one at its next progress report.

    Both are conditional UPDATEs, so a run that has just finished is left as it ended.
    """
    if ModelVersion.objects.filter(pk=version.pk, state=ModelVersion.QUEUED).update(
        state=ModelVersion.CANCELLED,
        cancel_requested=True,
        finished=timezone.now(),
        failure_reason=failures.TRAINING_CANCELLED_EARLY.reason,
        progress={"stage": ModelVersion.CANCELLED},
    ):
        return True
    return bool(ModelVersion.objects.filter(pk=version.pk, state=ModelVersion.TRAINING).update(cancel_requested=True))


def fail_lost(pk) -> bool:
    """End a run whose training process died under it (see gallery.tasks.fail_run_of_lost_process)."""
    version = ModelVersion.objects.filter(pk=pk, state=ModelVersion.TRAINING).defer(*ModelVersion.LIGHT).first()
    if version is None:
        return False
    _end(version, ModelVersion.FAILED, failures.TRAINING_PROCESS_LOST)
    return True


def fail_abandoned() -> int:
    """Mark failed the runs whose training worker stopped mid-way (no sign of life for a long time).

    The training task is acknowledged when it starts (a redelivered run would start over in
    the same folder beside the first), so a worker that dies leaves its run "training" for good;
    a starting worker calls this.
    """
    stale = timezone.now() - timedelta(seconds=settings.COLORSITE_TRAINING_STALE_AFTER)
    return ModelVersion.objects.filter(state=ModelVersion.TRAINING, heartbeat__lt=stale).update(
        state=ModelVersion.FAILED,
        failure_reason=failures.TRAINING_ABANDONED.reason,
        finished=timezone.now(),
    )
