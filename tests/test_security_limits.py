"""Per-person upload limits (gallery.limits): the hourly rate and the storage quota, each with a clear message."""

import re

import pytest
import redis
from django.test import Client
from django.urls import reverse

from gallery import broker
from gallery.forms import megabytes
from gallery.models import ApiToken, Photo
from tests.site_fixtures import upload_file

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


@pytest.fixture(autouse=True)
def no_sends(monkeypatch, settings):
    """Uploads here need no worker; each test starts and ends with no rate counters of this run in Redis
    (user ids repeat from test to test).  The suite runs without a limit otherwise (tests/site_settings.py)."""
    from gallery.tasks import colorize_photo

    monkeypatch.setattr(colorize_photo, "apply_async", lambda args, **options: None)
    client = broker._client(settings.REDIS_URL)
    for key in client.scan_iter(broker.key("uploads", "*")):
        client.delete(key)
    settings.COLORSITE_UPLOADS_PER_HOUR = 300
    yield
    for key in client.scan_iter(broker.key("uploads", "*")):
        client.delete(key)


def send(client, *names, data):
    return client.post(reverse("api-photos"), {"file": [upload_file(name, data) for name in names]})


def test_uploads_past_the_hourly_limit_are_refused_with_when_to_try_again(owner_client, users, settings, image_bytes):
    settings.COLORSITE_UPLOADS_PER_HOUR = 3
    data = image_bytes()
    response = send(owner_client, "1.png", "2.png", "3.png", "4.png", data=data)
    body = response.json()
    assert response.status_code == 201
    assert len(body["photos"]) == 3
    assert body["rejected"] == [
        {
            "name": "4.png",
            "error": "you have uploaded 3 photos in the last hour, the most allowed; try again in 60 minutes",
        }
    ]
    assert Photo.objects.filter(owner=users.owner).count() == 3


def test_a_script_past_the_limit_gets_429_with_retry_after(users, settings, image_bytes):
    settings.COLORSITE_UPLOADS_PER_HOUR = 1
    script = Client(headers={"Authorization": f"Bearer {ApiToken.issue(users.owner)}"})
    assert send(script, "1.png", data=image_bytes()).status_code == 201
    response = send(script, "2.png", data=image_bytes())
    assert response.status_code == 429
    assert 3500 < int(response["Retry-After"]) <= 3601
    assert response.json()["error"].startswith("you have uploaded 1 photos in the last hour")


def test_deleting_photos_does_not_make_room_in_the_hourly_limit(owner_client, users, settings, image_bytes):
    settings.COLORSITE_UPLOADS_PER_HOUR = 2
    send(owner_client, "1.png", "2.png", data=image_bytes())
    for photo in Photo.objects.filter(owner=users.owner):
        owner_client.post(reverse("gallery-photo-delete", args=[photo.pk]))
    assert send(owner_client, "3.png", data=image_bytes()).status_code == 429


def test_the_limit_is_per_person(owner_client, other_client, settings, image_bytes):
    settings.COLORSITE_UPLOADS_PER_HOUR = 1
    assert send(owner_client, "a.png", data=image_bytes()).status_code == 201
    assert send(other_client, "b.png", data=image_bytes()).status_code == 201


def test_files_refused_for_what_they_are_do_not_count(owner_client, settings, image_bytes):
    settings.COLORSITE_UPLOADS_PER_HOUR = 1
    assert send(owner_client, "junk.png", data=b"not an image").status_code == 400
    assert send(owner_client, "good.png", data=image_bytes()).status_code == 201


def test_with_redis_down_the_limit_counts_the_photos_of_the_last_hour(owner_client, settings, image_bytes, monkeypatch):
    settings.COLORSITE_UPLOADS_PER_HOUR = 2
    monkeypatch.setattr(broker, "client", lambda: Refusing())
    response = send(owner_client, "1.png", "2.png", "3.png", data=image_bytes())
    assert response.status_code == 201
    assert len(response.json()["photos"]) == 2
    assert response.json()["rejected"][0]["error"].startswith("you have uploaded 2 photos in the last hour")


