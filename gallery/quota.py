"""The storage quota: bytes a person keeps (uploads and coloured results), reserved atomically.

Reading the sum of a person's photos and comparing it with COLORSITE_QUOTA_BYTES let parallel
uploads all pass the check before any of their rows existed (8 at once went 136 MiB past a 2 GiB
quota).  Here the bytes are *reserved* first, with one conditional UPDATE on the person's Usage
row, ``bytes_used <= quota - size``; the database applies concurrent UPDATEs to the row one at a
time and re-checks the condition for each, so the sum can never pass the quota.  Every
reservation is given back when what it was for goes away:

* an upload refused after its reservation (not an image, the storage failed): gallery.limits;
* a photo deleted, by its owner, the admin or with its account: ``release_deleted_photo``
  (a pre_delete signal, inside the deletion's transaction);
* a result: Photo._finish reserves the new result's bytes before it records the result (the
  earlier results are kept, gallery.models.colourings), and gives them back if the photo went away
  meanwhile; ``Photo.result_bytes`` counts all of a photo's kept results;
* one kept result deleted by its owner: Colouring.delete_with_files gives back its own bytes.

The counter is kept with no quota set too (COLORSITE_QUOTA_BYTES=0), so setting one later starts
from the truth.  Migration 0007 (fair_use_usage_and_waiting) initialised the rows from the photos that existed then.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import F
from django.db.models.functions import Greatest
from django.template.defaultfilters import filesizeformat

from .forms import megabytes
from .models.usage import Usage


def reserve(user_id, size: int) -> bool:
    """Add ``size`` bytes to the person's usage if that stays within the quota; False (nothing added) if not.

    A size of zero or less (a smaller result replacing a larger one) always fits.
    """
    Usage.ensure(user_id)
    rows = Usage.objects.filter(user_id=user_id)
    quota = settings.COLORSITE_QUOTA_BYTES
    if quota and size > 0:
        rows = rows.filter(bytes_used__lte=quota - size)
    return bool(rows.update(bytes_used=F("bytes_used") + size))


def release(user_id, size: int) -> None:
    """Give back ``size`` bytes (never below zero: photos made outside an upload request were never reserved)."""
    if size:
        Usage.objects.filter(user_id=user_id).update(bytes_used=Greatest(F("bytes_used") - size, 0))


def used(user_id) -> int:
    return Usage.objects.filter(user_id=user_id).values_list("bytes_used", flat=True).first() or 0


def usage_line(user_id) -> str:
    """The upload page's sentence about the quota, also sent by /api/usage/ so the page can update it."""
    return f"Your photos use {filesizeformat(used(user_id))} of your {filesizeformat(settings.COLORSITE_QUOTA_BYTES)}."


def refusal_message(user_id, size: int) -> str:
    """Why a file of ``size`` bytes was refused, with the person's usage and what to do."""
    return (
        f"this file ({megabytes(size)}) would take you over your storage quota: your photos use "
        f"{megabytes(used(user_id))} of {megabytes(settings.COLORSITE_QUOTA_BYTES)}; delete some to make room"
    )


def stored_size(names) -> int:
    """Bytes the storage holds under these names (a result and its renditions)."""
    return sum(default_storage.size(name) for name in names if name)


def release_deleted_photo(sender, instance, **kwargs) -> None:
    """pre_delete of a Photo: give back its bytes, read from the row locked inside the deletion's transaction.

    The row is read again, not taken from ``instance``: a worker may have recorded a result since
    the instance was loaded.  Locking it makes such a worker wait, then find the row gone (and
    give back its own reservation).  Two deletions of one photo give back once: the second finds
    no row.
    """
    row = (
        type(instance)
        .objects.select_for_update()
        .filter(pk=instance.pk)
        .values_list("owner_id", "upload_bytes", "result_bytes")
        .first()
    )
    if row is not None:
        owner_id, upload_bytes, result_bytes = row
        release(owner_id, upload_bytes + result_bytes)
