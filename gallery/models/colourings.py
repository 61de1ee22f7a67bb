"""Colouring: one coloured result of a photo, kept when the photo is coloured again.

The Photo row points at its *current* result (its result fields, what the pages, the API and the
downloads show); every result ever recorded, the current one included, also has a Colouring row
naming its files, the working size and colour strength it was made with, and its scores.  So a
re-colour keeps the earlier results: the owner can make one current again (``make_current``) or
delete one (``delete_with_files``).  The bytes of all of a photo's kept results are counted in
``Photo.result_bytes``, so deleting the photo gives them all back (gallery.quota); deleting one
result gives back its own.
"""

from __future__ import annotations

from pathlib import PurePath

from django.db import models, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.urls import reverse
from django.utils import timezone

from .. import quota
from ..colour_controls import NATURAL, STRENGTH_CHOICES
from ..storage import delete_files
from .stored_files import StoredFiles

# The fields a Colouring shares with its Photo: copied to the photo when it becomes current.
SHARED_FIELDS = (
    "result",
    "result_thumb",
    "result_preview",
    "working_size",
    "strength",
    "model_name",
    "model_version_id",
    "rmse_ab",
    "psnr",
    "colourfulness",
    "colourfulness_true",
)


class Colouring(StoredFiles, models.Model):
    # Files a page may ask for by name (gallery.views.colouring_file) -> the field that holds each.
    FILE_KINDS = {"result": "result", "result-thumb": "result_thumb", "result-preview": "result_preview"}

    photo = models.ForeignKey("Photo", on_delete=models.CASCADE, related_name="colourings")
    result = models.FileField(max_length=255, editable=False)
    result_thumb = models.FileField(max_length=255, editable=False)
    result_preview = models.FileField(max_length=255, editable=False)
    result_bytes = models.PositiveBigIntegerField(default=0, help_text="bytes of this result and its renditions")
    working_size = models.PositiveSmallIntegerField()
    strength = models.CharField(max_length=10, choices=STRENGTH_CHOICES, default=NATURAL)
    model_name = models.CharField(max_length=100, blank=True)
    model_version = models.ForeignKey(
        "ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="colourings"
    )
    rmse_ab = models.FloatField(null=True, blank=True)
    psnr = models.FloatField(null=True, blank=True)
    colourfulness = models.FloatField(null=True, blank=True)
    colourfulness_true = models.FloatField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self):
        return f"{self.photo_id} at {self.working_size} px, {self.strength}"

    def is_current_for(self, photo) -> bool:
        return bool(self.result.name) and self.result.name == photo.result.name

    def make_current(self) -> bool:
        """Point the photo at this result again; False while the photo is queued or colouring.

        A photo whose last re-colour failed becomes done with this result (its owner chose it).
        """
        from .photos import Photo

        values = {field: getattr(self, field) for field in SHARED_FIELDS}
        updated = Photo.objects.filter(pk=self.photo_id, status__in=Photo.FINAL).update(
            **values,
            status=Photo.DONE,
            failure_reason="",
            failure_code="",
            failure_transient=False,
            retry_after=None,
        )
        return bool(updated)

    def delete_with_files(self) -> bool:
        """Delete this kept result, give its bytes back and remove its files once that commits.

        The current result is refused (False): the photo would point at missing files.  The photo
        row is locked first, so a worker recording a new result waits and the two counts agree.
        """
        from .photos import Photo

        with transaction.atomic():
            photo = Photo.objects.select_for_update().only("pk", "owner_id", "result").filter(pk=self.photo_id).first()
            if photo is None or self.is_current_for(photo):
                return False
            deleted, _ = Colouring.objects.filter(pk=self.pk).delete()
            if not deleted:  # a second click: given back once
                return False
            Photo.objects.filter(pk=photo.pk).update(result_bytes=Greatest(F("result_bytes") - self.result_bytes, 0))
            quota.release(photo.owner_id, self.result_bytes)
            names = [getattr(self, field).name for field in self.FILE_KINDS.values()]
            transaction.on_commit(lambda: delete_files(names))
        return True

    # -- reading ------------------------------------------------------------------------------------------

    def file_view_url(self, kind: str) -> str:
        return reverse("gallery-colouring-file", args=[self.photo_id, self.pk, kind])

    @property
    def thumb_url(self) -> str | None:
        return self.file_url("result-thumb")

    def download_name(self, kind: str) -> str:
        stem = PurePath(self.photo.name).stem or "photo"
        suffix = PurePath(self.file_field(kind).name).suffix
        return f"{stem}-coloured-{self.working_size}px-{self.strength}{suffix}"
