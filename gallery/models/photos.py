"""Photos: what a person uploaded, where its files are, and how far its colouring has come.

A photo's state lives in its row ([waiting ->] queued -> running -> done | failed); the web
pages and the API read the row, the worker moves it along with conditional
UPDATEs so two workers can never colour one photo at the same time.  What happens
to a photo a fault left behind is in gallery.recovery; messages go out through
gallery.enqueue, new work is admitted to the workers by gallery.fair_queue (a photo waits while
its owner has enough in flight), and the bytes it keeps count in gallery.quota.
"""

from __future__ import annotations

import errno
import logging
import secrets
import uuid
from datetime import timedelta
from pathlib import PurePath
from typing import TYPE_CHECKING, cast

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import models, transaction
from django.db.models import F, Q
from django.db.models.functions import Abs
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from ml.images import InvalidImage, open_image

# The engine's default render size; ml.inference imports Keras only when a Colorizer is built.
from ml.inference import DEFAULT_WORKING_SIZE

from .. import auto_retry, colour_controls, enqueue, failures, fair_queue, imaging, quota
from ..colour_controls import NATURAL, STRENGTH_CHOICES
from ..failures import Failure
from ..storage import delete_files, delete_folder
from .colourings import SHARED_FIELDS, Colouring
from .stored_files import StoredFiles

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from .versions import ModelVersion

WORKING_SIZE_CHOICES = (128, 160, 256, 384, 512, 768, 1024)


class PhotoQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Photos this user may look at: their own, and anybody's public ones."""
        if user.is_authenticated:
            return self.filter(Q(owner=user) | Q(is_public=True))
        return self.filter(is_public=True)

    def for_listing(self, *extra: str):
        """Only the columns a gallery card needs (plus ``extra``): a page is one narrow query."""
        return self.only(
            "id",
            "owner_id",
            "name",
            "status",
            "failure_reason",
            "failure_code",
            "is_public",
            "width",
            "height",
            "thumb",
            "result_thumb",
            "created",
            "finished",
            "has_colour",
            "retry_after",
            "auto_retries",
            *extra,
        )

    def ranked_by(self, metric: str, version: ModelVersion):
        """Colour uploads that ``version`` coloured, best first by one of ml.leaderboard's metrics.

        These have ground truth (their own colours), so they rank like the test photos do;
        ``.reverse()`` gives the worst first.
        """
        scored = self.filter(model_version=version, has_colour=True, status=Photo.DONE)
        if metric == "colourfulness_gap":
            return (
                scored.filter(colourfulness__isnull=False, colourfulness_true__isnull=False)
                .annotate(score=Abs(F("colourfulness") - F("colourfulness_true")))
                .order_by("score", "created")
            )
        if metric not in ("rmse_ab", "psnr"):
            raise ValueError(f"unknown metric {metric!r}")
        return (
            scored.filter(**{f"{metric}__isnull": False})
            .annotate(score=F(metric))
            .order_by("-score" if metric == "psnr" else "score", "created")
        )


