"""The colouring task: claims once, a second run does nothing, deleted photos are skipped, broken files fail."""

from datetime import timedelta

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image

from gallery import failures, recovery, tasks
from gallery.models import Photo
from gallery.tasks import colorize_photo
from ml import color
from tests.site_fixtures import make_photo

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


@pytest.fixture
def photo(users):
    return Photo.create_from_upload(users.owner, "grey.png", Image.fromarray(make_photo(100, 60)), "PNG", 100)


def test_the_task_colours_a_queued_photo(photo, fake_colorizer, media_root):
    colorize_photo(str(photo.pk))
    photo.refresh_from_db()
    assert photo.status == Photo.DONE
    assert photo.runs == 1
    assert photo.failure_reason == ""
    assert photo.model_name.endswith("(fake)")
    assert photo.finished >= photo.started
    result = np.asarray(Image.open(media_root / photo.result.name))
    original = np.asarray(Image.open(media_root / photo.original.name))
    assert result.shape == original.shape == (60, 100, 3)
    assert np.abs(color.fast_rgb_to_l(result) - color.fast_rgb_to_l(original)).max() < 1.0
    for field in ("result_thumb", "result_preview"):
        assert (media_root / getattr(photo, field).name).is_file()


def test_a_photo_is_claimed_once(photo):
    first = Photo.claim(photo.pk, worker="a")
    second = Photo.claim(photo.pk, worker="b")
    assert first is not None
    assert first.status == Photo.RUNNING
    assert first.worker == "a"
    assert second is None


def test_a_second_run_does_nothing(photo, fake_colorizer):
    colorize_photo(str(photo.pk))
    photo.refresh_from_db()
    result = photo.result.name
    colorize_photo(str(photo.pk))
    photo.refresh_from_db()
    assert len(fake_colorizer.calls) == 1
    assert photo.runs == 1
    assert photo.result.name == result


def test_a_run_while_another_holds_the_photo_does_nothing(photo, fake_colorizer):
    Photo.claim(photo.pk, worker="elsewhere")
    colorize_photo(str(photo.pk))
    photo.refresh_from_db()
    assert not fake_colorizer.calls
    assert photo.status == Photo.RUNNING
    assert photo.worker == "elsewhere"


def test_a_photo_abandoned_by_a_dead_worker_can_be_claimed_again(photo, settings):
    Photo.claim(photo.pk, worker="died")
    long_ago = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    Photo.objects.filter(pk=photo.pk).update(started=long_ago)
    again = Photo.claim(photo.pk, worker="alive")
    assert again is not None
    assert again.worker == "alive"
    assert again.runs == 2


def test_photos_abandoned_by_a_dead_worker_are_requeued_once(
    photo, users, settings, django_capture_on_commit_callbacks
):
    recent = Photo.create_from_upload(users.owner, "busy.png", Image.fromarray(make_photo(16, 16)), "PNG", 1)
    Photo.claim(photo.pk, worker="died")
    Photo.claim(recent.pk, worker="busy")  # still within its time limit: left alone
    long_ago = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    Photo.objects.filter(pk=photo.pk).update(started=long_ago)
    with django_capture_on_commit_callbacks() as callbacks:
        assert recovery.requeue_abandoned() == 1
        assert recovery.requeue_abandoned() == 0
    assert len(callbacks) == 1
    assert Photo.objects.get(pk=photo.pk).status == Photo.QUEUED
    assert Photo.objects.get(pk=recent.pk).status == Photo.RUNNING


def test_a_deleted_photo_is_skipped_quietly(photo, fake_colorizer):
    photo_id = str(photo.pk)
    photo.delete()
    assert colorize_photo(photo_id) is None
    assert not fake_colorizer.calls


def test_a_photo_deleted_while_being_coloured_leaves_no_files(photo, fake_colorizer, media_root):
    claimed = Photo.claim(photo.pk)
    Photo.objects.filter(pk=photo.pk).delete()
    claimed.colorize(fake_colorizer)
    assert not list((media_root / "photos" / str(photo.pk)).glob("result*"))


