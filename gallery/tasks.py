"""The colouring task: thin on purpose; the work is in Photo.colorize and ml.inference.

State lives in the Photo row, so the task returns nothing (task_ignore_result).
It is safe to run twice: Photo.claim lets one run through and the other returns.

Training runs started from the staff pages (train_model_version) and the drawing of
leaderboard pictures (render_leaderboard) go to the training queue
(COLORSITE_TRAINING_QUEUE, named by gallery.enqueue), which a worker of its own reads,
so colouring goes on while a model trains.  Their work is in gallery.training_runs and
ModelVersion's methods.  The signal handlers here only wire Celery to gallery.recovery, where
every path that takes back a photo or a run after a fault is listed.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
from pathlib import Path

import redis
from billiard.exceptions import WorkerLostError
from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from celery.signals import task_failure, worker_ready
from django.conf import settings
from kombu.exceptions import OperationalError

from . import broker, failures, fair_queue, health, model_store, recovery, samples, training_runs
from .enqueue import lost_after
from .models import ModelVersion, Photo

log = logging.getLogger(__name__)

# What a task meets when Redis goes away under it (kombu's errors, redis-py's): a transient failure.
BROKER_LOST = (OperationalError, redis.RedisError)


@functools.lru_cache(maxsize=2)
def get_colorizer(model_dir: str):
    """Load a model once per worker process, on the first task that needs it.

    Called inside the task, never at import: Keras/TensorFlow must not be imported in the
    parent before it forks its pool (TensorFlow hangs in the child), nor in worker_process_init
    (Celery kills its handlers after 4 s, and a model takes longer to load).

    The cache is keyed by the model folder, and every version has a folder of its own (named
    by its id), so this is a per-version cache.  It holds two: the active version and the one
    before it, so an activation (or a rollback) loads one model and drops the oldest.
    """
    from ml.inference import Colorizer  # imports Keras: seconds, and only in the worker

    return Colorizer(model_dir)


@shared_task(bind=True, acks_late=True, max_retries=3)
def colorize_photo(self, photo_id: str) -> None:
    """Colour one photo by id; a deleted or already claimed photo is skipped quietly."""
    # The worker's node name plus the process id: which process coloured a photo, for the record.
    photo = Photo.claim(photo_id, worker=f"{self.request.hostname or socket.gethostname()}:{os.getpid()}")
    if photo is None:
        log.info("photo %s is gone or taken by another run; nothing to do", photo_id)
        return
    from ml.inference import ModelNotAvailable

    version, model_dir = None, settings.COLORSITE_MODEL_DIR
    try:
        version, model_dir = active_model()
        colorizer = get_colorizer(str(model_dir))
        health.report_model_loaded(model_dir, version.label if version else Path(model_dir).name)
        photo.colorize(colorizer, model_name=model_label(model_dir, colorizer, version), model_version=version)
        if photo.status == Photo.DONE:
            log.info("photo %s coloured by %s", photo_id, photo.worker)
    except ModelNotAvailable as exc:
        # The owner is told colouring is not possible now; the staff see why on every page (gallery.health).
        log.error("photo %s: the active model cannot be loaded: %s", photo_id, exc)
        health.report_model_problem(model_dir, version.label if version else Path(model_dir).name, str(exc))
        photo.fail(failures.MODEL_UNAVAILABLE)  # transient: once the staff restore the file, the sweep retries
    except SoftTimeLimitExceeded:
        log.warning("photo %s: colouring took longer than %s s", photo_id, settings.CELERY_TASK_SOFT_TIME_LIMIT)
        photo.fail(failures.TIMED_OUT)
    except OSError as exc:
        # Storage trouble (a full or unmounted media volume, a network file system hiccup) is
        # transient: give the photo back to the queue and retry with backoff, then give up.
        # Whatever this run managed to write goes first, so no row ever names a partial result
        # (a storage that is down keeps them until the next run of this photo: strays are never named).
        photo.remove_stray_files()
        if self.request.retries >= self.max_retries:
            log.error("photo %s: storage failed on the last try", photo_id, exc_info=True)
            photo.fail(failures.STORAGE_FAILED)  # transient: the sweep tries again later
            return
        photo.release()
        countdown = 2 ** (self.request.retries + 2)
        # The retry is a message on its way: the sweep must not send another (nor reset the count).
        broker.mark_sent(photo_id, countdown + lost_after())
        raise self.retry(exc=exc, countdown=countdown)  # noqa: B904 (Celery's Retry carries exc itself)
    except Exception as exc:
        log.exception("colouring photo %s failed", photo_id)
        if isinstance(exc, BROKER_LOST):
            photo.fail(failures.BROKER_LOST)  # Redis went away under the task: transient, the sweep retries it
        else:
            photo.fail(failures.UNEXPECTED)
    finally:
        # The photo has left the owner's photos in flight (unless it is being retried): send their next.
        fair_queue.release(photo.owner_id)


def active_model() -> tuple[ModelVersion | None, Path]:
    """The active version and its folder, read before every photo (one narrow query).

    This is what lets an admin switch models without restarting workers.  With no version
    registered yet (a fresh site whose model arrived after its first migrate), COLORSITE_MODEL_DIR.
    A version published to object storage is read from this host's cache, fetched on first use
    (gallery.model_store): raises ModelNotAvailable if it is missing or damaged there, OSError if
    the storage cannot be reached.
    """
    version = ModelVersion.active()
    return version, (model_store.local_folder(version) if version else Path(settings.COLORSITE_MODEL_DIR))


def model_label(model_dir, colorizer, version: ModelVersion | None = None) -> str:
    """A short label for the model that coloured a photo: its version (else folder name) and family."""
    return f"{version.label if version else Path(model_dir).name} ({colorizer.family})"


@shared_task
def warm_up() -> None:
    """Load the model in whichever worker process takes this, so its first photo is not slow.

    Useful after starting a worker (`celery -A colorsite call gallery.tasks.warm_up`); the tests
    and the benchmark send one to each worker's own queue.
    """
    get_colorizer(str(active_model()[1]))


# -- taking back what faults left behind ----------------------------------------------------------


@shared_task(ignore_result=True)
def sweep() -> None:
    """Re-send queued photos whose message was lost, and take back photos a dead worker left running.

    Run every COLORSITE_SWEEP_INTERVAL seconds by celery beat (settings.CELERY_BEAT_SCHEDULE;
    `make run` starts beat beside its workers), and by every starting worker (gallery.recovery.sweep).
    """
    recovery.sweep()


@worker_ready.connect
def sweep_on_start(sender=None, **kwargs) -> None:
    """The one start-up path: a starting worker takes back what faults left (gallery.recovery.on_worker_start)."""
    recovery.on_worker_start(getattr(sender, "hostname", None))


@task_failure.connect
def take_back_from_lost_process(sender=None, exception=None, args=None, **kwargs) -> None:
    """A pool process died mid-photo (SIGKILL, out of memory): queue the photo again now.

    Runs in the worker's main process, which survives its pool process and knows which task it
    lost.  (With acks_late, Celery acknowledges a task whose process was lost, so no redelivery
    would come; and the photo would stay running until the time limit.)
    """
    if getattr(sender, "name", None) != colorize_photo.name or not isinstance(exception, WorkerLostError):
        return
    node = getattr(sender.request, "hostname", None) or ""
    if args and node:
        status = recovery.requeue_after_lost_worker(args[0], node)
        log.warning("the process colouring photo %s died (%s); photo now %s", args[0], exception, status)


# -- the training queue ----------------------------------------------------------------------------


@shared_task(
    acks_late=False,
    soft_time_limit=settings.COLORSITE_TRAINING_TIME_LIMIT,
    time_limit=int(settings.COLORSITE_TRAINING_TIME_LIMIT * 1.2) + 1,
)
def train_model_version(version_id: str) -> None:
    """Train, evaluate and store one version queued from the staff page (training_runs.run).

    Acknowledged when it starts, unlike the colouring task: a run takes hours, far beyond the
    broker's visibility timeout, and a redelivered copy would train a second time into the same
    folder.  A run whose worker dies is marked failed later (training_runs.fail_abandoned).
    """
    version = training_runs.claim(version_id)
    if version is None:
        log.info("training run %s is gone, cancelled or taken; nothing to do", version_id)
        return
    training_runs.run(version)
    if version.state == ModelVersion.READY:
        version.request_pictures()


@task_failure.connect
def fail_run_of_lost_process(sender=None, exception=None, args=None, **kwargs) -> None:
    """The process training a version died (out of memory, the hard time limit): mark the run failed now.

    Runs in the worker's main process, which survives its pool process; without this the run
    would stay "training" until a worker restarts (training_runs.fail_abandoned).
    """
    if getattr(sender, "name", None) != train_model_version.name or not args:
        return
    if isinstance(exception, (WorkerLostError, TimeLimitExceeded)) and training_runs.fail_lost(args[0]):
        log.warning("training run %s: its process stopped (%s: %s)", args[0], type(exception).__name__, exception)


@shared_task(acks_late=True)
def render_leaderboard(version_id: str) -> None:
    """Draw and store a ready version's leaderboard pictures (ModelVersion.render_pictures)."""
    version = ModelVersion.objects.filter(pk=version_id, state=ModelVersion.READY).first()
    if version is None:
        return
    try:
        version.render_pictures(get_colorizer(str(model_store.local_folder(version))))
    except Exception:
        log.exception("leaderboard pictures of version %s failed", version_id)
        ModelVersion.objects.filter(pk=version_id).update(pictures_state=ModelVersion.PICTURES_FAILED)


# -- the front page's examples -------------------------------------------------------------------------------


@shared_task(ignore_result=True)
def colour_samples(force: bool = False) -> None:
    """Colour the front page's sample photos with the active model, unless that model made them already.

    Sent by `make run` at start-up (colorsite.launch), so a visitor's first page shows the model
    the site runs; `python manage.py colour_samples` does the same in production.  Safe twice:
    the second run finds its model in the samples' index and stops (gallery.samples).
    """
    version, model_dir = active_model()
    colorizer = get_colorizer(str(model_dir))
    label = model_label(model_dir, colorizer, version)
    if force or not samples.made_by(label):
        samples.make(colorizer, label)
