"""Photos: what a person uploaded, where its files are, and how far its colouring has come.

A photo's state lives in its row (queued -> running -> done | failed); the web
pages and the API read the row, the worker moves it along with conditional
UPDATEs so two workers can never colour one photo at the same time.

Model versions: every colouring model the site knows (the shipped one, and those
trained from the staff pages), its training log and evaluation report, and which
one is active.
"""
from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import math
import secrets
import shutil
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path, PurePath

import numpy as np
from celery.exceptions import SoftTimeLimitExceeded
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

from . import broker, imaging

log = logging.getLogger(__name__)

WORKING_SIZE_CHOICES = (128, 256, 384, 512, 768, 1024)


class PhotoQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Photos this user may look at: their own, and anybody's public ones."""
        if user.is_authenticated:
            return self.filter(Q(owner=user) | Q(is_public=True))
        return self.filter(is_public=True)

    def for_listing(self, *extra: str):
        """Only the columns a gallery card needs (plus ``extra``): a page is one narrow query."""
        return self.only("id", "owner_id", "name", "status", "failure_reason", "is_public", "width", "height",
                         "thumb", "result_thumb", "created", "finished", "has_colour", *extra)

    def ranked_by(self, metric: str, version: "ModelVersion"):
        """Colour uploads that ``version`` coloured, best first by one of ml.leaderboard's metrics.

        These have ground truth (their own colours), so they rank like the test photos do;
        ``.reverse()`` gives the worst first.
        """
        scored = self.filter(model_version=version, has_colour=True, status=Photo.DONE)
        if metric == "colourfulness_gap":
            return (scored.filter(colourfulness__isnull=False, colourfulness_true__isnull=False)
                    .annotate(score=Abs(F("colourfulness") - F("colourfulness_true"))).order_by("score", "created"))
        if metric not in ("rmse_ab", "psnr"):
            raise ValueError(f"unknown metric {metric!r}")
        return (scored.filter(**{f"{metric}__isnull": False}).annotate(score=F(metric))
                .order_by("-score" if metric == "psnr" else "score", "created"))


