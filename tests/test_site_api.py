"""The JSON API: upload, status, list, download under the pages' validation and ownership rules."""

import io

import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image

from gallery.models import ApiToken, Photo
from gallery.tasks import colorize_photo
from tests.site_fixtures import make_photo, upload_file

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


def test_the_api_wants_a_login(client):
    response = client.get(reverse("api-photos"))
    assert response.status_code == 401
    assert response.json() == {"error": "authenticate with an API token or a session"}


def test_upload_accepts_good_files_and_reports_each_bad_one(
    owner_client, image_bytes, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = owner_client.post(
            reverse("api-photos"),
            {"file": [upload_file("ok.jpg", image_bytes("JPEG")), upload_file("doc.pdf", b"%PDF-1.4 not an image")]},
        )
    body = response.json()
    assert response.status_code == 201
    assert len(callbacks) == 1
    assert [p["name"] for p in body["photos"]] == ["ok.jpg"]
    assert body["photos"][0]["status"] == "queued"
    assert body["rejected"] == [{"name": "doc.pdf", "error": "the file is not an image we can read"}]


def test_upload_with_only_bad_files_is_400(owner_client, settings, image_bytes):
    settings.COLORSITE_MAX_PIXELS = 100
    response = owner_client.post(reverse("api-photos"), {"file": upload_file("big.png", image_bytes())})
    assert response.status_code == 400
    assert response.json()["rejected"] == [
        {"name": "big.png", "error": "the image is 96×64 = 0 megapixels; the limit is 0 megapixels"}
    ]


def test_upload_without_a_file_is_400(owner_client):
    response = owner_client.post(reverse("api-photos"), {})
    assert response.status_code == 400
    assert "multipart field" in response.json()["error"]


def test_list_returns_the_users_photos_paginated(owner_client, users, settings):
    settings.COLORSITE_PAGE_SIZE = 2
    for i in range(3):
        Photo.create_from_upload(users.owner, f"{i}.png", Image.fromarray(make_photo(16, 16)), "PNG", 1)
    Photo.create_from_upload(users.other, "theirs.png", Image.fromarray(make_photo(16, 16)), "PNG", 1)
    body = owner_client.get(reverse("api-photos"), {"page": 2}).json()
    assert body["count"] == 3
    assert body["pages"] == 2
    assert [p["name"] for p in body["photos"]] == ["0.png"]


def test_status_follows_the_photo_to_done_and_download_gives_the_result(owner_client, users, fake_colorizer):
    photo = Photo.create_from_upload(users.owner, "x.png", Image.fromarray(make_photo(50, 40)), "PNG", 1)
    url = reverse("api-photo", args=[photo.pk])
    assert owner_client.get(url).json()["status"] == "queued"
    no_result = owner_client.get(reverse("api-photo-download", args=[photo.pk, "result"]))
    assert no_result.status_code == 404
    assert no_result.json()["error"] == "no result yet; the photo is queued"
    colorize_photo(str(photo.pk))
    body = owner_client.get(url).json()
    assert body["status"] == "done"
    assert body["urls"]["result"]
    response = owner_client.get(reverse("api-photo-download", args=[photo.pk, "result"]))
    image = Image.open(io.BytesIO(b"".join(response.streaming_content)))
    assert response.status_code == 200
    assert image.size == (50, 40)
    assert image.mode == "RGB"


def test_batch_status_shows_only_visible_photos(owner_client, users):
    mine = Photo.create_from_upload(users.owner, "m.png", Image.fromarray(make_photo(16, 16)), "PNG", 1)
    theirs = Photo.create_from_upload(users.other, "t.png", Image.fromarray(make_photo(16, 16)), "PNG", 1)
    body = owner_client.get(reverse("api-status"), {"ids": f"{mine.pk},{theirs.pk},not-a-uuid"}).json()
    assert [p["id"] for p in body["photos"]] == [str(mine.pk)]


def test_another_users_photo_cannot_be_downloaded(other_client, users):
    photo = Photo.create_from_upload(users.owner, "m.png", Image.fromarray(make_photo(16, 16)), "PNG", 1)
    assert other_client.get(reverse("api-photo-download", args=[photo.pk, "original"])).status_code == 404


def test_only_results_and_originals_are_downloads(owner_client, users):
    photo = Photo.create_from_upload(users.owner, "m.png", Image.fromarray(make_photo(16, 16)), "PNG", 1)
    assert owner_client.get(reverse("api-photo-download", args=[photo.pk, "thumb"])).status_code == 404
    assert owner_client.get(reverse("api-photo-download", args=[photo.pk, "original"])).status_code == 200


def test_get_only_endpoints_refuse_post(owner_client, users):
    photo = Photo.create_from_upload(users.owner, "m.png", Image.fromarray(make_photo(16, 16)), "PNG", 1)
    assert owner_client.post(reverse("api-photo", args=[photo.pk])).status_code == 405
    assert owner_client.post(reverse("api-status")).status_code == 405


# -- token authentication ------------------------------------------------------------------------------


def test_a_script_uploads_and_downloads_with_a_token_and_no_csrf_token(users, image_bytes, fake_colorizer):
    key = ApiToken.issue(users.owner)
    script = Client(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {key}"})
    response = script.post(reverse("api-photos"), {"file": upload_file("a.png", image_bytes())})
    assert response.status_code == 201
    photo_id = response.json()["photos"][0]["id"]
    assert Photo.objects.get(pk=photo_id).owner == users.owner
    colorize_photo(photo_id)
    assert script.get(reverse("api-photo", args=[photo_id])).json()["status"] == "done"
    assert script.get(reverse("api-photo-download", args=[photo_id, "result"])).status_code == 200
    assert [p["id"] for p in script.get(reverse("api-photos")).json()["photos"]] == [photo_id]


def test_a_wrong_token_is_401(users):
    ApiToken.issue(users.owner)
    response = Client(headers={"Authorization": "Bearer not-the-token"}).get(reverse("api-photos"))
    assert response.status_code == 401
    assert response.json() == {"error": "the API token is not valid"}


def test_a_token_sees_only_its_owners_private_photos(users):
    theirs = Photo.create_from_upload(users.other, "t.png", Image.fromarray(make_photo(16, 16)), "PNG", 1)
    script = Client(headers={"Authorization": f"Bearer {ApiToken.issue(users.owner)}"})
    assert script.get(reverse("api-photo", args=[theirs.pk])).status_code == 404


def test_a_token_opens_only_the_api(users):
    script = Client(headers={"Authorization": f"Bearer {ApiToken.issue(users.owner)}"})
    assert script.get(reverse("gallery-list")).status_code == 302  # pages still want a login