class Photo(StoredFiles, models.Model):
    WAITING = "waiting"  # held back while its owner has enough photos in flight (gallery.fair_queue)
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    STATUS_CHOICES = [
        (WAITING, "waiting for your earlier photos"),
        (QUEUED, "queued"),
        (RUNNING, "colouring"),
        (DONE, "done"),
        (FAILED, "failed"),
    ]
    FINAL = (DONE, FAILED)

    # Files a page may ask for by name (gallery.views.photo_file) -> the field that holds each.
    FILE_KINDS = {
        "original": "original",
        "thumb": "thumb",
        "preview": "preview",
        "grey": "grey_preview",
        "result": "result",
        "result-thumb": "result_thumb",
        "result-preview": "result_preview",
    }

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="photos")
    name = models.CharField(max_length=200, help_text="the uploaded file's name, for display only")
    status = models.CharField(max_length=10, choices=STATUS_CHOICES, default=QUEUED)
    # One of gallery.failures' sentences and its code: never an exception's text (it may name server paths).
    failure_reason = models.TextField(blank=True)
    failure_code = models.CharField(max_length=40, blank=True)
    # A failure whose cause may clear by itself (storage, model file, broker) is retried by the sweep
    # (gallery.auto_retry); these say whether, when next, and how often it has been so far.
    failure_transient = models.BooleanField(default=False, help_text="the last failure's cause may clear by itself")
    retry_after = models.DateTimeField(null=True, blank=True, help_text="when the sweep queues it again by itself")
    auto_retries = models.PositiveSmallIntegerField(
        default=0, help_text="automatic retries since it last succeeded or its owner re-coloured it"
    )
    is_public = models.BooleanField(default=False)

    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    upload_bytes = models.PositiveBigIntegerField()
    result_bytes = models.PositiveBigIntegerField(
        default=0, help_text="bytes of every kept result (current and earlier) and their renditions"
    )
    source_format = models.CharField(max_length=10, blank=True)
    has_colour = models.BooleanField(default=False, help_text="the upload was already in colour")
    working_size = models.PositiveSmallIntegerField(default=DEFAULT_WORKING_SIZE)
    # gallery.colour_controls: the strength the next (or current) colouring uses.
    strength = models.CharField(max_length=10, choices=STRENGTH_CHOICES, default=NATURAL)

    # Names in default_storage, all chosen by us: photos/<id>/<kind>-<random>.<ext>.
    original = models.FileField(max_length=255, editable=False)
    thumb = models.FileField(max_length=255, editable=False)
    preview = models.FileField(max_length=255, editable=False)
    grey_preview = models.FileField(max_length=255, blank=True, editable=False)
    result = models.FileField(max_length=255, blank=True, editable=False)
    result_thumb = models.FileField(max_length=255, blank=True, editable=False)
    result_preview = models.FileField(max_length=255, blank=True, editable=False)

    # How close the prediction came to the true colours (colour uploads only).
    rmse_ab = models.FloatField(null=True, blank=True)
    psnr = models.FloatField(null=True, blank=True)
    colourfulness = models.FloatField(null=True, blank=True)
    colourfulness_true = models.FloatField(null=True, blank=True)

    model_name = models.CharField(max_length=100, blank=True)
    model_version = models.ForeignKey(
        "ModelVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="photos",
        help_text="the model version that coloured it last",
    )
    worker = models.CharField(max_length=200, blank=True, help_text="the worker that coloured it last")
    runs = models.PositiveIntegerField(default=0, help_text="how many times a worker claimed it")
    created = models.DateTimeField(default=timezone.now)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    waiting_since = models.DateTimeField(null=True, blank=True, help_text="when it was held back (gallery.fair_queue)")

    objects = PhotoQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]
        indexes = [
            models.Index(fields=["owner", "-created"], name="photo_owner_newest"),
            models.Index(fields=["is_public", "-created"], name="photo_public_newest"),
            # The sweep looks for due retries every minute: only the few photos waiting for one are indexed.
            models.Index(fields=["retry_after"], name="photo_retry_due", condition=Q(retry_after__isnull=False)),
        ]

    def __str__(self):
        return f"{self.name} ({self.status})"

    # -- uploads -------------------------------------------------------------------------------------

    @classmethod
    def create_from_upload(cls, owner, name: str, image: Image.Image, source_format: str, upload_bytes: int) -> Photo:
        """Store an accepted upload and queue its colouring.

        Only bytes we encoded ourselves are stored, under names we choose: the uploaded file's
        name and bytes never reach the disk, so nothing the sender controls (an embedded script,
        a path in the name, a polyglot file) can be served back.  The colouring task is enqueued
        after the transaction commits, so a worker never looks for a row that is not there yet.
        """
        photo = cls(
            owner=owner,
            name=PurePath(name or "photo").name[:200],
            width=image.width,
            height=image.height,
            upload_bytes=upload_bytes,
            source_format=source_format,
        )
        rgb = np.asarray(image)
        photo.has_colour = imaging.has_colour(rgb)
        data, ext = imaging.encode(image, lossless=source_format not in imaging.LOSSY_FORMATS)
        try:
            photo.original.name = photo._store("original", ext, data)
            preview, thumb = imaging.renditions(image)
            photo.preview.name = photo._store("preview", "jpg", imaging.jpeg(preview))
            photo.thumb.name = photo._store("thumb", "jpg", imaging.jpeg(thumb))
            if photo.has_colour:  # the slider's "before": the grey version the model will see
                grey = Image.fromarray(imaging.grey_version(np.asarray(preview)))
                photo.grey_preview.name = photo._store("grey", "jpg", imaging.jpeg(grey))
        except OSError:  # the storage failed: leave nothing behind for a photo that will not exist
            delete_files(getattr(photo, field).name for field in cls.FILE_KINDS.values())
            raise
        with transaction.atomic():
            photo.save()
            fair_queue.admit(photo)
        return photo

    # Set (by gallery.enqueue) on an instance whose colouring could not be queued (Redis down): it is
    # kept, queued, and waits.
    waiting_for_queue = False

    # -- the worker's side ---------------------------------------------------------------------------

    @classmethod
    def claim(cls, pk, worker: str = "") -> Photo | None:
        """Move one photo from queued to running and return it; None when somebody else has it.

        Several workers may receive the same task (a redelivery after Redis's visibility timeout,
        a duplicate enqueue, a retry): the conditional UPDATE lets exactly one of them through,
        because the database applies it to the row once.  A photo left running by a worker that
        died is claimable again once it has been running longer than the hard time limit, or the
        redelivered task (acks_late) would find it running forever.
        """
        now = timezone.now()
        stale = now - timedelta(seconds=enqueue.lost_after())
        claimed = (
            cls.objects.filter(pk=pk)
            .filter(Q(status=cls.QUEUED) | Q(status=cls.RUNNING, started__lt=stale))
            .update(status=cls.RUNNING, started=now, finished=None, runs=F("runs") + 1, worker=worker)
        )
        if not claimed:
            return None
        return cls.objects.filter(pk=pk).first()

    def remove_stray_files(self) -> None:
        """Delete files in the photo's folder that its row does not name.

        They are what a run that failed or was killed wrote before it could record its result
        (a result without its thumbnail, a temporary file).  Call only while holding the photo
        (running, claimed by this caller, or left by a dead worker): then no live run is writing.
        The files of the earlier results the photo keeps (Colouring rows) are kept too.
        """
        fresh = Photo.objects.filter(pk=self.pk).values(*self.FILE_KINDS.values()).first()
        if fresh is None:
            return
        keep = {name for name in fresh.values() if name}
        for row in Colouring.objects.filter(photo_id=self.pk).values_list(*Colouring.FILE_KINDS.values()):
            keep.update(name for name in row if name)
        folder = f"photos/{self.pk}"
        try:
            _, files = default_storage.listdir(folder)
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError:  # the storage is down (an object store out of reach): the photo's next run tidies up
            log.warning("photo %s: could not list its folder to remove stray files", self.pk, exc_info=True)
            return
        delete_files(f"{folder}/{name}" for name in files if f"{folder}/{name}" not in keep)

    def colorize(self, colorizer, model_name: str = "", model_version: ModelVersion | None = None) -> None:
        """Colour the stored original with a loaded ml.inference.Colorizer and record the result.

        A photo that arrived in colour is coloured from its grey version, and the prediction is
        compared with the true colours.  A file we cannot read is the photo's fault, not a
        reason to retry: it ends failed with the reason.  The result is recorded only if the photo
        is still ours and still running (see _finish).
        """
        original = cast(str, self.original.name)  # every photo row names its original
        if self.runs > 1:  # an earlier run may have left files it could not remove (its storage was down)
            self.remove_stray_files()
        try:
            with default_storage.open(original, "rb") as fileobj:
                rgb = np.asarray(open_image(fileobj, max_pixels=settings.COLORSITE_MAX_PIXELS).convert("RGB"))
        except InvalidImage as exc:
            log.error("photo %s: the stored original %s cannot be read: %s", self.pk, original, exc)
            self.fail(failures.ORIGINAL_UNREADABLE)  # the file itself is broken: never retried
            return
        except FileNotFoundError:
            # A missing file may be a storage that is not mounted yet: ORIGINAL_MISSING is transient.
            log.error("photo %s names %s, which the storage does not have", self.pk, original)
            self.fail(failures.ORIGINAL_MISSING)
            return
        source = imaging.grey_version(rgb) if self.has_colour else rgb
        coloured = colorizer.colorize_array(
            source,
            working_size=self.working_size,
            saturation=colour_controls.saturation(colorizer, self.strength),
        )
        scores = imaging.closeness(coloured, rgb) if self.has_colour else {}
        image = Image.fromarray(coloured)
        data, ext = imaging.encode(image, lossless=PurePath(original).suffix == ".png")
        preview, thumb = imaging.renditions(image)
        names = {
            "result": self._store("result", ext, data),
            "result_thumb": self._store("result-thumb", "jpg", imaging.jpeg(thumb)),
            "result_preview": self._store("result-preview", "jpg", imaging.jpeg(preview)),
        }
        self._finish(names, scores, model_name, model_version)

    def _finish(
        self,
        names: dict[str, str],
        scores: dict[str, float],
        model_name: str,
        model_version: ModelVersion | None = None,
    ) -> None:
        """Point the row at the new files, keep them as a Colouring beside the earlier ones, mark it done.

        The UPDATE is conditional on the photo still running: if its owner deleted it (or a
        reclaim took it over) while we were colouring, the row is gone or not ours, and the files
        we just wrote are removed instead of being left behind.  The result's bytes are reserved in
        the owner's quota first (all of them: the earlier results are kept, gallery.models.colourings);
        a result that does not fit is removed and the photo fails with a reason that says so.
        """
        added = quota.stored_size(names.values())
        if not quota.reserve(self.owner_id, added):
            delete_files(names.values())
            self.fail(failures.RESULT_OVER_QUOTA)
            return
        finished = timezone.now()
        values = dict(
            names,
            rmse_ab=scores.get("rmse_ab"),
            psnr=scores.get("psnr"),
            colourfulness=scores.get("colourfulness"),
            colourfulness_true=scores.get("colourfulness_true"),
            model_name=model_name[:100],
            model_version_id=model_version.pk if model_version else None,
            status=self.DONE,
            failure_reason="",
            failure_code="",
            failure_transient=False,
            retry_after=None,
            auto_retries=0,
            finished=finished,
        )
        with transaction.atomic():
            updated = Photo.objects.filter(pk=self.pk, status=self.RUNNING, started=self.started).update(
                **values, result_bytes=F("result_bytes") + added
            )
            if updated:
                Colouring.objects.create(
                    photo_id=self.pk,
                    result_bytes=added,
                    working_size=self.working_size,
                    strength=self.strength,
                    created=finished,
                    **{key: values[key] for key in SHARED_FIELDS if key in values},
                )
        if not updated:
            quota.release(self.owner_id, added)
            delete_files(names.values())
            return
        for key, value in values.items():
            setattr(self, key, value)
        self.result_bytes += added

    def fail(self, failure: Failure) -> None:
        """Record why the colouring failed: one of gallery.failures' sentences, which the owner reads.

        Never an exception's text; the caller logs that, with the photo's id.  A failure marked
        ``transient`` in the vocabulary (storage, the model file, the broker, a missing original)
        has its cause outside the photo and may clear by itself, so the sweep queues it again after
        a wait, a bounded number of times (gallery.auto_retry).  Anything else stays failed until
        the owner re-colours it.
        """
        self.status, self.failure_reason, self.failure_code = self.FAILED, failure.reason, failure.code
        self.finished = timezone.now()
        self.failure_transient = failure.transient
        self.retry_after = auto_retry.next_try(self.auto_retries, self.finished) if failure.transient else None
        Photo.objects.filter(pk=self.pk).update(
            status=self.status,
            failure_reason=self.failure_reason,
            failure_code=self.failure_code,
            finished=self.finished,
            failure_transient=self.failure_transient,
            retry_after=self.retry_after,
        )

    @classmethod
    def retry_transient(cls, pk, now) -> bool:
        """Queue again a photo whose transient failure's wait ended by ``now``; False if it is not waiting (any more).

        The conditional UPDATE lets one of several sweeps running at once take it, and a second
        sweep finds nothing to do.  The count goes up here, so the next failure waits longer.
        The retry is new work like any other: gallery.fair_queue admits it, so an owner at their cap
        of photos in flight gets it held as WAITING rather than sent past the cap.  It is not charged
        to the work budget again: the job was charged when it was asked for, and the site's fault
        made it fail.
        """
        with transaction.atomic():
            updated = cls.objects.filter(pk=pk, status=cls.FAILED, retry_after__lte=now).update(
                status=cls.QUEUED,
                failure_reason="",
                failure_code="",
                failure_transient=False,
                retry_after=None,
                auto_retries=F("auto_retries") + 1,
                started=None,
                finished=None,
            )
            if updated:
                fair_queue.admit(cls.objects.only("pk", "owner_id", "status").get(pk=pk))
        return bool(updated)

    def release(self) -> None:
        """Give a claimed photo back to the queue (before a retry after a transient failure)."""
        Photo.objects.filter(pk=self.pk, status=self.RUNNING).update(status=self.QUEUED, started=None)

    # -- the owner's actions ---------------------------------------------------------------------------

    def recolour(self, working_size: int, strength: str = NATURAL) -> bool:
        """Queue the photo again with the current model, a new working size and colour strength.

        Only a finished photo can be re-coloured; one still queued or running is left alone (two
        clicks must not give two runs).  The old result stays visible until the new one becomes
        current, and is kept after that in the photo's history (gallery.models.colourings).
        """
        with transaction.atomic():
            updated = Photo.objects.filter(pk=self.pk, status__in=self.FINAL).update(
                status=self.QUEUED,
                working_size=working_size,
                strength=strength,
                failure_reason="",
                failure_code="",
                failure_transient=False,
                retry_after=None,
                auto_retries=0,  # the owner asked: a fresh set of automatic retries
                started=None,
                finished=None,
            )
            if updated:
                self.status, self.working_size, self.strength = self.QUEUED, working_size, strength
                fair_queue.admit(self)
        return bool(updated)

    def set_public(self, is_public: bool) -> None:
        self.is_public = is_public
        self.save(update_fields=["is_public"])

    def delete_with_files(self) -> None:
        """Delete the row, then its files once the deletion has committed.

        Files go last so a failed transaction never leaves a row pointing at missing files; a
        worker still colouring it notices the row is gone and removes what it wrote (_finish).
        Whatever else is left in the photo's folder (a killed run's stray files) goes with it.
        Every kept result (gallery.models.colourings) goes too: its row by CASCADE, its files by
        name here, so they go even where the storage cannot list the folder.
        """
        names = [getattr(self, field).name for field in self.FILE_KINDS.values()]
        folder = f"photos/{self.pk}"

        def remove_files() -> None:
            delete_files(names)
            delete_folder(folder)

        with transaction.atomic():
            for row in Colouring.objects.filter(photo_id=self.pk).values_list(*Colouring.FILE_KINDS.values()):
                names.extend(row)
            self.delete()
            transaction.on_commit(remove_files)
            transaction.on_commit(lambda: fair_queue.release(self.owner_id))  # room for the owner's next photo

    # -- reading ------------------------------------------------------------------------------------------

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL

    @property
    def pending_retry(self) -> dict | None:
        """The automatic retry this failed photo waits for (when, which attempt, a sentence), or None."""
        return auto_retry.describe(self)

    def file_view_url(self, kind: str) -> str:
        return reverse("gallery-photo-file", args=[self.pk, kind])

    def download_name(self, kind: str) -> str:
        stem = PurePath(self.name).stem or "photo"
        suffix = PurePath(self.file_field(kind).name).suffix
        return f"{stem}-coloured{suffix}" if kind == "result" else f"{stem}{suffix}"

    @property
    def card_thumb_url(self) -> str | None:
        """The coloured thumbnail once there is one, else the upload's own."""
        return self.file_url("result-thumb") or self.file_url("thumb")

    def get_absolute_url(self):
        return reverse("gallery-photo", args=[self.pk])

    def to_dict(self) -> dict:
        """The photo as the JSON API and the live-status script see it."""
        return {
            "id": str(self.pk),
            "name": self.name,
            "status": self.status,
            "status_label": self.get_status_display(),
            "failure_reason": self.failure_reason,
            "failure_code": self.failure_code,
            "retry": self.pending_retry,
            "is_public": self.is_public,
            "width": self.width,
            "height": self.height,
            "has_colour": self.has_colour,
            "working_size": self.working_size,
            "strength": self.strength,
            "created": self.created.isoformat(),
            "finished": self.finished.isoformat() if self.finished else None,
            "psnr": self.psnr,
            "colourfulness": self.colourfulness,
            "colourfulness_true": self.colourfulness_true,
            "urls": {
                "page": self.get_absolute_url(),
                "thumb": self.card_thumb_url,
                "before": self.file_url("grey") or self.file_url("preview"),
                "after": self.file_url("result-preview"),
                "true_colours": self.file_url("preview"),
                "original": self.file_url("original", download=True),
                "result": self.file_url("result", download=True),
                "result_inline": self.file_url("result"),  # full size, shown in the page (compare at 100 %)
            },
        }

    def _store(self, kind: str, ext: str, data: bytes) -> str:
        """Save bytes under photos/<id>/<kind>-<random>.<ext>; the random part makes each version's URL new.

        The storage never shows a half-written file under its name (gallery.storage), and the
        stored size is checked here, so a storage that cut the file short raises OSError (and the
        task retries) before any row can name it.
        """
        name = default_storage.save(f"photos/{self.pk}/{kind}-{secrets.token_hex(4)}.{ext}", ContentFile(data))
        if default_storage.size(name) != len(data):
            delete_files([name])
            raise OSError(errno.EIO, f"the storage kept {name} incomplete")
        return name