class Photo(models.Model):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    STATUS_CHOICES = [(QUEUED, "queued"), (RUNNING, "colouring"), (DONE, "done"), (FAILED, "failed")]
    FINAL = (DONE, FAILED)

    # Files a page may ask for by name (gallery.views.photo_file) -> the field that holds each.
    FILE_KINDS = {
        "original": "original", "thumb": "thumb", "preview": "preview", "grey": "grey_preview",
        "result": "result", "result-thumb": "result_thumb", "result-preview": "result_preview",
    }

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="photos")
    name = models.CharField(max_length=200, help_text="the uploaded file's name, for display only")
    status = models.CharField(max_length=10, choices=STATUS_CHOICES, default=QUEUED)
    failure_reason = models.TextField(blank=True)
    is_public = models.BooleanField(default=False)

    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    upload_bytes = models.PositiveBigIntegerField()
    source_format = models.CharField(max_length=10, blank=True)
    has_colour = models.BooleanField(default=False, help_text="the upload was already in colour")
    working_size = models.PositiveSmallIntegerField(default=DEFAULT_WORKING_SIZE)

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
    model_version = models.ForeignKey("ModelVersion", null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="photos", help_text="the model version that coloured it last")
    worker = models.CharField(max_length=200, blank=True, help_text="the worker that coloured it last")
    runs = models.PositiveIntegerField(default=0, help_text="how many times a worker claimed it")
    created = models.DateTimeField(default=timezone.now)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    objects = PhotoQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]
        indexes = [
            models.Index(fields=["owner", "-created"], name="photo_owner_newest"),
            models.Index(fields=["is_public", "-created"], name="photo_public_newest"),
        ]

    def __str__(self):
        return f"{self.name} ({self.status})"

    # -- uploads -------------------------------------------------------------------------------------

    @classmethod
    def create_from_upload(cls, owner, name: str, image: Image.Image, source_format: str,
                           upload_bytes: int) -> "Photo":
        """Store an accepted upload and queue its colouring.

        Only bytes we encoded ourselves are stored, under names we choose: the uploaded file's
        name and bytes never reach the disk, so nothing the sender controls (an embedded script,
        a path in the name, a polyglot file) can be served back.  The colouring task is enqueued
        after the transaction commits, so a worker never looks for a row that is not there yet.
        """
        photo = cls(owner=owner, name=PurePath(name or "photo").name[:200], width=image.width,
                    height=image.height, upload_bytes=upload_bytes, source_format=source_format)
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
            _delete_files(getattr(photo, field).name for field in cls.FILE_KINDS.values())
            raise
        with transaction.atomic():
            photo.save()
            photo.enqueue()
        return photo

    # Set on an instance whose colouring could not be queued (Redis down): it is kept, queued, and waits.
    waiting_for_queue = False

    def enqueue(self):
        """Send the photo to the workers once the current transaction commits (like delay_on_commit).

        When Redis cannot be reached the upload is not lost: the photo stays queued, the instance's
        ``waiting_for_queue`` tells the page to say so, and the sweep (resend_lost) sends it when
        Redis answers again.
        """
        transaction.on_commit(self._send)

    def _send(self) -> None:
        from kombu.exceptions import OperationalError

        from .tasks import colorize_photo  # tasks imports models

        try:
            colorize_photo.delay(str(self.pk))
            broker.mark_sent(self.pk, lost_after())
        except (OperationalError, *broker.ERRORS) as exc:
            log.warning("photo %s is kept but could not be queued (%s); the sweep will send it", self.pk, exc)
            self.waiting_for_queue = True

    @classmethod
    def resend_lost(cls) -> int:
        """Send again every queued photo whose message may be lost; returns how many were sent.

        Each send leaves a mark in Redis that lasts as long as a photo may take (broker.mark_sent).
        A queued photo without a mark has no message on its way: Redis was down when it was
        uploaded, or restarted without its data (and the marks went with the messages).  Sending
        one twice is harmless: claim lets one run through.  Raises if Redis is still down.
        """
        from .tasks import colorize_photo

        count, seconds = 0, lost_after()
        queued = list(cls.objects.filter(status=cls.QUEUED).values_list("pk", flat=True))
        for start in range(0, len(queued), 500):
            chunk = queued[start:start + 500]
            pipe = broker.client().pipeline(transaction=False)
            for pk in chunk:
                pipe.set(broker.sent_key(pk), 1, ex=seconds, nx=True)
            for pk, unmarked in zip(chunk, pipe.execute()):
                if unmarked:
                    colorize_photo.delay(str(pk))
                    count += 1
        return count

    # -- the worker's side ---------------------------------------------------------------------------

    @classmethod
    def claim(cls, pk, worker: str = "") -> "Photo | None":
        """Move one photo from queued to running and return it; None when somebody else has it.

        Several workers may receive the same task (a redelivery after Redis's visibility timeout,
        a duplicate enqueue, a retry): the conditional UPDATE lets exactly one of them through,
        because the database applies it to the row once.  A photo left running by a worker that
        died is claimable again once it has been running longer than the hard time limit, or the
        redelivered task (acks_late) would find it running forever.
        """
        now = timezone.now()
        stale = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 30)
        claimed = (cls.objects.filter(pk=pk)
                   .filter(Q(status=cls.QUEUED) | Q(status=cls.RUNNING, started__lt=stale))
                   .update(status=cls.RUNNING, started=now, finished=None, runs=F("runs") + 1, worker=worker))
        if not claimed:
            return None
        return cls.objects.filter(pk=pk).first()

    @classmethod
    def requeue_abandoned(cls) -> int:
        """Queue again the photos whose worker died while colouring them; returns how many.

        A worker process killed mid-photo (out of memory, the hard time limit) has its message
        acknowledged by Celery, so no redelivery will come and the photo would stay "colouring"
        forever.  Workers call this when they start; the conditional UPDATE makes two starting
        workers requeue a photo once between them.
        """
        stale = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 30)
        count = 0
        for pk in cls.objects.filter(status=cls.RUNNING, started__lt=stale).values_list("pk", flat=True):
            with transaction.atomic():
                if cls.objects.filter(pk=pk, status=cls.RUNNING, started__lt=stale).update(status=cls.QUEUED):
                    cls(pk=pk).enqueue()
                    count += 1
        return count

    @classmethod
    def requeue_after_lost_worker(cls, pk, node: str) -> str | None:
        """A worker process of ``node`` died while colouring this photo: queue it again now.

        Called by the worker's main process when its pool process is killed (SIGKILL, out of
        memory), so the photo does not wait for the time limit.  A photo whose worker dies
        LOST_WORKER_LIMIT times in a day is failed instead (it may need more memory than a worker
        has), so one photo cannot kill workers forever.  Returns the new status, or None if the
        photo was not left running by that node.
        """
        with transaction.atomic():
            photo = cls.objects.select_for_update().filter(pk=pk, status=cls.RUNNING,
                                                           worker__startswith=f"{node}:").first()
            if photo is None:
                return None
            try:
                deaths = broker.client().incr(broker.key("lost", pk))
                broker.client().expire(broker.key("lost", pk), 24 * 3600)
            except broker.ERRORS:
                deaths = 1
            photo.remove_stray_files()
            if deaths >= LOST_WORKER_LIMIT:
                photo.fail(f"the worker colouring this photo stopped unexpectedly {deaths} times; it may be "
                           "too large for the workers' memory")
                return cls.FAILED
            cls.objects.filter(pk=pk).update(status=cls.QUEUED, started=None)
            photo.enqueue()
        return cls.QUEUED

    @classmethod
    def requeue_left_by(cls, node: str) -> int:
        """Queue again the photos this worker node left running when it was killed; returns how many.

        A node name (``w1@host``) belongs to one running worker at a time, so a worker starting
        under it finds anything still running under that name abandoned, unless the process that
        took it is somehow still alive on this machine.  Found at once, rather than after the
        time limit (requeue_abandoned, which covers workers that never come back).
        """
        count = 0
        for pk, worker in cls.objects.filter(status=cls.RUNNING, worker__startswith=f"{node}:").values_list(
                "pk", "worker"):
            if _process_alive(worker.rsplit(":", 1)[-1]):
                continue
            with transaction.atomic():
                photo = cls.objects.select_for_update().filter(pk=pk, status=cls.RUNNING, worker=worker).first()
                if photo is not None:
                    photo.remove_stray_files()
                    cls.objects.filter(pk=pk).update(status=cls.QUEUED, started=None)
                    photo.enqueue()
                    count += 1
        return count

    def remove_stray_files(self) -> None:
        """Delete files in the photo's folder that its row does not name.

        They are what a run that failed or was killed wrote before it could record its result
        (a result without its thumbnail, a temporary file).  Call only while holding the photo
        (running, claimed by this caller, or left by a dead worker): then no live run is writing.
        """
        fresh = Photo.objects.filter(pk=self.pk).values(*self.FILE_KINDS.values()).first()
        if fresh is None:
            return
        keep = {name for name in fresh.values() if name}
        folder = f"photos/{self.pk}"
        try:
            _, files = default_storage.listdir(folder)
        except (FileNotFoundError, NotADirectoryError):
            return
        _delete_files(f"{folder}/{name}" for name in files if f"{folder}/{name}" not in keep)

    def colorize(self, colorizer, model_name: str = "", model_version: "ModelVersion | None" = None) -> None:
        """Colour the stored original with a loaded ml.inference.Colorizer and record the result.

        A photo that arrived in colour is coloured from its grey version, and the prediction is
        compared with the true colours.  A file we cannot read is the photo's fault, not a
        reason to retry: it ends failed with the reason.  The result is recorded only if the photo
        is still ours and still running (see _finish).
        """
        try:
            with default_storage.open(self.original.name, "rb") as fileobj:
                rgb = np.asarray(open_image(fileobj, max_pixels=settings.COLORSITE_MAX_PIXELS).convert("RGB"))
        except (InvalidImage, FileNotFoundError) as exc:
            self.fail(f"the stored original cannot be read: {exc}")
            return
        source = imaging.grey_version(rgb) if self.has_colour else rgb
        coloured = colorizer.colorize_array(source, working_size=self.working_size)
        scores = imaging.closeness(coloured, rgb) if self.has_colour else {}
        image = Image.fromarray(coloured)
        data, ext = imaging.encode(image, lossless=PurePath(self.original.name).suffix == ".png")
        preview, thumb = imaging.renditions(image)
        names = {
            "result": self._store("result", ext, data),
            "result_thumb": self._store("result-thumb", "jpg", imaging.jpeg(thumb)),
            "result_preview": self._store("result-preview", "jpg", imaging.jpeg(preview)),
        }
        self._finish(names, scores, model_name, model_version)

    def _finish(self, names: dict[str, str], scores: dict[str, float], model_name: str,
                model_version: "ModelVersion | None" = None) -> None:
        """Point the row at the new files and mark it done, then delete the files they replace.

        The UPDATE is conditional on the photo still running: if its owner deleted it (or a
        reclaim took it over) while we were colouring, the row is gone or not ours, and the files
        we just wrote are removed instead of being left behind.
        """
        old = [getattr(self, field).name for field in names]
        values = dict(names, rmse_ab=scores.get("rmse_ab"), psnr=scores.get("psnr"),
                      colourfulness=scores.get("colourfulness"), colourfulness_true=scores.get("colourfulness_true"),
                      model_name=model_name[:100], model_version_id=model_version.pk if model_version else None,
                      status=self.DONE, failure_reason="", finished=timezone.now())
        updated = Photo.objects.filter(pk=self.pk, status=self.RUNNING, started=self.started).update(**values)
        if not updated:
            _delete_files(names.values())
            return
        _delete_files(name for name in old if name and name not in names.values())
        for key, value in values.items():
            setattr(self, key, value)

    def fail(self, reason: str) -> None:
        """Record why the colouring failed; the page shows the reason to the owner."""
        self.status, self.failure_reason, self.finished = self.FAILED, reason[:2000], timezone.now()
        Photo.objects.filter(pk=self.pk).update(status=self.status, failure_reason=self.failure_reason,
                                                finished=self.finished)

    def release(self) -> None:
        """Give a claimed photo back to the queue (before a retry after a transient failure)."""
        Photo.objects.filter(pk=self.pk, status=self.RUNNING).update(status=self.QUEUED, started=None)

    # -- the owner's actions ---------------------------------------------------------------------------

    def recolour(self, working_size: int) -> bool:
        """Queue the photo again with the current model and a new working size.

        Only a finished photo can be re-coloured; one still queued or running is left alone (two
        clicks must not give two runs).  The old result stays visible until the new one replaces it.
        """
        with transaction.atomic():
            updated = Photo.objects.filter(pk=self.pk, status__in=self.FINAL).update(
                status=self.QUEUED, working_size=working_size, failure_reason="", started=None, finished=None)
            if updated:
                self.status, self.working_size = self.QUEUED, working_size
                self.enqueue()
        return bool(updated)

    def set_public(self, is_public: bool) -> None:
        self.is_public = is_public
        self.save(update_fields=["is_public"])

    def delete_with_files(self) -> None:
        """Delete the row, then its files once the deletion has committed.

        Files go last so a failed transaction never leaves a row pointing at missing files; a
        worker still colouring it notices the row is gone and removes what it wrote (_finish).
        """
        names = [getattr(self, field).name for field in self.FILE_KINDS.values()]
        with transaction.atomic():
            self.delete()
            transaction.on_commit(lambda: _delete_files(names))

    # -- reading ------------------------------------------------------------------------------------------

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL

    def file_field(self, kind: str):
        """The FieldFile for a kind in FILE_KINDS, or None when there is no such file (yet)."""
        field = self.FILE_KINDS.get(kind)
        file = getattr(self, field) if field else None
        return file if file else None

    def file_url(self, kind: str, download: bool = False) -> str | None:
        """URL of one of the photo's files; the version tag changes with the file, so it caches well."""
        file = self.file_field(kind)
        if file is None:
            return None
        url = reverse("gallery-photo-file", args=[self.pk, kind]) + "?v=" + file_version(file.name)
        return url + "&download=1" if download else url

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
            "id": str(self.pk), "name": self.name, "status": self.status,
            "status_label": self.get_status_display(), "failure_reason": self.failure_reason,
            "is_public": self.is_public, "width": self.width, "height": self.height,
            "has_colour": self.has_colour, "working_size": self.working_size,
            "created": self.created.isoformat(), "finished": self.finished.isoformat() if self.finished else None,
            "psnr": self.psnr, "colourfulness": self.colourfulness, "colourfulness_true": self.colourfulness_true,
            "urls": {
                "page": self.get_absolute_url(), "thumb": self.card_thumb_url,
                "before": self.file_url("grey") or self.file_url("preview"),
                "after": self.file_url("result-preview"), "true_colours": self.file_url("preview"),
                "original": self.file_url("original", download=True),
                "result": self.file_url("result", download=True),
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
            _delete_files([name])
            raise OSError(errno.EIO, f"the storage kept {name} incomplete")
        return name


class ApiToken(models.Model):
    """A secret that lets a script use the JSON API as its owner (``Authorization: Bearer <token>``).

    Only a SHA-256 of the token is stored, so a leaked database does not leak working tokens;
    the plain token is shown once, when it is issued.  One per user: issuing a new one revokes
    the old.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_token")
    key_hash = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(default=timezone.now)

    @classmethod
    def issue(cls, user) -> str:
        key = secrets.token_urlsafe(32)
        cls.objects.update_or_create(user=user, defaults={"key_hash": _sha256(key), "created": timezone.now()})
        return key

    @classmethod
    def user_for(cls, key: str):
        """The active user a token belongs to, or None."""
        token = cls.objects.select_related("user").filter(key_hash=_sha256(key), user__is_active=True).first()
        return token.user if token else None


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def file_version(name: str) -> str:
    return PurePath(name).stem.rsplit("-", 1)[-1]


# A photo whose worker process dies this many times in a day is failed rather than queued again.
LOST_WORKER_LIMIT = 3


def lost_after() -> int:
    """Seconds after which a photo still queued or running has surely lost its message or its worker."""
    return settings.CELERY_TASK_TIME_LIMIT + 30


def _process_alive(pid: str) -> bool:
    """Whether a worker process with this id still runs on this machine.

    A zombie does not count (a killed worker's pool processes can linger as zombies when nothing
    reaps them), nor does a process that is not a Celery worker (the id was reused).
    """
    try:
        stat = Path(f"/proc/{int(pid)}/stat").read_text()
        cmdline = Path(f"/proc/{int(pid)}/cmdline").read_bytes()
    except ValueError:
        return False
    except FileNotFoundError:
        if Path("/proc/self/stat").exists():
            return False
        try:  # no /proc on this system: ask the kernel
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True
    except OSError:
        return True
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X") and b"celery" in cmdline


def _delete_files(names) -> None:
    for name in names:
        if name:
            try:
                default_storage.delete(name)
            except OSError:
                log.warning("could not delete %s", name, exc_info=True)


# -- model versions -------------------------------------------------------------------------------------

class ModelVersion(models.Model):
    """One colouring model: where its files are, how it was trained, how it scored, and whether it is in use.

    Exactly one version is active (a partial unique constraint, so even two admins clicking at
    once cannot make two).  Workers read the active version before every photo, so activating
    another takes effect from the next photo without restarting anything.  A version trained from
    the staff page lives in a folder of its own under COLORSITE_MODELS_ROOT and becomes active only
    when an admin activates it: a failed or cancelled run never touches the model in use.
    """

    QUEUED = "queued"
    TRAINING = "training"
    READY = "ready"
    FAILED = "failed"
    CANCELLED = "cancelled"
    STATE_CHOICES = [(QUEUED, "queued"), (TRAINING, "training"), (READY, "ready"), (FAILED, "failed"),
                     (CANCELLED, "cancelled")]
    IN_PROGRESS = (QUEUED, TRAINING)

    # The leaderboard pictures (grey | prediction | target), drawn once per version by a task.
    PICTURES_NONE, PICTURES_QUEUED, PICTURES_READY, PICTURES_FAILED = "", "queued", "ready", "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    number = models.PositiveIntegerField(unique=True, help_text="1, 2, 3, … in the order versions were made")
    label = models.CharField(max_length=100)
    directory = models.CharField(max_length=500, help_text="the model folder; relative paths are under BASE_DIR")
    state = models.CharField(max_length=10, choices=STATE_CHOICES, default=QUEUED)
    failure_reason = models.TextField(blank=True)
    is_active = models.BooleanField(default=False)
    previous = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                 help_text="the version that was active before this one was activated (rollback)")

    family = models.CharField(max_length=20, blank=True)
    parameter_count = models.PositiveBigIntegerField(null=True, blank=True)
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True, help_text="model.keras on disk")
    training_parameters = models.JSONField(default=dict, blank=True)
    train_log = models.JSONField(default=list, blank=True, help_text="per epoch: loss, val_loss, seconds")
    # The dashboard reads only `summary` (a few hundred bytes); the per-image rows, which only the
    # leaderboards need, stay in `evaluation`, which list queries defer.
    summary = models.JSONField(default=dict, blank=True, help_text="test-split means, model and grey, and histogram")
    evaluation = models.JSONField(default=dict, blank=True, help_text="the full report of ml.evaluate")
    progress = models.JSONField(default=dict, blank=True)
    cancel_requested = models.BooleanField(default=False)
    pictures = models.JSONField(default=dict, blank=True, help_text="test photo -> its leaderboard picture in media")
    pictures_state = models.CharField(max_length=10, blank=True, default=PICTURES_NONE)
    pictures_requested = models.DateTimeField(null=True, blank=True)

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created = models.DateTimeField(default=timezone.now)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    heartbeat = models.DateTimeField(null=True, blank=True, help_text="the training task's last sign of life")
    activated = models.DateTimeField(null=True, blank=True)

    # Everything but the per-image rows: what pages listing versions load.
    LIGHT = ("evaluation",)

    class Meta:
        ordering = ["-number"]
        permissions = [("manage_models", "Can train, cancel, activate and roll back colouring models")]
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="one_active_model_version"),
        ]

    def __str__(self):
        return f"{self.label} ({self.state})"

    @property
    def path(self) -> Path:
        path = Path(self.directory)
        return path if path.is_absolute() else Path(settings.BASE_DIR) / path

    @property
    def in_progress(self) -> bool:
        return self.state in self.IN_PROGRESS

    @classmethod
    def active(cls) -> "ModelVersion | None":
        """The version in use: one narrow query, made by the worker before every photo."""
        return cls.objects.filter(is_active=True).only("id", "label", "directory", "family").first()

    # -- registering a folder ----------------------------------------------------------------------------

    @classmethod
    def register_default(cls) -> "ModelVersion | None":
        """Register COLORSITE_MODEL_DIR as a version (the first one, and active, on a new site).

        Called after every `migrate` (and after the test suite's flushes), so the shipped model
        needs no manual step.  While the folder has no model yet nothing is registered, and the
        worker colours with COLORSITE_MODEL_DIR directly; the next migrate (`make run` runs one)
        registers it — active only if no other version is, so it never takes over from a version
        an admin activated meanwhile.  A version registered before its evaluation report existed
        gets the report the next time round.
        """
        folder = Path(settings.COLORSITE_MODEL_DIR)
        if not (folder / "model.json").is_file() or not (folder / "model.keras").is_file():
            return None
        existing = cls.objects.filter(directory=_stored_directory(folder)).first()
        if existing is not None:
            if not existing.summary and (folder / "evaluation.json").is_file():
                existing.store_report(json.loads((folder / "evaluation.json").read_text()))
            return existing
        return cls.register_folder(folder, label=folder.name, activate=not cls.objects.filter(is_active=True).exists())

    @classmethod
    def register_folder(cls, folder: Path, *, label: str, activate: bool = False, created_by=None) -> "ModelVersion":
        """A ready version for a model folder written by `python -m ml train` (and `evaluate`)."""
        version = cls(label=label[:100], directory=_stored_directory(folder), state=cls.READY,
                      created_by=created_by, finished=timezone.now())
        version.read_folder()
        with transaction.atomic():
            version.number = cls.next_number()
            version.save()
            if activate:
                version.activate()
        return version

    def read_folder(self) -> None:
        """Copy what the model folder says about itself into the row (not saved here)."""
        folder = self.path
        info = json.loads((folder / "model.json").read_text())
        self.family = info.get("family", "")
        self.parameter_count = info.get("parameters")
        self.size_bytes = (folder / "model.keras").stat().st_size if (folder / "model.keras").exists() else None
        if not self.training_parameters:
            self.training_parameters = {k: v for k, v in info.get("config", {}).items() if k not in ("out", "data")}
        if (folder / "train_log.json").is_file():
            self.train_log = _finite(json.loads((folder / "train_log.json").read_text()))
        if (folder / "evaluation.json").is_file():
            self._set_report(json.loads((folder / "evaluation.json").read_text()))

    @classmethod
    def next_number(cls) -> int:
        return (cls.objects.aggregate(n=models.Max("number"))["n"] or 0) + 1

    # -- training from the staff page -------------------------------------------------------------------

    @classmethod
    def start_training(cls, parameters: dict, created_by) -> "ModelVersion | None":
        """Queue a training run on the training queue; None while another run is queued or training.

        One run at a time: training takes the training worker's whole CPU (or GPU), so a second
        run would only wait, and two admins clicking at once should not start two.
        """
        with transaction.atomic():
            if cls.objects.filter(state__in=cls.IN_PROGRESS).exists():
                return None
            version = cls(id=uuid.uuid4(), state=cls.QUEUED, created_by=created_by,
                          family=parameters["family"], training_parameters=parameters,
                          progress={"stage": "queued"})
            version.number = cls.next_number()
            version.label = f"v{version.number}"
            version.directory = _stored_directory(Path(settings.COLORSITE_MODELS_ROOT) / str(version.id))
            version.save()
            from .tasks import train_model_version  # tasks imports models

            train_model_version.delay_on_commit(str(version.pk))
        return version

    @classmethod
    def claim_training(cls, pk) -> "ModelVersion | None":
        """Move a queued run to training and return it; None when it was cancelled, gone or taken."""
        now = timezone.now()
        if not cls.objects.filter(pk=pk, state=cls.QUEUED).update(state=cls.TRAINING, started=now, heartbeat=now,
                                                                 progress={"stage": "loading"}):
            return None
        return cls.objects.get(pk=pk)

    def train_config(self):
        """The engine's TrainConfig for this run: the form's parameters plus the site's settings."""
        from ml.train import TrainConfig

        p = self.training_parameters
        cache = settings.COLORSITE_TRAINING_CACHE_DIR
        return TrainConfig(family=p["family"], out=str(self.path), epochs=p["epochs"], batch_size=p["batch_size"],
                           learning_rate=p["learning_rate"], crop=p["crop"], filters=p["filters"], depth=p["depth"],
                           max_examples=p.get("max_examples"), cache_dir=str(cache) if cache else None,
                           command=self.training_command())

    def training_command(self) -> str:
        """The `python -m ml train` command that repeats this run, recorded in model.json."""
        p = self.training_parameters
        args = [f"--family {p['family']}", f"--epochs {p['epochs']}", f"--batch-size {p['batch_size']}",
                f"--learning-rate {p['learning_rate']}", f"--crop {p['crop']}", f"--filters {p['filters']}",
                f"--depth {p['depth']}"]
        if p.get("max_examples"):
            args.append(f"--max-examples {p['max_examples']}")
        return f"python -m ml train {' '.join(args)} --out {self.directory}"

    def train(self) -> None:
        """Train, calibrate and evaluate on the test split; end ready, failed or cancelled.

        Runs in the training worker (gallery.tasks.train_model_version).  Progress goes to the row
        (report_progress), which is also where a cancel request is noticed.  The model folder is
        this version's own, so nothing here can change the active model; a run that does not end
        ready has its folder removed and keeps only its row (and its training log, for the page).
        """
        from ml.evaluate import evaluate
        from ml.train import TrainingCancelled, train

        try:
            train(self.train_config(), progress=self.report_progress)
            self.report_progress({"stage": "evaluating", "done": 0, "total": None})
            report = evaluate(self.path, max_examples=settings.COLORSITE_EVAL_EXAMPLES or None,
                              progress=lambda done, total: self.report_progress(
                                  {"stage": "evaluating", "done": done, "total": total}))
            self.read_folder()
            self._set_report(report)
            self._finish_ready()
        except TrainingCancelled:
            self._end(self.CANCELLED, "cancelled by an admin")
        except SoftTimeLimitExceeded:
            self._end(self.FAILED, f"training took longer than {settings.COLORSITE_TRAINING_TIME_LIMIT} seconds")
        except Exception as exc:
            log.exception("training version %s failed", self.pk)
            self._end(self.FAILED, f"{type(exc).__name__}: {exc}")

    def _finish_ready(self) -> None:
        """Store the results and mark the run ready, unless a cancel came in meanwhile (then raise)."""
        from ml.train import TrainingCancelled

        self.state, self.finished, self.failure_reason = self.READY, timezone.now(), ""
        self.progress = dict(self.progress, stage="done")
        fields = ("state", "finished", "failure_reason", "progress", "family", "parameter_count", "size_bytes",
                  "training_parameters", "train_log", "evaluation", "summary")
        if not ModelVersion.objects.filter(pk=self.pk, state=self.TRAINING, cancel_requested=False).update(
                **{name: getattr(self, name) for name in fields}):
            self.state = self.TRAINING
            raise TrainingCancelled()

    def report_progress(self, event: dict) -> None:
        """Record an engine progress event in the row; raise TrainingCancelled once a cancel is asked for.

        The UPDATE is conditional on no cancel having been requested, so noticing a cancel costs no
        extra query.  Batch events are recorded at most once a second; epochs always, with the
        training log so far, so the page can draw the curves while the run goes on.
        """
        from ml.train import TrainingCancelled

        now = time.time()
        stage = event.get("stage")
        if stage == "batch" and now - self.progress.get("written", 0) < 1.0:
            return
        progress = dict(self.progress, stage=stage, written=now)
        fields = {}
        if stage == "training":
            progress.update(epoch=1, epochs_done=0, epochs=event["epochs"], batch=0, batches=event["batches"],
                            training_since=now)
        elif stage == "batch":  # `epoch` is the one being trained (1-based), `epochs_done` those finished
            progress.update(epoch=event["epoch"], epochs_done=event["epoch"] - 1, batch=event["batch"],
                            batches=event["batches"], loss=event["loss"])
        elif stage == "epoch":
            logs = event["logs"]
            progress.update(epoch=event["epoch"], epochs_done=event["epoch"], batch=0, loss=logs.get("loss"),
                            val_loss=logs.get("val_loss"))
            self.train_log = [row for row in self.train_log if row.get("epoch", 0) < event["epoch"]] + [logs]
            fields["train_log"] = self.train_log = _finite(self.train_log)
        elif stage == "evaluating":
            progress.update(done=event["done"], total=event["total"])
        self.progress = _finite(progress)
        updated = ModelVersion.objects.filter(pk=self.pk, state=self.TRAINING, cancel_requested=False).update(
            progress=self.progress, heartbeat=timezone.now(), **fields)
        if not updated:
            raise TrainingCancelled()

    def _end(self, state: str, reason: str) -> None:
        """End a run that did not succeed: record why, keep its log, remove its folder."""
        log_file = self.path / "train_log.json"
        if log_file.is_file():
            self.train_log = _finite(json.loads(log_file.read_text()))
        shutil.rmtree(self.path, ignore_errors=True)
        self.state, self.failure_reason, self.finished = state, reason[:2000], timezone.now()
        self.progress = dict(self.progress, stage=state)
        ModelVersion.objects.filter(pk=self.pk).update(state=state, failure_reason=self.failure_reason,
                                                       finished=self.finished, progress=self.progress,
                                                       train_log=self.train_log)

    def request_cancel(self) -> bool:
        """Stop a run: a queued one is cancelled at once, a training one at its next progress report.

        Both are conditional UPDATEs, so a run that has just finished is left as it ended.
        """
        if ModelVersion.objects.filter(pk=self.pk, state=self.QUEUED).update(
                state=self.CANCELLED, cancel_requested=True, finished=timezone.now(),
                failure_reason="cancelled before it started",
                progress={"stage": self.CANCELLED}):
            return True
        return bool(ModelVersion.objects.filter(pk=self.pk, state=self.TRAINING).update(cancel_requested=True))

    @classmethod
    def fail_lost(cls, pk, reason: str) -> bool:
        """End a run whose training process died under it (see gallery.tasks.fail_run_of_lost_process)."""
        version = cls.objects.filter(pk=pk, state=cls.TRAINING).defer(*cls.LIGHT).first()
        if version is None:
            return False
        version._end(cls.FAILED, reason)
        return True

    @classmethod
    def fail_abandoned(cls) -> int:
        """Mark failed the runs whose training worker stopped mid-way (no sign of life for a long time).

        The training task is acknowledged when it starts (a redelivered run would start over in
        the same folder beside the first), so a worker that dies leaves its run "training" for good;
        a starting worker calls this.
        """
        stale = timezone.now() - timedelta(seconds=settings.COLORSITE_TRAINING_STALE_AFTER)
        return cls.objects.filter(state=cls.TRAINING, heartbeat__lt=stale).update(
            state=cls.FAILED, failure_reason="the training worker stopped without finishing", finished=timezone.now())

    STAGE_LABELS = {
        "queued": "waiting for the training worker", "loading": "loading the photos", "training": "training",
        "batch": "training", "epoch": "training",
        "validating": "choosing the decode (temperature, rebalancing correction) on the validation photos",
        "evaluating": "evaluating on the test split", "done": "done", "failed": "failed", "cancelled": "cancelled",
    }

    def progress_report(self) -> dict:
        """What the progress bar shows: state, stage, a fraction done, epoch x of y, losses, time left."""
        p, now = self.progress, time.time()
        fraction, eta = 0.0, None
        epochs, batches = p.get("epochs") or 0, p.get("batches") or 1
        if self.state == self.READY:
            fraction = 1.0
        elif p.get("stage") in ("training", "batch", "epoch") and epochs:
            trained = min(1.0, (p.get("epochs_done", 0) + p.get("batch", 0) / batches) / epochs)
            fraction = 0.02 + 0.83 * trained
            if trained > 0 and p.get("training_since"):
                eta = (now - p["training_since"]) * (1 - trained) / trained
        elif p.get("stage") == "validating":
            fraction = 0.87
        elif p.get("stage") == "evaluating":
            fraction = 0.9 + 0.09 * (p.get("done", 0) / p["total"] if p.get("total") else 0)
        elif p.get("stage") in (self.FAILED, self.CANCELLED):
            fraction = None
        return {
            "id": str(self.pk), "label": self.label, "state": self.state, "stage": p.get("stage", ""),
            "stage_label": self.STAGE_LABELS.get(p.get("stage", ""), p.get("stage", "")),
            "fraction": round(fraction, 4) if fraction is not None else None,
            "epoch": p.get("epoch"), "epochs": p.get("epochs"), "batch": p.get("batch"), "batches": p.get("batches"),
            "loss": p.get("loss"), "val_loss": p.get("val_loss"),
            "eta_seconds": round(eta) if eta is not None else None,
            "done": p.get("done"), "total": p.get("total"),
            "failure_reason": self.failure_reason, "cancel_requested": self.cancel_requested,
        }

    # -- the evaluation report ------------------------------------------------------------------------

    HISTOGRAM_BINS = 20

    def store_report(self, report: dict) -> None:
        self._set_report(report)
        self.save(update_fields=["evaluation", "summary"])

    def _set_report(self, report: dict) -> None:
        """Keep the full report (for the leaderboards) and a small summary with the RMSE histogram.

        The histogram is counted here, once, so the dashboard draws it from a few numbers.
        """
        rows = report.get("rows", [])
        model = np.array([r["model"]["rmse_ab"] for r in rows], np.float64)
        grey = np.array([r["grey"]["rmse_ab"] for r in rows], np.float64)
        top = float(max(model.max(initial=0), grey.max(initial=0))) or 1.0
        edges = np.linspace(0.0, top, self.HISTOGRAM_BINS + 1)
        self.evaluation = _finite(report)
        self.summary = _finite({
            "model": report["summary"]["model"], "grey": report["summary"]["grey"],
            "images": report.get("images", len(rows)), "working_size": report.get("working_size"),
            "decoding": report.get("decoding"),
            "histogram": {"edges": edges.tolist(), "model": np.histogram(model, edges)[0].tolist(),
                          "grey": np.histogram(grey, edges)[0].tolist()},
        })

    # -- activation and rollback -----------------------------------------------------------------------

    def activate(self) -> bool:
        """Make this ready version the one workers colour with; remembers the one it replaces.

        Inside one transaction the old version is switched off before this one is switched on,
        so the one-active constraint holds at every statement.  False when this version is not ready.
        """
        with transaction.atomic():
            me = ModelVersion.objects.select_for_update().filter(pk=self.pk, state=self.READY).first()
            if me is None:
                return False
            current = ModelVersion.objects.select_for_update().filter(is_active=True).first()
            if current is not None and current.pk == self.pk:
                return True
            self._switch(current, remember=True)
        return True

    @classmethod
    def rollback(cls) -> "ModelVersion | None":
        """Bring back the version that was active before the current one; returns it, or None.

        The restored version keeps its own `previous`, so rolling back again goes further back.
        """
        with transaction.atomic():
            current = cls.objects.select_for_update().filter(is_active=True).first()
            if current is None or current.previous_id is None:
                return None
            target = cls.objects.select_for_update().filter(pk=current.previous_id, state=cls.READY).first()
            if target is None:
                return None
            target._switch(current, remember=False)
        return target

    def _switch(self, current: "ModelVersion | None", *, remember: bool) -> None:
        if current is not None:
            ModelVersion.objects.filter(pk=current.pk).update(is_active=False)
        self.is_active, self.activated = True, timezone.now()
        fields = {"is_active": True, "activated": self.activated}
        if remember:
            self.previous_id = fields["previous_id"] = current.pk if current else None
        ModelVersion.objects.filter(pk=self.pk).update(**fields)

    # -- leaderboards ---------------------------------------------------------------------------------

    def ranked(self, metric: str, n: int) -> tuple[list[dict], list[dict]]:
        """(best n, worst n) test photos by a metric, read from the stored per-image rows."""
        from ml.leaderboard import rank

        return rank(self.evaluation.get("rows", []), metric, n)

    def request_pictures(self) -> bool:
        """Queue the drawing of this version's leaderboard pictures, once (again if a request went stale)."""
        stale = timezone.now() - timedelta(minutes=10)
        with transaction.atomic():
            updated = ModelVersion.objects.filter(
                Q(pictures_state=self.PICTURES_NONE) | Q(pictures_state=self.PICTURES_QUEUED,
                                                         pictures_requested__lt=stale),
                pk=self.pk, state=self.READY,
            ).update(pictures_state=self.PICTURES_QUEUED, pictures_requested=timezone.now())
            if updated:
                from .tasks import render_leaderboard

                render_leaderboard.delay_on_commit(str(self.pk))
        return bool(updated)

    def render_pictures(self, colorizer) -> None:
        """Draw grey | prediction | target for every test photo any leaderboard can show, and store them.

        That is the best and worst COLORSITE_LEADERBOARD_SIZE by each metric, so switching the
        metric or N on the page never needs a new picture.
        """
        from ml.leaderboard import RANKINGS, render_triptychs

        n = settings.COLORSITE_LEADERBOARD_SIZE
        files = sorted({row["file"] for metric in RANKINGS for rows in self.ranked(metric, n) for row in rows})
        with tempfile.TemporaryDirectory() as tmp:
            written = render_triptychs(self.path, files, tmp, colorizer=colorizer)
            pictures = {}
            for name, path in written.items():
                pictures[name] = default_storage.save(
                    f"leaderboards/{self.pk}/{PurePath(name).stem}-{secrets.token_hex(4)}.jpg",
                    ContentFile(Path(path).read_bytes()))
        old = list(self.pictures.values())
        self.pictures, self.pictures_state = pictures, self.PICTURES_READY
        self.save(update_fields=["pictures", "pictures_state"])
        _delete_files(name for name in old if name not in pictures.values())

    def picture_name(self, stem: str) -> str | None:
        for file, name in self.pictures.items():
            if PurePath(file).stem == stem:
                return name
        return None


def _stored_directory(folder: Path) -> str:
    """A model folder as stored: relative to BASE_DIR when inside it (the checkout may move), else absolute."""
    folder = Path(folder).resolve()
    try:
        return str(folder.relative_to(Path(settings.BASE_DIR).resolve()))
    except ValueError:
        return str(folder)


def _finite(value):
    """JSON-safe copy: NaN and infinities become None (PostgreSQL's jsonb refuses them)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, np.generic):
        return _finite(value.item())
    return value