class Refusing:
    """A Redis client whose server is down: every command fails at once, as a refused connection does."""

    def __getattr__(self, name):
        def refuse(*args, **kwargs):
            raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

        return refuse


def test_uploads_past_the_quota_are_refused_with_the_usage(owner_client, users, settings, image_bytes):
    data = image_bytes("PNG", 200, 150)
    settings.COLORSITE_QUOTA_BYTES = 2 * len(data) + 10
    response = send(owner_client, "1.png", "2.png", "3.png", data=data)
    body = response.json()
    assert len(body["photos"]) == 2
    assert body["rejected"] == [
        {
            "name": "3.png",
            "error": f"this file ({megabytes(len(data))}) would take you "
            f"over your storage quota: your photos use "
            f"{megabytes(2 * len(data))} of "
            f"{megabytes(settings.COLORSITE_QUOTA_BYTES)}; "
            "delete some to make room",
        }
    ]
    # Deleting a photo frees its share at once.
    owner_client.post(reverse("gallery-photo-delete", args=[Photo.objects.filter(owner=users.owner).first().pk]))
    assert send(owner_client, "4.png", data=data).status_code == 201


def test_the_upload_page_names_each_refusal_and_shows_the_usage(owner_client, settings, image_bytes):
    settings.COLORSITE_UPLOADS_PER_HOUR = 1
    settings.COLORSITE_QUOTA_BYTES = 2 * 1024**3
    response = owner_client.post(
        reverse("gallery-upload"),
        {"file": [upload_file("a.png", image_bytes()), upload_file("b.png", image_bytes())]},
        follow=True,
    )
    texts = [str(m) for m in response.context["messages"]]
    assert "b.png: you have uploaded 1 photos in the last hour, the most allowed; try again in 60 minutes" in texts
    page = owner_client.get(reverse("gallery-upload")).content.decode()
    # the page's text: the usage sentence sits in its own element, which the page refreshes (/api/usage/)
    hint = " ".join(re.sub(r"<[^>]+>", "", page.split("Your photos use", 1)[1]).split())
    assert re.match(r"\d+\.\d KB of your 2\.0 GB\. Up to 1 photos an hour\.", hint), hint[:80]


def test_zero_means_no_limit(owner_client, settings, image_bytes):
    settings.COLORSITE_UPLOADS_PER_HOUR = 0
    settings.COLORSITE_QUOTA_BYTES = 0
    response = send(owner_client, *[f"{i}.png" for i in range(5)], data=image_bytes())
    assert response.status_code == 201
    assert len(response.json()["photos"]) == 5


def test_sizes_in_messages_are_in_the_pages_units_and_never_look_alike():
    from gallery.forms import sizes

    assert megabytes(25 * 1024**2) == "25.0 MB"
    assert megabytes(2 * 1024**3) == "2.0 GB"
    assert sizes(30 * 1024**2, 25 * 1024**2) == ("30.0 MB", "25.0 MB")
    assert sizes(25 * 1024**2 + 10, 25 * 1024**2) == ("26,214,410 bytes", "26,214,400 bytes")


def test_a_redis_client_that_breaks_oddly_does_not_fail_the_upload(owner_client, settings, image_bytes, monkeypatch):
    """Seen under load: redis-py failing a handshake with ValueError("I/O operation on closed file")."""

    class Broken:
        def pipeline(self, **kwargs):
            raise ValueError("I/O operation on closed file.")

        def zrem(self, *args):
            raise ValueError("I/O operation on closed file.")

    settings.COLORSITE_UPLOADS_PER_HOUR = 5
    monkeypatch.setattr(broker, "client", lambda: Broken())
    response = send(owner_client, "a.png", data=image_bytes())
    assert response.status_code == 201  # counted from the photos of the last hour instead
