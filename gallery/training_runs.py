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

from . import enqueue
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


def claim(pk) -> ModelVersion | None:
    """Move a queued run to training and return it; None when it was cancelled, gone or taken."""
    now = timezone.now()
    if not ModelVersion.objects.filter(pk=pk, state=ModelVersion.QUEUED).update(
        state=ModelVersion.TRAINING, started=now, heartbeat=now, progress={"stage": "loading"}
    ):
        return None
    return ModelVersion.objects.get(pk=pk)


def train_config(version: ModelVersion) -> Any:
    """The engine's TrainConfig for this run: the form's parameters plus the site's settings."""
    from ml.train import TrainConfig

    p = version.training_parameters
    cache = settings.COLORSITE_TRAINING_CACHE_DIR
    return TrainConfig(
        family=p["family"],
        out=str(version.path),
        epochs=p["epochs"],
        batch_size=p["batch_size"],
        learning_rate=p["learning_rate"],
        crop=p["crop"],
        filters=p["filters"],
        depth=p["depth"],
        max_examples=p.get("max_examples"),
        cache_dir=str(cache) if cache else None,
        command=training_command(version),
    )


def training_command(version: ModelVersion) -> str:
    """The `python -m ml train` command that repeats this run, recorded in model.json."""
    p = version.training_parameters
    args = [
        f"--family {p['family']}",
        f"--epochs {p['epochs']}",
        f"--batch-size {p['batch_size']}",
        f"--learning-rate {p['learning_rate']}",
        f"--crop {p['crop']}",
        f"--filters {p['filters']}",
        f"--depth {p['depth']}",
    ]
    if p.get("max_examples"):
        args.append(f"--max-examples {p['max_examples']}")
    return f"python -m ml train {' '.join(args)} --out {version.directory}"


def run(version: ModelVersion) -> None:
    """Train, calibrate and evaluate on the test split; end ready, failed or cancelled.

    Runs in the training worker (gallery.tasks.train_model_version).
    """
    from ml.evaluate import evaluate
    from ml.train import TrainingCancelled, train

    def progress(event: dict) -> None:
        report_progress(version, event)

    try:
        train(train_config(version), progress=progress)
        progress({"stage": "evaluating", "done": 0, "total": None})
        report = evaluate(
            version.path,
            max_examples=settings.COLORSITE_EVAL_EXAMPLES or None,
            progress=lambda done, total: progress({"stage": "evaluating", "done": done, "total": total}),
        )
        version.read_folder()
        version.set_report(report)
        _finish_ready(version)
    except TrainingCancelled:
        _end(version, ModelVersion.CANCELLED, "cancelled by an admin")
    except SoftTimeLimitExceeded:
        _end(
            version, ModelVersion.FAILED, f"training took longer than {settings.COLORSITE_TRAINING_TIME_LIMIT} seconds"
        )
    except Exception as exc:
        log.exception("training version %s failed", version.pk)
        _end(version, ModelVersion.FAILED, f"{type(exc).__name__}: {exc}")


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
    fields = {}
    if stage == "training":
        progress.update(
            epoch=1, epochs_done=0, epochs=event["epochs"], batch=0, batches=event["batches"], training_since=now
        )
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
        progress.update(done=event["done"], total=event["total"])
    version.progress = finite(progress)
    if not _still_running(version).update(progress=version.progress, heartbeat=timezone.now(), **fields):
        raise TrainingCancelled()


def _end(version: ModelVersion, state: str, reason: str) -> None:
    """End a run that did not succeed: record why, keep its log, remove its folder."""
    log_file = version.path / "train_log.json"
    if log_file.is_file():
        version.train_log = finite(json.loads(log_file.read_text()))
    shutil.rmtree(version.path, ignore_errors=True)
    version.state, version.failure_reason, version.finished = state, reason[:2000], timezone.now()
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
        failure_reason="cancelled before it started",
        progress={"stage": ModelVersion.CANCELLED},
    ):
        return True
    return bool(ModelVersion.objects.filter(pk=version.pk, state=ModelVersion.TRAINING).update(cancel_requested=True))


def fail_lost(pk, reason: str) -> bool:
    """End a run whose training process died under it (see gallery.tasks.fail_run_of_lost_process)."""
    version = ModelVersion.objects.filter(pk=pk, state=ModelVersion.TRAINING).defer(*ModelVersion.LIGHT).first()
    if version is None:
        return False
    _end(version, ModelVersion.FAILED, reason)
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
        failure_reason="the training worker stopped without finishing",
        finished=timezone.now(),
    )
