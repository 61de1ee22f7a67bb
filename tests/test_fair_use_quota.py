"""The storage quota (gallery.quota): reserved atomically, so parallel uploads cannot pass it; given back on deletion.

The parallel test sends real HTTP requests from threads to pytest-django's live server, all
released at once by a barrier: before the fix, 8 such requests went 136 MiB past a 2 GiB quota.
It runs on PostgreSQL too (make test-postgres).
"""

import http.client
import threading

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from PIL import Image

from gallery import failures, quota
from gallery.models import ApiToken, Photo, Usage
from gallery.tasks import colorize_photo
from tests.live_site import multipart
from tests.site_fixtures import make_photo, upload_file


def used(user) -> int:
    return Usage.objects.get(user=user).bytes_used


@pytest.fixture
def no_sends(monkeypatch):
    """Uploads here need no worker."""
    monkeypatch.setattr(colorize_photo, "apply_async", lambda args, **options: None)


@pytest.mark.django_db(transaction=True)
def test_parallel_uploads_cannot_pass_the_quota(live_server, users, settings, media_root, image_bytes, no_sends):
    data = image_bytes("PNG", 320, 240)
    settings.COLORSITE_QUOTA_BYTES = 3 * len(data) + len(data) // 2  # room for three files, not four
    token = ApiToken.issue(users.owner)
    body, content_type = multipart({"file": ("p.png", data)})
    host, port = live_server.url.removeprefix("http://").split(":")
    barrier, statuses = threading.Barrier(8), []

    def upload():
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        barrier.wait()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type}
        conn.request("POST", "/api/photos/", body=body, headers=headers)
        statuses.append(conn.getresponse().status)
        conn.close()

    threads = [threading.Thread(target=upload) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(statuses) == [201] * 3 + [400] * 5
    assert Photo.objects.filter(owner=users.owner).count() == 3
    assert used(users.owner) == 3 * len(data)


@pytest.mark.django_db
def test_deleting_a_photo_gives_its_bytes_back(owner_client, users, media_root, image_bytes, no_sends):
    data = image_bytes("PNG", 200, 150)
    owner_client.post(reverse("api-photos"), {"file": [upload_file("a.png", data), upload_file("b.png", data)]})
    assert used(users.owner) == 2 * len(data)
    photo = Photo.objects.filter(owner=users.owner).first()
    owner_client.post(reverse("gallery-photo-delete", args=[photo.pk]))
    assert used(users.owner) == len(data)


@pytest.mark.django_db
def test_any_deletion_gives_back_once(owner_client, users, media_root, image_bytes, no_sends):
    """The admin's bulk delete goes past delete_with_files; a second delete of a gone row gives nothing."""
    data = image_bytes("PNG", 200, 150)
    owner_client.post(reverse("api-photos"), {"file": [upload_file("a.png", data), upload_file("b.png", data)]})
    photo = Photo.objects.filter(owner=users.owner).first()
    stale = Photo.objects.get(pk=photo.pk)
    Photo.objects.filter(pk=photo.pk).delete()
    assert used(users.owner) == len(data)
    stale.delete()  # an instance loaded before the row went: nothing more to give back
    assert used(users.owner) == len(data)


@pytest.mark.django_db
def test_a_refused_file_keeps_nothing_reserved(owner_client, users, media_root, no_sends):
    owner_client.post(reverse("api-photos"), {"file": [upload_file("junk.png", b"not an image at all")]})
    assert used(users.owner) == 0


@pytest.mark.django_db
def test_a_result_counts_and_a_re_colour_counts_too_as_the_earlier_result_is_kept(users, media_root, fake_colorizer):
    photo = Photo.create_from_upload(users.owner, "grey.png", Image.fromarray(make_photo(120, 90)), "PNG", 1000)
    assert quota.reserve(users.owner.pk, 1000)  # what the upload request reserved
    colorize_photo(str(photo.pk))
    photo.refresh_from_db()
    names = [photo.result.name, photo.result_thumb.name, photo.result_preview.name]
    assert photo.result_bytes == sum((media_root / name).stat().st_size for name in names)
    assert used(users.owner) == 1000 + photo.result_bytes
    first = photo.result_bytes
    assert photo.recolour(512)
    colorize_photo(str(photo.pk))
    photo.refresh_from_db()
    assert photo.result_bytes > first  # both results are kept (gallery.models.colourings)
    assert used(users.owner) == 1000 + photo.result_bytes


@pytest.mark.django_db
def test_a_result_over_the_quota_fails_with_a_reason_and_leaves_no_files(users, media_root, settings, fake_colorizer):
    settings.COLORSITE_QUOTA_BYTES = 1100
    photo = Photo.create_from_upload(users.owner, "grey.png", Image.fromarray(make_photo(120, 90)), "PNG", 1000)
    assert quota.reserve(users.owner.pk, 1000)
    colorize_photo(str(photo.pk))
    photo.refresh_from_db()
    assert photo.status == Photo.FAILED
    assert photo.failure_reason == failures.RESULT_OVER_QUOTA.reason
    assert photo.failure_code == failures.RESULT_OVER_QUOTA.code
    assert photo.retry_after is None  # the owner makes room; the sweep does not retry it
    assert not list((media_root / "photos" / str(photo.pk)).glob("result*"))
    assert used(users.owner) == 1000


@pytest.mark.django_db(transaction=True)
def test_the_migration_counts_the_photos_that_existed(users, media_root):
    """Migration 0007 starts each person's counter at their uploads plus their results as stored."""
    Photo.objects.create(owner=users.owner, name="a", width=1, height=1, upload_bytes=700, original="x")
    done = Photo.objects.create(owner=users.owner, name="b", width=1, height=1, upload_bytes=300, original="y")
    (media_root / "photos").mkdir(parents=True)
    (media_root / "photos" / "r.png").write_bytes(b"r" * 50)
    Photo.objects.filter(pk=done.pk).update(result="photos/r.png", result_thumb="photos/gone.jpg")
    Photo.objects.create(owner=users.other, name="c", width=1, height=1, upload_bytes=5, original="z")
    executor = MigrationExecutor(connection)
    executor.migrate([("gallery", "0006_photo_transient_failure_retries")])
    executor.loader.build_graph()
    try:
        executor.migrate([("gallery", "0007_fair_use_usage_and_waiting")])
    finally:
        MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    assert used(users.owner) == 700 + 300 + 50
    assert used(users.other) == 5
