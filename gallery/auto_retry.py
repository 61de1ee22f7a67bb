"""Automatic retries of photos that failed for a transient reason: when, how often, and what the owner reads.

A failure is *transient* when its cause lies outside the photo and may clear by itself: the media
storage (full, unmounted, read-only), the model file (missing or damaged while the staff replace it),
the broker, an original the storage cannot find.  gallery.failures marks those entries ``transient``;
``Photo.fail`` records such a failure with the time of its next try, and the periodic sweep
(gallery.recovery.retry_transient_failures) queues the photo again once that time has come, so the
owner need not press re-colour after an outage.  The waits double
(COLORSITE_AUTO_RETRY_DELAY, then twice that, …), and after COLORSITE_AUTO_RETRIES tries the photo
stays failed until its owner re-colours it: a cause that does not clear costs a few cheap runs, not
an endless loop.  A photo that cannot be decoded is the photo's own fault and is never retried.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils import timezone

if TYPE_CHECKING:
    from .models import Photo


def limit() -> int:
    """How many automatic retries a photo gets after its owner last asked for a colouring."""
    return int(settings.COLORSITE_AUTO_RETRIES)


def next_try(retries_done: int, now: datetime | None = None) -> datetime | None:
    """When the sweep should queue again a photo that has had ``retries_done`` automatic retries; None: no more."""
    if retries_done >= limit():
        return None
    wait = timedelta(seconds=settings.COLORSITE_AUTO_RETRY_DELAY * 2**retries_done)
    return (now or timezone.now()) + wait


def describe(photo: Photo, now: datetime | None = None) -> dict | None:
    """The pending automatic retry of a failed photo, for its page and the API; None when none is pending."""
    if photo.status != photo.FAILED or photo.retry_after is None:
        return None
    seconds = max(0.0, (photo.retry_after - (now or timezone.now())).total_seconds())
    minutes = max(1, math.ceil(seconds / 60))  # the sweep runs every minute or so: never "in 0 minutes"
    attempt = photo.auto_retries + 1
    return {
        "at": photo.retry_after.isoformat(),
        "in_seconds": int(seconds),
        "attempt": attempt,
        "of": limit(),
        "message": (
            f"It will be retried automatically in about {minutes} minute{'' if minutes == 1 else 's'} "
            f"(attempt {attempt} of {limit()})."
        ),
    }
