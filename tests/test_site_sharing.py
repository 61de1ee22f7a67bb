"""Unlisted share links (issue 11, item 9): a link shows one photo to anybody holding it, and only that.

Revoking or replacing a link makes it 404 at once; a private photo stays unreachable every other
way while it has a link.  The copy button is tested in Chromium in tests/test_site_batches_browser.py.
"""

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse
from PIL import Image

from gallery.models import Photo, ShareLink, file_version
from gallery.tasks import colorize_photo
from tests.site_fixtures import make_photo

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

SHARED_NAME = "aunt-hilde-1931.png"


@pytest.fixture
def photo(users, fake_colorizer) -> Photo:
    """The owner's private, coloured colour photo (so it has every file kind)."""
    photo = Photo.create_from_upload(
        users.owner, SHARED_NAME, Image.fromarray(make_photo(90, 60, colour=True)), "PNG", 1
    )
    colorize_photo(str(photo.pk))
    photo.refresh_from_db()
    return photo


def stored(photo: Photo, kind: str) -> bytes:
    with default_storage.open(photo.file_field(kind).name) as file:
        return file.read()


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_the_owner_makes_a_link_and_the_photo_page_shows_it_with_a_copy_button(owner_client, photo):
    response = owner_client.post(reverse("gallery-photo-share", args=[photo.pk]))
    assert response.status_code == 302
    link = ShareLink.objects.get(photo=photo)
    page = owner_client.get(photo.get_absolute_url()).content.decode()
    assert f'id="share-url">http://testserver/s/{link.key}/</pre>' in page
    assert 'data-copy="#share-url"' in page


def test_the_key_is_long_and_random(photo):
    first = ShareLink.renew(photo).key
    second = ShareLink.renew(photo).key
    assert len(first) >= 43  # secrets.token_urlsafe(32): 256 bits
    assert first != second


def test_anybody_with_the_link_sees_the_before_after_and_downloads_both_files(photo):
    link = ShareLink.renew(photo)
    anonymous = Client()
    page = anonymous.get(reverse("gallery-share", args=[link.key]))
    html = page.content.decode()
    assert page.status_code == 200
    assert SHARED_NAME in html
    assert f"/s/{link.key}/files/result-preview/" in html
    assert f"/s/{link.key}/files/grey/" in html
    assert page["X-Robots-Tag"] == "noindex, nofollow"
    for kind in ("result", "original"):
        response = anonymous.get(reverse("gallery-share-file", args=[link.key, kind]) + "?download=1")
        assert response.status_code == 200
        assert response["Content-Disposition"].startswith("attachment")
        assert body(response) == stored(photo, kind)


def test_the_link_works_for_a_signed_in_stranger_too(other_client, photo):
    link = ShareLink.renew(photo)
    assert other_client.get(reverse("gallery-share", args=[link.key])).status_code == 200
    assert other_client.get(reverse("gallery-share-file", args=[link.key, "result-preview"])).status_code == 200


def test_a_photo_not_coloured_yet_shows_its_upload_and_offers_the_original(users):
    photo = Photo.create_from_upload(users.owner, "waiting.png", Image.fromarray(make_photo(40, 30)), "PNG", 1)
    link = ShareLink.renew(photo)
    html = Client().get(reverse("gallery-share", args=[link.key])).content.decode()
    assert "not coloured yet" in html
    assert "download-result" not in html
    # versioned like the photo page's links (ShareLink.file_url), as an attachment
    assert f"/s/{link.key}/files/original/?v={file_version(photo.original.name)}&amp;download=1" in html


def test_a_revoked_link_is_404_for_the_page_and_every_file(owner_client, photo):
    key = ShareLink.renew(photo).key
    owner_client.post(reverse("gallery-photo-share-revoke", args=[photo.pk]))
    anonymous = Client()
    assert anonymous.get(reverse("gallery-share", args=[key])).status_code == 404
    for kind in Photo.FILE_KINDS:
        assert anonymous.get(reverse("gallery-share-file", args=[key, kind])).status_code == 404


def test_a_new_link_replaces_the_old_one(owner_client, photo):
    old = ShareLink.renew(photo).key
    owner_client.post(reverse("gallery-photo-share", args=[photo.pk]))
    new = ShareLink.objects.get(photo=photo).key
    assert Client().get(reverse("gallery-share", args=[old])).status_code == 404
    assert Client().get(reverse("gallery-share", args=[new])).status_code == 200


def test_a_made_up_key_is_404(photo):
    ShareLink.renew(photo)
    assert Client().get(reverse("gallery-share", args=["x" * 43])).status_code == 404
    assert Client().get(reverse("gallery-share-file", args=["x" * 43, "original"])).status_code == 404


def test_an_unknown_file_kind_through_a_link_is_404(photo):
    link = ShareLink.renew(photo)
    assert Client().get(reverse("gallery-share-file", args=[link.key, "etc-passwd"])).status_code == 404


def test_a_shared_photo_stays_private_everywhere_else(other_client, photo):
    ShareLink.renew(photo)
    for client in (Client(), other_client):
        assert client.get(photo.get_absolute_url()).status_code == 404
        for kind in Photo.FILE_KINDS:
            assert client.get(reverse("gallery-photo-file", args=[photo.pk, kind])).status_code == 404
        assert client.get(reverse("api-photo", args=[photo.pk])).status_code in (401, 404)
        assert client.get(reverse("api-photo-download", args=[photo.pk, "original"])).status_code == 404
        assert SHARED_NAME.encode() not in client.get(reverse("gallery-public")).content


def test_a_link_shows_only_its_own_photo(users, photo, fake_colorizer):
    other = Photo.create_from_upload(users.owner, "other.png", Image.fromarray(make_photo(30, 20)), "PNG", 1)
    link = ShareLink.renew(photo)
    # The key names one photo; there is no way to name another one through it.
    assert str(other.pk) not in Client().get(reverse("gallery-share", args=[link.key])).content.decode()


def test_only_the_owner_makes_or_revokes_a_link(other_client, client, photo):
    for name in ("gallery-photo-share", "gallery-photo-share-revoke"):
        assert other_client.post(reverse(name, args=[photo.pk])).status_code == 404
        assert client.post(reverse(name, args=[photo.pk]))["Location"].startswith(reverse("login"))
    assert not ShareLink.objects.exists()


def test_deleting_the_photo_ends_its_link(owner_client, photo):
    key = ShareLink.renew(photo).key
    owner_client.post(reverse("gallery-photo-delete", args=[photo.pk]))
    assert Client().get(reverse("gallery-share", args=[key])).status_code == 404
