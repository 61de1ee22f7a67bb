"""Batches from the gallery (issue 11, item 10): one zip of many photos' files, streamed; delete; visibility.

The zip is checked entry by entry against the stored files for each choice (coloured, originals,
both); "streamed" is checked as what it means here: the answer is a StreamingHttpResponse whose
chunks are at most one read of one file plus a header, and whose first bytes leave before the
second file is even opened.  Deletes go through the single delete's path, so the quota and the
fair queue see them.  The browser side is tests/test_site_batches_browser.py.
"""

import io
import zipfile

import pytest
from django.contrib.messages import get_messages
from django.core.files.storage import default_storage
from django.http import StreamingHttpResponse
from django.urls import reverse
from PIL import Image

from gallery import enqueue, quota, zip_stream
from gallery.models import Photo, Usage
from gallery.tasks import colorize_photo
from tests.site_fixtures import make_photo

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


def upload(user, name: str, *, coloured: bool = True, size=(60, 40), seed=0) -> Photo:
    photo = Photo.create_from_upload(user, name, Image.fromarray(make_photo(*size, seed=seed)), "PNG", 1000)
    if coloured:
        colorize_photo(str(photo.pk))
        photo.refresh_from_db()
    return photo


@pytest.fixture
def photos(users, fake_colorizer) -> list[Photo]:
    return [upload(users.owner, "a.png"), upload(users.owner, "b.png", seed=1)]


def stored(photo: Photo, kind: str) -> bytes:
    with default_storage.open(photo.file_field(kind).name) as file:
        return file.read()


def batch(client, action: str, photos, **extra):
    return client.post(reverse("gallery-batch"), {"action": action, "ids": [str(p.pk) for p in photos], **extra})


def unzip(response) -> dict[str, bytes]:
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.testzip() is None
    return {name: archive.read(name) for name in archive.namelist()}


