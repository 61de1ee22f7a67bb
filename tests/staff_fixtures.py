"""Fixtures for the staff pages' tests (tests/test_staff_*.py), loaded by tests/conftest.py.

* ``role_clients``: one client per role: anonymous, an ordinary user, a staff member, an admin.
* ``make_version``: a ready ModelVersion with a made-up evaluation report over real test-photo names.
* ``training_worker``: a real Celery worker on this run's training queue, beside ``real_workers``
  (same test database, media and Redis), with a tiny evaluation (8 test photos).
* ``real_training``: points this process's settings where the training worker writes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.site_fixtures import Workers, wait_for

ROLES = ("anonymous", "user", "staff", "admin")
EVAL_EXAMPLES = 8  # test photos a version trained in the tests is evaluated on
LEADERBOARD_SIZE = 3
# The tiniest run that still trains, calibrates and evaluates (both test splits): a full run of the small
# scratch network on landscape only (mix 1), ~30 s on a 2-core CPU.
TINY_RUN = {
    "kind": "full",
    "family": "classification",
    "arch": "scratch",
    "epochs": 1,
    "frozen_epochs": 0,
    "learning_rate": 0.002,
    "crop": 64,
    "mix": 1.0,
    "filters": 4,
    "depth": 1,
    "batch_size": 8,
    "max_examples": 16,
}


@pytest.fixture
def role_clients(users):
    """{role: Client}; "admin" is the superuser, who has gallery.manage_models like every permission."""
    from django.test import Client

    clients = {}
    for role, user in zip(ROLES, (None, users.other, users.staff, users.superuser)):
        clients[role] = Client()
        if user is not None:
            clients[role].force_login(user)
    return clients


@pytest.fixture
def model_manager(django_user_model):
    """A staff member who is not a superuser but holds the dedicated permission."""
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("dora", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="manage_models", content_type__app_label="gallery"))
    return user


def test_photo_names(n: int, collection: str = "landscape") -> list[str]:
    """File names of real test photos: landscape's first n; photos' spread over the split, so over its source sets."""
    from ml.data import dataset_root

    names = json.loads((dataset_root(None, collection) / "splits.json").read_text())["test"]
    if collection == "photos":
        names = names[:: max(1, len(names) // n)]
    return [Path(name).name for name in names[:n]]


test_photo_names.__test__ = False  # a helper, not a test


def fake_report(n: int = 12, seed: int = 0, collection: str | None = None) -> dict:
    """An evaluation report shaped like ml.evaluate's, with made-up scores for real test photos.

    ``collection`` None gives the first engine's shape (no collection, no share beating grey, no
    sources): the shipped model's report of today.  "landscape" or "photos" gives the new engine's.
    """
    from ml import metrics
    from ml.data import source_of
    from ml.evaluate import by_source, compare_with_grey

    rng = np.random.default_rng(seed)
    rows = []
    for name in test_photo_names(n, collection or "landscape"):
        truth = float(rng.uniform(10, 60))
        model = {
            "rmse_ab": float(rng.uniform(5, 30)),
            "psnr": float(rng.uniform(18, 32)),
            "ssim": float(rng.uniform(0.8, 0.99)),
            "auc": float(rng.uniform(0.8, 0.95)),
            "colourfulness": float(rng.uniform(5, 60)),
            "colourfulness_true": truth,
        }
        grey = {
            "rmse_ab": model["rmse_ab"] + float(rng.uniform(0, 5)),
            "psnr": model["psnr"] + float(rng.uniform(-2, 1)),  # the model loses to grey on some photos
            "ssim": model["ssim"],
            "auc": model["auc"] - 0.01,
            "colourfulness": 0.1,
            "colourfulness_true": truth,
        }
        rows.append({"file": name, "model": model, "grey": grey})
    report = {
        "model_dir": "made-up",
        "model": {"family": "classification"},
        "temperature": 0.38,
        "split": "test",
        "images": n,
        "working_size": 256,
        "rows": rows,
        "summary": {
            "model": metrics.summarise([r["model"] for r in rows]),
            "grey": metrics.summarise([r["grey"] for r in rows]),
        },
    }
    if collection is not None:
        for row in rows:
            row["source"] = source_of(row["file"])
        report.update(collection=collection, **compare_with_grey(rows), by_source=by_source(rows))
    return report


FAKE_LOG = [
    {"epoch": 1, "loss": 3.2, "val_loss": 3.6, "seconds": 10.0},
    {"epoch": 2, "loss": 2.7, "val_loss": 3.1, "seconds": 9.5},
    {"epoch": 3, "loss": 2.5, "val_loss": 3.0, "seconds": 9.6},
]


@pytest.fixture
def make_version(db):
    """make_version(label, active=False, report=None, photos_report=None, **fields) -> a ready version.

    Starts from no versions; ``report`` is the landscape report (a made-up one by default),
    ``photos_report`` the everyday photos' (none by default, like the shipped model of today).
    Whatever the migrate registered (the shipped model) is removed first, so each test knows
    exactly which versions exist.
    """
    from gallery.models import ModelVersion

    ModelVersion.objects.all().delete()

    def make(
        label: str = "v",
        *,
        active: bool = False,
        report: dict | None = None,
        photos_report: dict | None = None,
        **fields,
    ) -> ModelVersion:
        fields = {
            "state": ModelVersion.READY,
            "family": "classification",
            "train_log": FAKE_LOG,
            "parameter_count": 1234,
            "directory": f"/nowhere/{label}",
            **fields,
        }
        version = ModelVersion(label=label, **fields)
        if version.state == ModelVersion.READY:
            version.set_report(report or fake_report())
            if photos_report:
                version.set_report(photos_report)
        version.number = ModelVersion.next_number()
        version.save()
        if active:
            assert version.activate()
        return version

    return make


# -- a real training worker ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def training_worker(real_workers, tmp_path_factory):
    """A real worker process reading only this run's training queue, sharing the colour workers' world."""
    from django.conf import settings

    models_root = tmp_path_factory.mktemp("trained-models")
    env = dict(
        real_workers.env,
        COLORSITE_MODELS_ROOT=str(models_root),
        COLORSITE_EVAL_EXAMPLES=str(EVAL_EXAMPLES),
        COLORSITE_LEADERBOARD_SIZE=str(LEADERBOARD_SIZE),
        COLORSITE_TRAINING_CACHE_DIR="",
    )
    workers = Workers(env, tmp_path_factory.mktemp("training-worker-logs"))
    workers.models_root, workers.media = models_root, real_workers.media
    workers.start("trainer", queues=settings.COLORSITE_TRAINING_QUEUE)
    try:
        workers.wait_ready()
        yield workers
    finally:
        workers.stop()


@pytest.fixture
def real_training(training_worker, real_media, settings):
    """This process (the web side) agrees with the training worker on where models and pictures go."""
    settings.COLORSITE_MODELS_ROOT = training_worker.models_root
    settings.COLORSITE_EVAL_EXAMPLES = EVAL_EXAMPLES
    settings.COLORSITE_LEADERBOARD_SIZE = LEADERBOARD_SIZE
    return training_worker


def wait_until_final(version, timeout: float = 400):
    """Wait for a training run to end (ready, failed or cancelled) and return it fresh."""
    from gallery.models import ModelVersion

    wait_for(
        lambda: ModelVersion.objects.filter(pk=version.pk).exclude(state__in=ModelVersion.IN_PROGRESS).exists(),
        timeout=timeout,
        interval=0.5,
        message=f"training run {version.label} to end",
    )
    return ModelVersion.objects.get(pk=version.pk)


def model_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []
