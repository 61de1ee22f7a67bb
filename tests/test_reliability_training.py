"""Fault 5 with real processes: a training run crashes midway (its process is SIGKILLed while it trains).

The run ends FAILED with the reason and leaves nothing to load, the active version and its files
are untouched, photos keep being coloured meanwhile, and the same training worker takes the next
run and brings it to READY.  The workers are the staff tests' (tests/staff_fixtures.py): the
session's colour workers and a training worker on this run's training queue.
"""

import os
import shutil
import signal

import psutil
import pytest
from django.urls import reverse
from PIL import Image

from gallery import failures
from gallery.models import ModelVersion, Photo
from tests.site_fixtures import make_photo, wait_for
from tests.staff_fixtures import TINY_RUN, wait_until_final

pytestmark = [pytest.mark.real, pytest.mark.django_db(transaction=True)]


def files_of(folder):
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()}


def start_run(client, **changes) -> ModelVersion:
    assert client.post(reverse("staff-train"), {**TINY_RUN, **changes}).status_code == 302
    return ModelVersion.objects.get(state__in=ModelVersion.IN_PROGRESS)


def test_a_crashed_training_run_fails_alone_and_the_worker_keeps_serving(
    real_training, real_workers, client, users, tmp_path
):
    client.force_login(users.superuser)
    # The active version is a copy of the shipped model that nothing but this test could touch.
    shutil.copytree(ModelVersion.active().path, tmp_path / "active")
    active = ModelVersion.register_folder(tmp_path / "active", label="active-copy", activate=True)
    active_files = files_of(active.path)
    trainer = psutil.Process(real_training.processes["trainer"].pid)

    version = start_run(client, epochs=200)
    wait_for(
        lambda: ModelVersion.objects.get(pk=version.pk).progress.get("stage") in ("batch", "epoch"),
        timeout=180,
        message="the run to be training",
    )
    (training_process,) = trainer.children()
    os.kill(training_process.pid, signal.SIGKILL)  # the crash: no exception handler, no clean-up of its own
    version = wait_until_final(version, timeout=120)
    assert version.state == ModelVersion.FAILED
    assert version.failure_reason == failures.TRAINING_PROCESS_LOST.reason
    # The worker's main process logs the lost child with a traceback; let that land in this test's share of
    # the session-wide log, not in the next test's.
    wait_for(
        lambda: "WorkerLostError" in real_training.log("trainer"), timeout=60, message="the lost child to be logged"
    )
    assert not version.path.exists()  # nothing half-trained is left to activate
    assert ModelVersion.active() == active
    assert files_of(active.path) == active_files
    client.post(reverse("staff-version-activate", args=[version.pk]))  # a failed run cannot be activated
    assert ModelVersion.active() == active

    # Colouring never stopped, with the active version.
    photo = Photo.create_from_upload(users.owner, "during.png", Image.fromarray(make_photo(160, 120)), "PNG", 1)
    wait_for(lambda: Photo.objects.get(pk=photo.pk).is_final, timeout=120, message="a photo to be coloured")
    photo.refresh_from_db()
    assert photo.status == Photo.DONE
    assert photo.model_version == active

    # The same training worker (not restarted) takes the next run and finishes it.
    after = wait_until_final(start_run(client), timeout=400)
    assert after.state == ModelVersion.READY, (after.failure_reason, real_training.log("trainer")[-2000:])
    assert trainer.is_running()
    assert real_training.processes["trainer"].poll() is None
    assert ModelVersion.active() == active
