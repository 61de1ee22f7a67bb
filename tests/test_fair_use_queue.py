"""Fair sharing (gallery.fair_queue): a cap on each person's photos in flight, the rest waiting and released in order.

Which photos are sent is recorded where gallery.enqueue would send them; the real two-worker
proof that another person's photo is not starved is tests/test_fair_use_real.py.
"""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from gallery import enqueue, fair_queue, recovery
from gallery.models import Photo
from tests.site_fixtures import make_photo

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


@pytest.fixture
def sent(monkeypatch, settings):
    """The ids of photos sent to the workers, in order; each person may have 2 in flight."""
    settings.COLORSITE_IN_FLIGHT_PER_PERSON = 2
    ids: list = []
    monkeypatch.setattr(enqueue, "colouring", lambda photo: ids.append(photo.pk))
    monkeypatch.setattr(enqueue, "resend_colouring", lambda pk: None)
    return ids


def upload(user, n: int = 1) -> list[Photo]:
    return [
        Photo.create_from_upload(user, f"{i}.png", Image.fromarray(make_photo(40, 30, seed=i)), "PNG", 1)
        for i in range(n)
    ]


def statuses(photos) -> list[str]:
    return [Photo.objects.get(pk=p.pk).status for p in photos]


def test_a_person_has_at_most_the_cap_in_flight_and_the_rest_wait(users, sent):
    photos = upload(users.owner, 5)
    assert statuses(photos) == ["queued", "queued", "waiting", "waiting", "waiting"]
    assert sent == [photos[0].pk, photos[1].pk]
    assert photos[2].status == Photo.WAITING  # the instance the upload request answers with says so too


def test_another_person_is_sent_at_once_whatever_the_first_has_waiting(users, sent):
    upload(users.owner, 5)
    (theirs,) = upload(users.other)
    assert theirs.status == Photo.QUEUED
    assert sent[-1] == theirs.pk


def test_a_finished_photo_releases_its_owners_oldest_waiting_one(users, sent):
    photos = upload(users.owner, 5)
    Photo.objects.filter(pk=photos[0].pk).update(status=Photo.DONE)
    assert fair_queue.release(users.owner.pk) == 1
    assert statuses(photos) == ["done", "queued", "queued", "waiting", "waiting"]
    assert sent[-1] == photos[2].pk


def test_releasing_twice_sends_once(users, sent):
    photos = upload(users.owner, 4)
    Photo.objects.filter(pk=photos[0].pk).update(status=Photo.FAILED)
    fair_queue.release(users.owner.pk)
    fair_queue.release(users.owner.pk)
    assert sent == [photos[0].pk, photos[1].pk, photos[2].pk]
    assert statuses(photos)[3] == Photo.WAITING


def test_the_worker_releases_the_next_when_a_photo_ends(users, sent, fake_colorizer):
    from gallery.tasks import colorize_photo

    photos = upload(users.owner, 3)
    colorize_photo(str(photos[0].pk))
    assert statuses(photos) == ["done", "queued", "queued"]
    assert sent[-1] == photos[2].pk


def test_the_sweep_releases_what_a_deletion_left_waiting(users, sent):
    photos = upload(users.owner, 3)
    Photo.objects.filter(pk=photos[0].pk).delete()  # not through the page: nobody released anything
    assert statuses(photos[1:]) == ["queued", "waiting"]
    recovery.sweep()
    assert statuses(photos[1:]) == ["queued", "queued"]
    recovery.sweep()
    assert sent.count(photos[2].pk) == 1


def test_waiting_photos_are_released_in_the_order_they_began_to_wait(users, sent):
    photos = upload(users.owner, 4)
    Photo.objects.filter(pk=photos[3].pk).update(waiting_since=timezone.now() - timedelta(hours=1))
    Photo.objects.filter(pk=photos[0].pk).update(status=Photo.DONE)
    fair_queue.release(users.owner.pk)
    assert statuses(photos)[2:] == ["waiting", "queued"]


def test_a_re_colour_waits_behind_the_owners_photos_in_flight(users, sent):
    photos = upload(users.owner, 3)
    Photo.objects.filter(pk=photos[2].pk).update(status=Photo.DONE, waiting_since=None)
    photos[2].refresh_from_db()
    assert photos[2].recolour(512)
    assert statuses(photos)[2] == Photo.WAITING


def test_a_waiting_photo_is_never_claimed_by_a_stray_message(users, sent):
    photos = upload(users.owner, 3)
    assert Photo.claim(photos[2].pk) is None


def test_the_page_and_the_api_say_what_a_waiting_photo_waits_for(owner_client, users, sent):
    photos = upload(users.owner, 3)
    body = owner_client.get(reverse("api-photo", args=[photos[2].pk])).json()
    assert body["status"] == "waiting"
    assert body["status_label"] == "waiting for your earlier photos"
    page = owner_client.get(reverse("gallery-photo", args=[photos[2].pk])).content.decode()
    assert "waiting for your earlier photos" in page


def test_no_cap_sends_everything(users, sent, settings):
    settings.COLORSITE_IN_FLIGHT_PER_PERSON = 0
    photos = upload(users.owner, 4)
    assert statuses(photos) == ["queued"] * 4


def due_for_an_automatic_retry(photo: Photo) -> None:
    """Fail the photo for a transient cause whose wait is over (gallery.auto_retry)."""
    Photo.objects.filter(pk=photo.pk).update(
        status=Photo.FAILED,
        waiting_since=None,
        failure_transient=True,
        retry_after=timezone.now() - timedelta(seconds=1),
    )


def test_an_automatic_retry_with_room_in_flight_is_sent_at_once(users, sent):
    (photo,) = upload(users.owner)
    due_for_an_automatic_retry(photo)
    assert recovery.retry_transient_failures() == 1
    assert statuses([photo]) == [Photo.QUEUED]
    assert sent == [photo.pk, photo.pk]


def test_an_automatic_retry_of_a_person_at_their_cap_waits_its_turn(users, sent):
    photos = upload(users.owner, 3)
    due_for_an_automatic_retry(photos[2])
    assert recovery.retry_transient_failures() == 1
    assert statuses(photos) == ["queued", "queued", "waiting"]  # not sent past the cap
    assert sent == [photos[0].pk, photos[1].pk]
    Photo.objects.filter(pk=photos[0].pk).update(status=Photo.DONE)
    recovery.sweep()
    assert statuses(photos)[2] == Photo.QUEUED
    assert sent[-1] == photos[2].pk
