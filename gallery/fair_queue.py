"""Fair sharing of the workers: each person has at most a few photos in flight, the rest wait in the database.

The broker is first in, first out: one account that queued 300 large photos made everybody else
wait behind all 300.  So a person's photos go to the broker only while they have fewer than
COLORSITE_IN_FLIGHT_PER_PERSON in flight (queued, that is sent, or running); the others are kept
as WAITING in the database ("waiting for your earlier photos") and released, oldest first, as
theirs finish.  Another person's photo therefore waits behind at most that many of anybody's
photos, whatever they have queued.

* ``admit`` is called for new work (an upload, a re-colour) inside the transaction that made it due;
* ``release`` is called by the worker when a photo of that person ends (gallery.tasks), and by
  ``release_all``, which the periodic sweep runs (gallery.recovery) to catch every path that
  ends a photo without telling us (a deletion, a crash, a failure from the recovery paths).

Both take the person's Usage row lock first, so two of them for one person run one after the
other and never send more than the cap; the waiting rows are picked with
select_for_update(skip_locked=True) where the database has it (SQLite serialises writers anyway),
and each is moved WAITING -> QUEUED by a conditional UPDATE before its message is sent on commit.
Running any of them twice, or on several machines at once, sends each photo once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import enqueue
from .models.usage import Usage

if TYPE_CHECKING:
    from .models import Photo


def admit(photo: Photo) -> None:
    """New work for ``photo`` (already saved as QUEUED): send it now if its owner has room, else hold it.

    Call inside the transaction that queued it.  A photo is held also when the owner has photos
    waiting already, so their photos keep the order they were sent in.
    """
    Photo = type(photo)
    _lock_person(photo.owner_id)
    mine = Photo.objects.filter(owner_id=photo.owner_id).exclude(pk=photo.pk)
    cap = settings.COLORSITE_IN_FLIGHT_PER_PERSON
    if not cap or (
        mine.filter(status__in=(Photo.QUEUED, Photo.RUNNING)).count() < cap
        and not mine.filter(status=Photo.WAITING).exists()
    ):
        enqueue.colouring(photo)
        return
    photo.status, photo.waiting_since = Photo.WAITING, timezone.now()
    Photo.objects.filter(pk=photo.pk, status=Photo.QUEUED).update(
        status=photo.status, waiting_since=photo.waiting_since
    )


def release(owner_id) -> int:
    """Send the person's oldest waiting photos while they have room in flight; returns how many were sent."""
    from .models import Photo

    cap = settings.COLORSITE_IN_FLIGHT_PER_PERSON
    with transaction.atomic():
        _lock_person(owner_id)
        mine = Photo.objects.filter(owner_id=owner_id)
        in_flight = mine.filter(status__in=(Photo.QUEUED, Photo.RUNNING)).count()
        room = cap - in_flight if cap else None
        if room is not None and room <= 0:
            return 0
        waiting = (
            mine.filter(status=Photo.WAITING)
            .order_by("waiting_since", "created")
            .select_for_update(skip_locked=True)
            .only("pk", "owner_id", "status")
        )
        sent = 0
        for photo in waiting[:room] if room is not None else waiting:
            if Photo.objects.filter(pk=photo.pk, status=Photo.WAITING).update(status=Photo.QUEUED, waiting_since=None):
                photo.status = Photo.QUEUED
                enqueue.colouring(photo)
                sent += 1
    return sent


def release_all() -> int:
    """Release waiting photos of everybody who has room, the longest-waiting person first; returns how many."""
    from .models import Photo

    owners = Photo.objects.filter(status=Photo.WAITING).order_by("waiting_since").values_list("owner_id", flat=True)
    return sum(release(owner_id) for owner_id in dict.fromkeys(owners))


def _lock_person(owner_id) -> None:
    """Take the person's Usage row lock for this transaction: their admissions and releases run one at a time."""
    Usage.ensure(owner_id)
    list(Usage.objects.select_for_update().filter(user_id=owner_id).values_list("pk", flat=True))
