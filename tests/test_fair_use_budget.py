"""The work budget (gallery.work_budget): each job charged megapixels × working-size factor, uploads and re-colours."""

import io
import struct
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from gallery import work_budget
from gallery.models import ApiToken, Photo, Usage
from gallery.tasks import colorize_photo
from tests.site_fixtures import upload_file

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


@pytest.fixture(autouse=True)
def no_sends(monkeypatch):
    monkeypatch.setattr(colorize_photo, "apply_async", lambda args, **options: None)


def work_used(user) -> int:
    return Usage.objects.get(user=user).work_used


def claims_7000_by_7000() -> bytes:
    """A 64×64 JPEG of a few hundred bytes whose header says 7000×7000: it decodes to 49 megapixels."""
    buffer = io.BytesIO()
    Image.new("L", (64, 64), 128).save(buffer, "JPEG", quality=50)
    data = bytearray(buffer.getvalue())
    frame = data.find(b"\xff\xc0")  # start of frame: length (2), precision (1), height (2), width (2)
    data[frame + 5 : frame + 9] = struct.pack(">HH", 7000, 7000)
    return bytes(data)


def test_a_job_costs_its_megapixels_times_the_working_size_factor():
    assert work_budget.cost(49_000_000) == 49
    assert work_budget.cost(1_000_000, 512) == 4
    assert work_budget.cost(49_000_000, 2048) == 49 * 64
    assert work_budget.cost(1_000_000, 128) == 1  # below the default size, the full-size work remains
    assert work_budget.cost(10) == 1  # every job costs something


def test_a_small_file_claiming_7000_by_7000_is_charged_its_declared_pixels(owner_client, users, settings):
    settings.COLORSITE_WORK_PER_HOUR = 60
    data = claims_7000_by_7000()
    assert len(data) < 3000
    response = owner_client.post(reverse("api-photos"), {"file": [upload_file("tiny.jpg", data)]})
    assert response.status_code == 201
    assert work_used(users.owner) == 49


def test_the_declared_pixels_are_charged_before_anything_is_decoded(owner_client, users, settings):
    """With too little budget left the file is refused for the budget, not decoded (so not called damaged)."""
    settings.COLORSITE_WORK_PER_HOUR = 60
    owner_client.post(reverse("api-photos"), {"file": [upload_file("first.jpg", claims_7000_by_7000())]})
    response = owner_client.post(reverse("api-photos"), {"file": [upload_file("second.jpg", claims_7000_by_7000())]})
    assert response.status_code == 429
    assert response.json()["error"] == (
        "colouring this photo (49.0 megapixels at working size 160) needs 49 units of work and you have "
        "11 of your 60 units for this hour left; try again in 60 minutes"
    )
    assert 3500 < int(response["Retry-After"]) <= 3600
    assert Photo.objects.filter(owner=users.owner).count() == 1
    assert work_used(users.owner) == 49


def test_the_upload_page_says_when_the_budget_ran_out(owner_client, settings):
    settings.COLORSITE_WORK_PER_HOUR = 60
    owner_client.post(reverse("gallery-upload"), {"file": [upload_file("a.jpg", claims_7000_by_7000())]})
    response = owner_client.post(
        reverse("gallery-upload"), {"file": [upload_file("b.jpg", claims_7000_by_7000())]}, follow=True
    )
    texts = [str(m) for m in response.context["messages"]]
    assert texts[-1] == (
        "b.jpg: colouring this photo (49.0 megapixels at working size 160) needs 49 units of work and you have "
        "11 of your 60 units for this hour left; try again in 60 minutes"
    )


def test_a_file_refused_for_what_it_is_gives_its_charge_back(owner_client, users, settings, image_bytes):
    settings.COLORSITE_WORK_PER_HOUR = 60
    header_only = image_bytes("PNG", 2000, 1000)[:200]  # a real header (2 MP), then nothing
    response = owner_client.post(reverse("api-photos"), {"file": [upload_file("cut.png", header_only)]})
    assert response.status_code == 400
    assert work_used(users.owner) == 0


