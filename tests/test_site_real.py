"""All real: a real Redis, real Celery worker processes, the shipped model, a real photo.

Nothing here is mocked.  The workers (tests/site_fixtures.py: real_workers) share
this session's test database and a media folder; the tests wait on the Photo
row, the way the pages do.
"""

from pathlib import Path

import numpy as np
import pytest
from django.urls import reverse
from PIL import Image

from gallery.models import Photo
from gallery.tasks import colorize_photo
from ml import color
from tests.site_fixtures import encode_image, make_photo, upload_file, wait_for

pytestmark = [pytest.mark.real, pytest.mark.django_db(transaction=True)]

DATASET = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "landscape" / "color"


def real_grey_photo(index: int = 0, longest_side: int = 640) -> np.ndarray:
    """A real photograph from the shared data set (read-only), in grey; a generated one if it is absent."""
    path = DATASET / f"{index:04d}.jpg"
    if not path.exists():
        return make_photo(longest_side, longest_side * 3 // 4, seed=index)
    with Image.open(path) as image:
        image = image.convert("RGB")
        image.thumbnail((longest_side, longest_side))
        return np.repeat(np.asarray(image.convert("L"))[..., None], 3, axis=-1)


def chroma(rgb: np.ndarray) -> np.ndarray:
    lab = color.rgb_to_lab(rgb)
    return np.hypot(lab[..., 1], lab[..., 2])


def test_a_photo_uploaded_through_the_site_comes_back_coloured(real_workers, real_media, client, django_user_model):
    user = django_user_model.objects.create_user("eve", password="x")
    client.force_login(user)
    grey = real_grey_photo(0)
    response = client.post(reverse("gallery-upload"), {"file": upload_file("old.png", encode_image(grey))})
    assert response.status_code == 302
    photo = Photo.objects.get(owner=user)

    wait_for(lambda: Photo.objects.get(pk=photo.pk).is_final, timeout=300, message="the photo to be coloured")
    photo.refresh_from_db()
    assert photo.status == Photo.DONE, photo.failure_reason
    assert photo.runs == 1
    assert photo.model_name
    assert photo.worker.split("@")[0] in ("w1", "w2")

    with Image.open(real_media / photo.result.name) as image:
        assert image.mode == "RGB"
        assert image.size == (grey.shape[1], grey.shape[0])
        result = np.asarray(image)
    # The result keeps the upload's lightness and adds colour.
    l_diff = np.abs(color.fast_rgb_to_l(result) - color.fast_rgb_to_l(grey))
    assert l_diff.mean() < 0.5
    assert l_diff.max() < 3.0
    assert chroma(grey).mean() < 0.5
    assert chroma(result).mean() > 2.0

    # The page and the API see it done, and the full-resolution download is the stored result.
    assert client.get(reverse("api-photo", args=[photo.pk])).json()["status"] == "done"
    download = client.get(reverse("api-photo-download", args=[photo.pk, "result"]))
    assert b"".join(download.streaming_content) == (real_media / photo.result.name).read_bytes()


def test_a_colour_photo_is_coloured_from_grey_and_scored(real_workers, real_media, users):
    with (
        Image.open(DATASET / "0001.jpg")
        if (DATASET / "0001.jpg").exists()
        else Image.fromarray(make_photo(320, 240, colour=True)) as image
    ):
        image = image.convert("RGB")
        image.thumbnail((480, 480))
        photo = Photo.create_from_upload(users.owner, "colour.jpg", image.copy(), "JPEG", 1)
    assert photo.has_colour
    wait_for(lambda: Photo.objects.get(pk=photo.pk).is_final, timeout=300, message="the photo to be coloured")
    photo.refresh_from_db()
    assert photo.status == Photo.DONE, photo.failure_reason
    assert 10 < photo.psnr < 60
    assert photo.colourfulness > 0
    assert photo.colourfulness_true > 0


def test_two_workers_colour_each_photo_exactly_once(real_workers, real_media, users):
    """Scale-out: two worker processes on one Redis; every task is sent twice, every photo is coloured once."""
    photos = [
        Photo.create_from_upload(users.owner, f"p{i}.png", Image.fromarray(real_grey_photo(10 + i, 256)), "PNG", 1)
        for i in range(8)
    ]  # each enqueued once, on commit
    for photo in photos:
        colorize_photo.delay(str(photo.pk))  # and once more: a duplicate delivery
    ids = [p.pk for p in photos]
    wait_for(
        lambda: Photo.objects.filter(pk__in=ids, status__in=Photo.FINAL).count() == len(ids),
        timeout=300,
        message="all photos to be coloured",
    )
    done = list(Photo.objects.filter(pk__in=ids))
    assert all(p.status == Photo.DONE for p in done), [p.failure_reason for p in done]
    assert [p.runs for p in done] == [1] * len(ids)
    for p in done:
        assert len(list((real_media / "photos" / str(p.pk)).glob("result-[0-9a-f]*.png"))) == 1
    assert {p.worker.split("@")[0] for p in done} == {"w1", "w2"}  # both workers took part
    for name in ("w1", "w2"):
        assert "Traceback" not in real_workers.log(name)
