"""The colouring task: thin on purpose; the work is in Photo.colorize and ml.inference.

State lives in the Photo row, so the task returns nothing (task_ignore_result).
It is safe to run twice: Photo.claim lets one run through and the other returns.
"""
from __future__ import annotations

import functools
import logging
import os
import socket

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_ready
from django.conf import settings

from .models import Photo

log = logging.getLogger(__name__)


@functools.cache
def get_colorizer(model_dir: str):
    """Load the model once per worker process, on its first task.

    Called inside the task, never at import: Keras/TensorFlow must not be imported in the
    parent before it forks its pool (TensorFlow hangs in the child), nor in worker_process_init
    (Celery kills its handlers after 4 s, and a model takes longer to load).
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

    try:
        colorizer = get_colorizer(str(settings.COLORSITE_MODEL_DIR))
        photo.colorize(colorizer, model_name=model_label(settings.COLORSITE_MODEL_DIR, colorizer))
    except ModelNotAvailable as exc:
        photo.fail(f"the colouring model is not available ({exc})")
    except SoftTimeLimitExceeded:
        photo.fail(f"colouring took longer than {settings.CELERY_TASK_SOFT_TIME_LIMIT} seconds")
    except OSError as exc:
        # Storage trouble (a full or unmounted media volume, a network file system hiccup) is
        # transient: give the photo back to the queue and retry with backoff, then give up.
        if self.request.retries >= self.max_retries:
            photo.fail(f"the photo could not be stored ({exc})")
            return
        photo.release()
        raise self.retry(exc=exc, countdown=2 ** (self.request.retries + 2))
    except Exception as exc:
        log.exception("colouring photo %s failed", photo_id)
        photo.fail(f"colouring failed unexpectedly ({type(exc).__name__}: {exc})")


def model_label(model_dir, colorizer) -> str:
    """A short label for the model that coloured a photo: its folder name and family."""
    return f"{model_dir.name} ({colorizer.family})"


@shared_task
def warm_up() -> None:
    """Load the model in whichever worker process takes this, so its first photo is not slow.

    Useful after starting a worker (`celery -A colorsite call gallery.tasks.warm_up`); the tests
    and the benchmark send one to each worker's own queue.
    """
    get_colorizer(str(settings.COLORSITE_MODEL_DIR))


@worker_ready.connect
def requeue_abandoned(**kwargs) -> None:
    """A starting worker takes back the photos a dead worker left half done (Photo.requeue_abandoned)."""
    count = Photo.requeue_abandoned()
    if count:
        log.warning("requeued %d photo(s) abandoned by a worker that stopped mid-way", count)