@pytest.fixture
def done_photo(users, image_bytes):
    """A finished 1000×1000 photo of the owner's (no charge: made outside a request)."""
    photo = Photo.create_from_upload(
        users.owner, "p.png", Image.open(io.BytesIO(image_bytes("PNG", 1000, 1000))).convert("RGB"), "PNG", 1
    )
    Photo.objects.filter(pk=photo.pk).update(status=Photo.DONE)
    return photo


def recolour(client, photo, size):
    response = client.post(reverse("gallery-photo-recolour", args=[photo.pk]), {"working_size": size}, follow=True)
    return [str(m) for m in response.context["messages"]]


def test_re_colouring_is_charged_by_working_size(owner_client, users, settings, done_photo):
    settings.COLORSITE_WORK_PER_HOUR = 10
    assert recolour(owner_client, done_photo, 512) == ["Re-colouring at working size 512 with natural colour."]
    assert work_used(users.owner) == 4
    Photo.objects.filter(pk=done_photo.pk).update(status=Photo.DONE)
    assert recolour(owner_client, done_photo, 512) == ["Re-colouring at working size 512 with natural colour."]
    Photo.objects.filter(pk=done_photo.pk).update(status=Photo.DONE)
    assert recolour(owner_client, done_photo, 512) == [
        "Not re-coloured: colouring this photo (1.0 megapixels at working size 512) needs 4 units of work and "
        "you have 2 of your 10 units for this hour left; try again in 60 minutes."
    ]
    assert Photo.objects.get(pk=done_photo.pk).status == Photo.DONE
    assert work_used(users.owner) == 8


def test_a_job_larger_than_the_whole_budget_says_to_choose_a_smaller_size(owner_client, users, settings, done_photo):
    settings.COLORSITE_WORK_PER_HOUR = 10
    assert recolour(owner_client, done_photo, 1024) == [
        "Not re-coloured: colouring this photo (1.0 megapixels at working size 1024) needs 16 units of work, "
        "more than the 10 units one person may use in an hour; choose a smaller working size."
    ]
    assert work_used(users.owner) == 0


def test_a_re_colour_that_does_not_happen_is_not_charged(owner_client, users, settings, done_photo):
    settings.COLORSITE_WORK_PER_HOUR = 10
    Photo.objects.filter(pk=done_photo.pk).update(status=Photo.RUNNING)
    assert recolour(owner_client, done_photo, 512) == ["This photo is still being coloured; try again when it is done."]
    assert work_used(users.owner) == 0


def test_the_budget_is_whole_again_an_hour_after_the_window_began(owner_client, users, settings, done_photo):
    settings.COLORSITE_WORK_PER_HOUR = 10
    recolour(owner_client, done_photo, 512)
    Usage.objects.filter(user=users.owner).update(work_window=timezone.now() - timedelta(minutes=61), work_used=10)
    Photo.objects.filter(pk=done_photo.pk).update(status=Photo.DONE)
    assert recolour(owner_client, done_photo, 512) == ["Re-colouring at working size 512 with natural colour."]
    assert work_used(users.owner) == 4


def test_the_budget_is_per_person(users, settings, done_photo, image_bytes):
    settings.COLORSITE_WORK_PER_HOUR = 4
    assert work_budget.charge_recolour(done_photo, 512) is None
    script = Client(headers={"Authorization": f"Bearer {ApiToken.issue(users.other)}"})
    response = script.post(reverse("api-photos"), {"file": [upload_file("b.png", image_bytes())]})
    assert response.status_code == 201
    assert work_used(users.other) == 1


def test_zero_means_no_budget(owner_client, users, settings, done_photo):
    settings.COLORSITE_WORK_PER_HOUR = 0
    assert recolour(owner_client, done_photo, 2048) == ["Re-colouring at working size 2048 with natural colour."]
