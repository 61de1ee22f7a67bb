"""Model versions: every colouring model the site knows (the shipped one, and those trained from
the staff pages), its training log and evaluation report, and which one is active.

How a version is trained from the staff page is in gallery.training_runs; how its progress bar
reads is in gallery.staff_progress.
"""

from __future__ import annotations

import json
import math
import secrets
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path, PurePath

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from .. import enqueue, model_store
from ..storage import delete_files


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
    STATE_CHOICES = [
        (QUEUED, "queued"),
        (TRAINING, "training"),
        (READY, "ready"),
        (FAILED, "failed"),
        (CANCELLED, "cancelled"),
    ]
    IN_PROGRESS = (QUEUED, TRAINING)

    # The leaderboard pictures (grey | prediction | target), drawn once per version by a task.
    PICTURES_NONE, PICTURES_QUEUED, PICTURES_READY, PICTURES_FAILED = "", "queued", "ready", "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    number = models.PositiveIntegerField(unique=True, help_text="1, 2, 3, … in the order versions were made")
    label = models.CharField(max_length=100)
    directory = models.CharField(max_length=500, help_text="the model folder; relative paths are under BASE_DIR")
    # With object storage the folder lives on one host only; the others fetch this (gallery.model_store).
    artefact_sha256 = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the version's packed folder in the media storage"
    )
    state = models.CharField(max_length=10, choices=STATE_CHOICES, default=QUEUED)
    failure_reason = models.TextField(blank=True)
    is_active = models.BooleanField(default=False)
    previous = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="the version that was active before this one was activated (rollback)",
    )

    family = models.CharField(max_length=20, blank=True)
    parameter_count = models.PositiveBigIntegerField(null=True, blank=True)
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True, help_text="model.keras on disk")
    training_parameters = models.JSONField(default=dict, blank=True)
    train_log = models.JSONField(default=list, blank=True, help_text="per epoch: loss, val_loss, seconds")
    # The dashboard reads only the summaries (a few kilobytes); the per-image rows, which only the
    # leaderboards need, stay in the evaluations, which list queries defer (LIGHT).  Landscape is the
    # headline the mission names; the everyday-photos test split has its own pair.
    summary = models.JSONField(
        default=dict,
        blank=True,
        help_text="landscape test split: means of model and grey, histogram, share beating grey",
    )
    evaluation = models.JSONField(default=dict, blank=True, help_text="the full landscape report of ml.evaluate")
    photos_summary = models.JSONField(
        default=dict,
        blank=True,
        help_text="everyday-photos test split: like summary, with each source set's figures",
    )
    photos_evaluation = models.JSONField(default=dict, blank=True, help_text="the full photos report of ml.evaluate")
    progress = models.JSONField(default=dict, blank=True)
    cancel_requested = models.BooleanField(default=False)
    pictures = models.JSONField(default=dict, blank=True, help_text="test photo -> its leaderboard picture in media")
    pictures_state = models.CharField(max_length=10, blank=True, default=PICTURES_NONE)
    pictures_requested = models.DateTimeField(null=True, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    heartbeat = models.DateTimeField(null=True, blank=True, help_text="the training task's last sign of life")
    activated = models.DateTimeField(null=True, blank=True)

    # Everything but the per-image rows: what pages listing versions load.
    LIGHT = ("evaluation", "photos_evaluation")
    # The test splits a version is scored on: collection -> (its report file, summary field, report field).
    # The file names are ml.evaluate.REPORT_NAMES (kept here so that the web process imports no engine).
    REPORTS = {
        "landscape": ("evaluation.json", "summary", "evaluation"),
        "photos": ("evaluation_photos.json", "photos_summary", "photos_evaluation"),
    }
    COLLECTIONS = tuple(REPORTS)

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
    def active(cls) -> ModelVersion | None:
        """The version in use: one narrow query, made by the worker before every photo."""
        return cls.objects.filter(is_active=True).only("id", "label", "directory", "family", "artefact_sha256").first()

    # -- registering a folder ----------------------------------------------------------------------------

    @classmethod
    def register_default(cls) -> ModelVersion | None:
        """Register COLORSITE_MODEL_DIR as a version (the first one, and active, on a new site).

        Called after every `migrate` (and after the test suite's flushes), so the shipped model
        needs no manual step.  While the folder has no model yet nothing is registered, and the
        worker colours with COLORSITE_MODEL_DIR directly; the next migrate (`make run` runs one)
        registers it — active only if no other version is, so it never takes over from a version
        an admin activated meanwhile.  A version registered before its evaluation report existed
        gets the report the next time round (each test split's on its own: the photos report of a
        shipped model may come later than the landscape one), and one whose report in the folder
        has changed since (the shipped model scored again, e.g. at another working size) gets the
        new one, so the dashboard compares new versions with what the active one does now.
        """
        folder = Path(settings.COLORSITE_MODEL_DIR)
        if not (folder / "model.json").is_file() or not (folder / "model.keras").is_file():
            return None
        existing = cls.objects.filter(directory=stored_directory(folder)).first()
        if existing is not None:
            if not existing.artefact_sha256 and model_store.publish(existing):  # object storage switched on since
                existing.save(update_fields=["artefact_sha256"])
            for file_name, summary_field, _ in cls.REPORTS.values():
                if (folder / file_name).is_file():
                    report = json.loads((folder / file_name).read_text())
                    if getattr(existing, summary_field) != report_summary(report):
                        existing.store_report(report)
            return existing
        return cls.register_folder(folder, label=folder.name, activate=not cls.objects.filter(is_active=True).exists())

    @classmethod
    def register_folder(cls, folder: Path, *, label: str, activate: bool = False, created_by=None) -> ModelVersion:
        """A ready version for a model folder written by `python -m ml train` (and `evaluate`)."""
        version = cls(
            label=label[:100],
            directory=stored_directory(folder),
            state=cls.READY,
            created_by=created_by,
            finished=timezone.now(),
        )
        version.read_folder()
        model_store.publish(version)  # with object storage: the other hosts fetch it from there
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
            self.train_log = finite(json.loads((folder / "train_log.json").read_text()))
        for file_name, _, _ in self.REPORTS.values():
            if (folder / file_name).is_file():
                self.set_report(json.loads((folder / file_name).read_text()))

    @classmethod
    def next_number(cls) -> int:
        return (cls.objects.aggregate(n=models.Max("number"))["n"] or 0) + 1

    # -- the evaluation report ------------------------------------------------------------------------

    HISTOGRAM_BINS = 20

    def store_report(self, report: dict) -> None:
        _, summary_field, report_field = self.REPORTS[report_collection(report)]
        self.set_report(report)
        self.save(update_fields=[report_field, summary_field])

    def set_report(self, report: dict) -> None:
        """Keep one test split's full report (for the leaderboards) and its small summary (not saved here).

        The report's ``collection`` says which split it scored ("landscape" when missing: the
        first engine's reports had only that one).  The summary (:func:`report_summary`) counts the
        RMSE histogram once, so the dashboard draws it from a few numbers; the share of photos beating grey and the
        per-source-set breakdown are kept when the report has them (older reports do not).
        """
        _, summary_field, report_field = self.REPORTS[report_collection(report)]
        setattr(self, report_field, finite(report))
        setattr(self, summary_field, report_summary(report))

    def summary_of(self, collection: str) -> dict:
        """The stored summary of one test split ({} before it was evaluated)."""
        return getattr(self, self.REPORTS[collection][1])

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
    def rollback(cls) -> ModelVersion | None:
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

    def _switch(self, current: ModelVersion | None, *, remember: bool) -> None:
        if current is not None:
            ModelVersion.objects.filter(pk=current.pk).update(is_active=False)
        self.is_active, self.activated = True, timezone.now()
        fields = {"is_active": True, "activated": self.activated}
        if remember:
            self.previous_id = fields["previous_id"] = current.pk if current else None
        ModelVersion.objects.filter(pk=self.pk).update(**fields)

    # -- leaderboards ---------------------------------------------------------------------------------

    def ranked(self, metric: str, n: int, collection: str = "landscape") -> tuple[list[dict], list[dict]]:
        """(best n, worst n) photos of one test split by a metric, read from the stored per-image rows."""
        from ml.leaderboard import rank

        return rank(getattr(self, self.REPORTS[collection][2]).get("rows", []), metric, n)

    def request_pictures(self) -> bool:
        """Queue the drawing of this version's leaderboard pictures, once (again if a request went stale)."""
        stale = timezone.now() - timedelta(minutes=10)
        with transaction.atomic():
            updated = ModelVersion.objects.filter(
                Q(pictures_state=self.PICTURES_NONE)
                | Q(pictures_state=self.PICTURES_QUEUED, pictures_requested__lt=stale),
                pk=self.pk,
                state=self.READY,
            ).update(pictures_state=self.PICTURES_QUEUED, pictures_requested=timezone.now())
            if updated:
                enqueue.leaderboard_pictures(self)
        return bool(updated)

    def render_pictures(self, colorizer) -> None:
        """Draw grey | prediction | target for every test photo any leaderboard can show, and store them.

        That is the best and worst COLORSITE_LEADERBOARD_SIZE by each metric on each test split,
        so switching the metric, N or the split on the page never needs a new picture.  The two
        splits' file names never meet (the photos' carry their source set's prefix), so one
        mapping file -> picture serves both.
        """
        from ml.leaderboard import RANKINGS, render_triptychs

        n = settings.COLORSITE_LEADERBOARD_SIZE
        folders = {"landscape": None, "photos": settings.COLORSITE_PHOTOS_DATASET}
        pictures = {}
        with tempfile.TemporaryDirectory() as tmp:
            for collection in self.COLLECTIONS:
                files = sorted(
                    {row["file"] for metric in RANKINGS for rows in self.ranked(metric, n, collection) for row in rows}
                )
                if not files:
                    continue
                folder = folders[collection]
                written = render_triptychs(
                    model_store.local_folder(self),
                    files,
                    Path(tmp) / collection,
                    data=str(folder) if folder else None,
                    colorizer=colorizer,
                    collection=collection,
                )
                for name, path in written.items():
                    pictures[name] = default_storage.save(
                        f"leaderboards/{self.pk}/{PurePath(name).stem}-{secrets.token_hex(4)}.jpg",
                        ContentFile(Path(path).read_bytes()),
                    )
        old = list(self.pictures.values())
        self.pictures, self.pictures_state = pictures, self.PICTURES_READY
        self.save(update_fields=["pictures", "pictures_state"])
        delete_files(name for name in old if name not in pictures.values())

    def picture_name(self, stem: str) -> str | None:
        for file, name in self.pictures.items():
            if PurePath(file).stem == stem:
                return name
        return None


def report_collection(report: dict) -> str:
    """The test split an ml.evaluate report scored; reports of the first engine (no field) are landscape's."""
    collection = report.get("collection") or "landscape"
    if collection not in ModelVersion.REPORTS:
        raise ValueError(f"a report of an unknown collection {collection!r}")
    return collection


def report_summary(report: dict) -> dict:
    """The small, JSON-safe summary of an ml.evaluate report that a version keeps beside it."""
    rows = report.get("rows", [])
    model = np.array([r["model"]["rmse_ab"] for r in rows], np.float64)
    grey = np.array([r["grey"]["rmse_ab"] for r in rows], np.float64)
    top = float(max(model.max(initial=0), grey.max(initial=0))) or 1.0
    edges = np.linspace(0.0, top, ModelVersion.HISTOGRAM_BINS + 1)
    summary = {
        "collection": report_collection(report),
        "model": report["summary"]["model"],
        "grey": report["summary"]["grey"],
        "images": report.get("images", len(rows)),
        "working_size": report.get("working_size"),
        "decoding": report.get("decoding"),
        "histogram": {
            "edges": edges.tolist(),
            "model": np.histogram(model, edges)[0].tolist(),
            "grey": np.histogram(grey, edges)[0].tolist(),
        },
    }
    for key in ("beats_grey", "by_source"):
        if key in report:
            summary[key] = report[key]
    return finite(summary)


def stored_directory(folder: Path) -> str:
    """A model folder as stored: relative to BASE_DIR when inside it (the checkout may move), else absolute."""
    folder = Path(folder).resolve()
    try:
        return str(folder.relative_to(Path(settings.BASE_DIR).resolve()))
    except ValueError:
        return str(folder)


def finite(value):
    """JSON-safe copy: NaN and infinities become None (PostgreSQL's jsonb refuses them)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    if isinstance(value, np.generic):
        return finite(value.item())
    return value
