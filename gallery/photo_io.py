"""What the pages, the JSON API and the staff pages share: which photo a request may reach,
storing the files of an upload request, and serving a photo's files.

Kept apart from gallery.views so gallery.api and gallery.staff_views import it rather than
the pages' module.
"""

from __future__ import annotations

import logging

from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.utils.datastructures import MultiValueDict

from .forms import PhotoFileForm
from .limits import Allowance
from .models import Colouring, Photo, file_version
from .query_forms import FileQuery

log = logging.getLogger(__name__)

# Shown when an upload was stored but its colouring could not be queued (Redis is down): it waits.
WAITING_FOR_QUEUE = (
    "Your photos are saved and waiting: the colouring queue cannot be reached right now. "
    "They will be coloured automatically as soon as it is back; nothing needs to be sent again."
)
# A request with no usable file: none chosen, or only files Django drops for their names ("", ".", "..").
NO_FILES = (
    "No photo arrived: choose one or more image files to upload. "
    'A file named "." or "..", or with no name at all, cannot be uploaded: rename it first'
)
STORAGE_FAILED = "the photo could not be saved: the server's storage failed; please send it again later"


def own_photo(request, photo_id) -> Photo:
    """The request user's photo, or 404 — also for somebody else's, so ids cannot be probed."""
    return get_object_or_404(Photo, pk=photo_id, owner=request.user)


def visible_photo(request, photo_id) -> Photo:
    """A photo the request user may look at: their own or a public one; otherwise 404."""
    return get_object_or_404(Photo.objects.visible_to(request.user), pk=photo_id)


def own_colouring(request, photo_id, colouring_id) -> Colouring:
    """One kept result of the request user's photo (gallery.models.colourings), or 404."""
    return get_object_or_404(
        Colouring.objects.select_related("photo"), pk=colouring_id, photo_id=photo_id, photo__owner=request.user
    )


def store_uploads(request) -> tuple[list[Photo], list[tuple[str, str]], Allowance]:
    """Check every file of the request on its own and store the good ones.

    Returns the new photos, (file name, message) for each file turned away, and the person's
    upload allowance (gallery.limits); one bad file never stops the others.  The limits are
    checked before a file is decoded.  Shared by the upload page and the JSON API.
    """
    photos, rejected = [], []
    allowance = Allowance(request.user)
    for upload in request.FILES.getlist("file"):
        refusal = allowance.refusal(upload)
        if refusal:
            rejected.append((upload.name, refusal))
            continue
        form = PhotoFileForm(files=MultiValueDict({"file": [upload]}))
        if not form.is_valid():
            allowance.give_back()
            rejected.append((upload.name, form.error_message()))
            continue
        try:
            photos.append(
                Photo.create_from_upload(request.user, upload.name, form.image, form.source_format, upload.size)
            )
        except OSError:
            log.exception("storing an upload of %s failed", request.user)
            allowance.give_back()
            rejected.append((upload.name, STORAGE_FAILED))
    return photos, rejected, allowance


def serve_file(request, photo: Photo | Colouring, kind: str, *, download: bool) -> FileResponse:
    """A photo's file, or a kept result's (Colouring has the same file_field and download_name)."""
    file = photo.file_field(kind)
    if file is None:
        raise Http404("no such file for this photo")
    try:
        opened = file.open("rb")
    except FileNotFoundError:  # the storage lost it (a restored backup, a volume not mounted): not a 500
        owner_photo = getattr(photo, "photo_id", photo.pk)  # a Colouring names its photo
        log.error("photo %s names %s, which the storage does not have", owner_photo, file.name)
        raise Http404("the file is missing") from None
    response = FileResponse(opened, as_attachment=download, filename=photo.download_name(kind) if download else "")
    # A versioned URL never changes content (a re-colour writes a new name), so it caches for good.
    fresh = FileQuery.values(request)["v"] == file_version(file.name)
    response["Cache-Control"] = "private, max-age=31536000, immutable" if fresh else "private, no-cache"
    return response