def test_a_broken_file_ends_failed_with_its_reason(photo, fake_colorizer):
    default_storage.delete(photo.original.name)
    default_storage.save(photo.original.name, ContentFile(b"\x89PNG\r\n\x1a\n this is not the rest of a png"))
    colorize_photo(str(photo.pk))
    photo.refresh_from_db()
    assert photo.status == Photo.FAILED
    assert photo.failure_reason == failures.ORIGINAL_UNREADABLE.reason
    assert not fake_colorizer.calls


def test_a_missing_file_ends_failed_with_its_reason(photo, fake_colorizer):
    default_storage.delete(photo.original.name)
    colorize_photo(str(photo.pk))
    photo.refresh_from_db()
    assert photo.status == Photo.FAILED
    assert photo.failure_reason == failures.ORIGINAL_MISSING.reason


def test_a_missing_model_ends_failed_with_its_reason(photo, settings, tmp_path):
    from gallery.models import ModelVersion

    # The worker colours with the active version (else COLORSITE_MODEL_DIR): both point nowhere.
    ModelVersion.objects.update(directory=str(tmp_path / "no-model"))
    settings.COLORSITE_MODEL_DIR = tmp_path / "no-model"
    tasks.get_colorizer.cache_clear()
    try:
        colorize_photo(str(photo.pk))
    finally:
        tasks.get_colorizer.cache_clear()
    photo.refresh_from_db()
    assert photo.status == Photo.FAILED
    assert photo.failure_reason == failures.MODEL_UNAVAILABLE.reason


def test_running_out_of_time_ends_failed(photo, monkeypatch, settings):
    from celery.exceptions import SoftTimeLimitExceeded

    def too_slow(model_dir):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(tasks, "get_colorizer", too_slow)
    colorize_photo(str(photo.pk))
    photo.refresh_from_db()
    assert photo.status == Photo.FAILED
    assert photo.failure_reason == failures.TIMED_OUT.reason


def test_a_storage_error_gives_the_photo_back_and_retries(photo, fake_colorizer, monkeypatch):
    from celery.exceptions import Retry

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Photo, "_store", full_disk)
    with pytest.raises(Retry):
        colorize_photo.apply(args=[str(photo.pk)], throw=True)
    photo.refresh_from_db()
    assert photo.status == Photo.QUEUED  # claimable again by the retry


def test_the_model_is_loaded_once_per_process(monkeypatch):
    import ml.inference

    loads = []

    class Counting:
        def __init__(self, model_dir):
            loads.append(model_dir)

    monkeypatch.setattr(ml.inference, "Colorizer", Counting)
    tasks.get_colorizer.cache_clear()
    try:
        first, second = tasks.get_colorizer("/m"), tasks.get_colorizer("/m")
    finally:
        tasks.get_colorizer.cache_clear()
    assert first is second
    assert loads == ["/m"]


def test_importing_the_task_module_does_not_import_keras():
    """The worker's parent process imports the tasks before forking: Keras must not come with them."""
    import subprocess
    import sys

    from django.conf import settings

    code = (
        "import django, sys; django.setup(); import gallery.tasks; "
        "print('keras' in sys.modules, 'tensorflow' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "tests.site_settings"},
    )
    assert out.stdout.strip() == "False False", out.stderr


@pytest.mark.parametrize("width, height", [(1, 1), (6, 6), (6, 400), (400, 6)])
def test_a_tiny_colour_photo_is_coloured_and_scored(width, height, owner_client, fake_colorizer):
    """Issue 10, defect 2: these were accepted, then failed in the worker with scikit-image's "win_size
    exceeds image extent" (the SSIM of the colour-upload score needs 7 pixels on a side)."""
    from django.urls import reverse

    from tests.site_fixtures import encode_image, upload_file

    data = encode_image(make_photo(width, height, colour=True))
    response = owner_client.post(reverse("api-photos"), {"file": upload_file("tiny.png", data)})
    assert response.status_code == 201
    photo = Photo.objects.get(pk=response.json()["photos"][0]["id"])
    assert photo.has_colour  # the path that scores against the photo's own colours
    colorize_photo(str(photo.pk))
    photo.refresh_from_db()
    assert photo.status == Photo.DONE, photo.failure_reason
    assert (photo.width, photo.height) == (width, height)
    for score in (photo.rmse_ab, photo.psnr, photo.colourfulness, photo.colourfulness_true):
        assert score is not None
        assert np.isfinite(score)
