"""Many photos at once, from the gallery's batch bar: one zip of their files, delete, visibility.

Only the person's own photos are touched: ``chosen`` drops every other id (somebody else's, a
deleted one, a made-up one) exactly as a single photo's 404 does, so the answer never tells
whether an id exists.  Deleting goes through Photo.delete_with_files, one photo at a time in one
transaction, so each gives its bytes back to the quota (gallery.quota's pre_delete) and makes room
in the fair queue (gallery.fair_queue) as the single delete does; the files go once it commits.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from .models import Photo
from .zip_stream import Entry, unique_names

# What a batch download may hold -> the photo files it takes from each photo.
DOWNLOAD_KINDS = {"result": ("result",), "original": ("original",), "both": ("result", "original")}


def chosen(user, ids):
    """The user's photos among ``ids``, oldest first (the order a zip lists them in)."""
    return Photo.objects.filter(owner=user, pk__in=ids).order_by("created", "pk")


def zip_entries(photos, what: str) -> list[Entry]:
    """The archive's entries for ``what`` ("result", "original" or "both"): a photo without a
    coloured image yet adds only its original (if asked for).  Names are the single downloads'
    (Photo.download_name), with " (2)" … where two photos share one."""
    files = [
        (photo.download_name(kind), photo.file_field(kind).name, photo)
        for photo in photos
        for kind in DOWNLOAD_KINDS[what]
        if photo.file_field(kind)
    ]
    names = unique_names(name for name, _, _ in files)
    return [
        Entry(arcname, stored, timezone.localtime(photo.finished or photo.created), photo.pk)
        for arcname, (_, stored, photo) in zip(names, files)
    ]


def delete(photos: list[Photo]) -> int:
    """Delete the photos with their files; how many went.  All or none: one transaction."""
    with transaction.atomic():
        for photo in photos:
            photo.delete_with_files()
    return len(photos)


def set_public(photos: list[Photo], is_public: bool) -> int:
    """Make the photos public or private (one UPDATE); how many there were."""
    return Photo.objects.filter(pk__in=[photo.pk for photo in photos]).update(is_public=is_public)