def flash(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# -- the zip ------------------------------------------------------------------------------------------------


def test_a_zip_of_the_coloured_photos(owner_client, photos):
    response = batch(owner_client, "download", photos, what="result")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == 'attachment; filename="colorsite-2-files.zip"'
    assert unzip(response) == {
        "a-coloured.png": stored(photos[0], "result"),
        "b-coloured.png": stored(photos[1], "result"),
    }


def test_a_zip_of_the_originals(owner_client, photos):
    assert unzip(batch(owner_client, "download", photos, what="original")) == {
        "a.png": stored(photos[0], "original"),
        "b.png": stored(photos[1], "original"),
    }


def test_a_zip_of_both(owner_client, photos):
    files = unzip(batch(owner_client, "download", photos, what="both"))
    assert sorted(files) == ["a-coloured.png", "a.png", "b-coloured.png", "b.png"]
    assert files["b.png"] == stored(photos[1], "original")


def test_photos_with_one_name_get_entries_of_their_own(owner_client, users, fake_colorizer):
    twins = [upload(users.owner, "scan.png"), upload(users.owner, "scan.png", seed=3)]
    files = unzip(batch(owner_client, "download", twins, what="original"))
    assert files == {"scan.png": stored(twins[0], "original"), "scan (2).png": stored(twins[1], "original")}


def test_a_photo_not_coloured_yet_adds_only_its_original(owner_client, users, photos):
    waiting = upload(users.owner, "later.png", coloured=False)
    assert sorted(unzip(batch(owner_client, "download", [photos[0], waiting], what="both"))) == [
        "a-coloured.png",
        "a.png",
        "later.png",
    ]


def test_nothing_coloured_yet_is_a_message_not_an_empty_zip(owner_client, users):
    waiting = upload(users.owner, "later.png", coloured=False)
    response = batch(owner_client, "download", [waiting], what="result")
    assert response.status_code == 302
    assert flash(response) == ["None of the ticked photos has a coloured image yet: wait until they are done."]


def test_somebody_elses_ids_are_left_out(owner_client, users, photos, fake_colorizer):
    theirs = upload(users.other, "theirs.png")
    assert sorted(unzip(batch(owner_client, "download", [photos[0], theirs], what="both"))) == [
        "a-coloured.png",
        "a.png",
    ]


def test_only_somebody_elses_ids_download_nothing(other_client, photos):
    response = batch(other_client, "download", photos, what="both")
    assert response.status_code == 302
    assert flash(response) == ["None of the ticked photos is here any more."]


def test_the_zip_is_a_streaming_response(owner_client, photos):
    response = batch(owner_client, "download", photos, what="both")
    assert isinstance(response, StreamingHttpResponse)
    assert not hasattr(response, "content") or response.streaming


def test_entries_leave_one_chunk_at_a_time_before_the_next_file_is_opened(
    owner_client, users, fake_colorizer, monkeypatch
):
    """Memory stays bounded: no chunk holds more than one read plus a header, and the first bytes go out
    while the first file is being read, long before the last one is opened."""
    monkeypatch.setattr(zip_stream, "CHUNK_BYTES", 4096)
    big = [upload(users.owner, f"big{i}.png", coloured=False, size=(300, 200), seed=i) for i in range(3)]
    total = sum(len(stored(p, "original")) for p in big)
    events: list[str] = []
    real_open = default_storage.open

    def spy_open(name, mode="rb"):
        events.append("open")
        return real_open(name, mode)

    monkeypatch.setattr(default_storage, "open", spy_open)
    response = batch(owner_client, "download", big, what="original")
    sizes = []
    for chunk in response.streaming_content:
        events.append("chunk")
        sizes.append(len(chunk))
    assert total > 10 * 4096  # the files are many chunks long, so the bound below means something
    assert max(sizes) <= 4096 + 512
    opens = [i for i, event in enumerate(events) if event == "open"]
    assert events[:2] == ["open", "chunk"]  # bytes go out as soon as the first file is opened
    assert len(opens) == 3
    assert opens[1] > 3  # several chunks of the first file left before the second was opened


def test_a_file_the_storage_lost_is_left_out_and_the_rest_still_arrive(owner_client, photos, caplog):
    default_storage.delete(photos[0].result.name)
    files = unzip(batch(owner_client, "download", photos, what="result"))
    assert sorted(files) == ["b-coloured.png"]
    assert str(photos[0].pk) in caplog.text


# -- delete and visibility -----------------------------------------------------------------------------------


def test_a_batch_delete_removes_the_photos_and_their_files(
    owner_client, photos, media_root, django_capture_on_commit_callbacks
):
    folders = [media_root / "photos" / str(p.pk) for p in photos]
    with django_capture_on_commit_callbacks(execute=True):  # the files go once the deletion commits
        response = batch(owner_client, "delete", photos)
    assert response.status_code == 302
    assert flash(response) == ["Deleted 2 photo(s)."]
    assert not Photo.objects.filter(pk__in=[p.pk for p in photos]).exists()
    assert not any(folder.exists() for folder in folders)


def test_a_batch_delete_gives_the_quota_bytes_back(owner_client, users, photos):
    quota.reserve(users.owner.pk, sum(p.upload_bytes for p in photos))  # what the uploads reserved
    assert quota.used(users.owner.pk) == sum(p.upload_bytes + p.result_bytes for p in photos)
    batch(owner_client, "delete", photos)
    assert Usage.objects.get(user=users.owner).bytes_used == 0


def test_a_batch_delete_releases_the_owners_waiting_photos(
    owner_client, users, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.COLORSITE_IN_FLIGHT_PER_PERSON = 2
    sent: list = []
    monkeypatch.setattr(enqueue, "colouring", lambda photo: sent.append(photo.pk))
    queued = [upload(users.owner, f"{i}.png", coloured=False, seed=i) for i in range(4)]
    assert [Photo.objects.get(pk=p.pk).status for p in queued] == ["queued", "queued", "waiting", "waiting"]
    with django_capture_on_commit_callbacks(execute=True):
        batch(owner_client, "delete", queued[:2])
    assert [Photo.objects.get(pk=p.pk).status for p in queued[2:]] == ["queued", "queued"]


def test_a_batch_delete_leaves_somebody_elses_photos_alone(owner_client, users, photos, fake_colorizer):
    theirs = upload(users.other, "theirs.png")
    batch(owner_client, "delete", [photos[0], theirs])
    assert Photo.objects.filter(pk=theirs.pk).exists()
    assert not Photo.objects.filter(pk=photos[0].pk).exists()


def test_a_batch_makes_photos_public_then_private(owner_client, users, photos, fake_colorizer):
    theirs = upload(users.other, "theirs.png")
    response = batch(owner_client, "public", [*photos, theirs])
    assert flash(response) == ["2 photo(s) are public now."]
    assert [Photo.objects.get(pk=p.pk).is_public for p in photos] == [True, True]
    assert Photo.objects.get(pk=theirs.pk).is_public is False
    batch(owner_client, "private", photos[:1])
    assert [Photo.objects.get(pk=p.pk).is_public for p in photos] == [False, True]


def test_a_batch_goes_back_to_the_page_it_came_from(owner_client, photos):
    response = batch(owner_client, "public", photos, page="3")
    assert response["Location"] == reverse("gallery-list") + "?page=3"


@pytest.mark.parametrize(
    "data, message",
    [
        ({"action": "delete"}, "Tick one or more photos first."),
        ({"action": "delete", "ids": ["not-a-uuid", "%00"]}, "Tick one or more photos first."),
        ({"action": "explode", "ids": ["00000000-0000-4000-8000-000000000000"]}, "Unknown action."),
        ({"ids": ["00000000-0000-4000-8000-000000000000"]}, "Choose what to do with the ticked photos."),
        (
            {"action": "download", "what": "zzz", "ids": ["00000000-0000-4000-8000-000000000000"]},
            "Download the coloured photos, the originals or both.",
        ),
    ],
)
def test_a_bad_batch_is_a_message_and_changes_nothing(owner_client, photos, data, message):
    response = owner_client.post(reverse("gallery-batch"), data)
    assert response.status_code == 302
    assert flash(response) == [message]
    assert Photo.objects.count() == 2


def test_the_gallery_page_has_a_checkbox_per_photo_and_the_batch_bar(owner_client, photos):
    html = owner_client.get(reverse("gallery-list")).content.decode()
    assert html.count('class="pick" type="checkbox" name="ids"') == 2
    assert 'id="select-all"' in html
    assert 'form id="batch"' in html


def test_the_public_gallery_has_no_batch_bar(client, photos):
    Photo.objects.update(is_public=True)
    html = client.get(reverse("gallery-public")).content.decode()
    assert 'name="ids"' not in html
    assert 'id="batch"' not in html
