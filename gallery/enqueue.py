"""Every message the site sends to its workers goes through here, and only here.

The models decide *when* work is due (a photo uploaded or re-coloured, a training run queued,
a version's leaderboard pictures wanted); this module sends the Celery message.  gallery.models
and gallery.tasks both import it, and it reaches the task objects only when it sends, so the
import arrows point one way: tasks -> models -> enqueue.

Each message names its queue here, read from the settings when it is sent: colouring goes to
CELERY_TASK_DEFAULT_QUEUE, training runs and leaderboard pictures to COLORSITE_TRAINING_QUEUE (read
by a worker of its own, so photos keep being coloured while a model trains).  Named at send time,
not routed once when Celery configures itself, so the queue is always the one the settings name now.

It also holds the one definition of "lost" (``lost_after``), because that is how long a sent
message is remembered in Redis (gallery.broker) and how long a claimed photo may run.
"""

from __future__ import annotations

import logging
from types import ModuleType
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from kombu.exceptions import OperationalError

from . import broker

if TYPE_CHECKING:
    from .models import ModelVersion, Photo

log = logging.getLogger(__name__)

# Seconds past the hard time limit before a photo counts as lost: no live run can take that long.
LOST_MARGIN = 30


def lost_after() -> int:
    """Seconds after which a photo still queued or running has surely lost its message or its worker."""
    return int(settings.CELERY_TASK_TIME_LIMIT) + LOST_MARGIN


def colouring(photo: Photo) -> None:
    """Send the photo to the workers once the current transaction commits (like delay_on_commit).

    When Redis cannot be reached the upload is not lost: the photo stays queued, the instance's
    ``waiting_for_queue`` tells the page to say so, and the sweep (gallery.recovery.resend_lost)
    sends it when Redis answers again.
    """
    transaction.on_commit(lambda: send_colouring(photo))


def send_colouring(photo: Photo) -> None:
    """Send the colouring message now and leave the mark that says one is on its way."""
    try:
        resend_colouring(photo.pk)
        broker.mark_sent(photo.pk, lost_after())
    except (OperationalError, *broker.ERRORS) as exc:
        log.warning("photo %s is kept but could not be queued (%s); the sweep will send it", photo.pk, exc)
        photo.waiting_for_queue = True


def resend_colouring(photo_id) -> None:
    """Send the colouring message without touching the mark (the sweep has set it already)."""
    _tasks().colorize_photo.apply_async((str(photo_id),), queue=settings.CELERY_TASK_DEFAULT_QUEUE)


def training_run(version: ModelVersion) -> None:
    """Send a queued training run to the training queue once the transaction commits."""
    _to_training_queue_on_commit(_tasks().train_model_version, version)


def leaderboard_pictures(version: ModelVersion) -> None:
    """Ask the training worker to draw a version's leaderboard pictures once the transaction commits."""
    _to_training_queue_on_commit(_tasks().render_leaderboard, version)


def _to_training_queue_on_commit(task, version: ModelVersion) -> None:
    pk = str(version.pk)
    transaction.on_commit(lambda: task.apply_async((pk,), queue=settings.COLORSITE_TRAINING_QUEUE))


def _tasks() -> ModuleType:
    # gallery.tasks imports gallery.models, which imports this module: reach the tasks only when sending.
    from . import tasks

    return tasks
