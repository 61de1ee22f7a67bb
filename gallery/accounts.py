"""Deleting a person's account with everything they stored."""

from __future__ import annotations

from django.db import transaction

from .models import Photo


def delete_account(user) -> int:
    """Delete ``user``, their photos with every file (originals, results, thumbnails, previews and
    any stray file in each photo's folder) and their API tokens; return how many photos went.

    One transaction: either the whole account goes or nothing does.  The files are deleted only
    once it has committed (Photo.delete_with_files), so a failure never leaves rows without files.
    """
    with transaction.atomic():
        photos = list(Photo.objects.filter(owner=user))
        for photo in photos:
            photo.delete_with_files()
        user.delete()  # the API tokens go with it (CASCADE)
    return len(photos)
