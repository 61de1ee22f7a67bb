"""The JSON API: upload, status, list, download under the pages' validation and ownership rules."""

import io
import uuid

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
    assert owner_client.post(reverse("api-photo-download", args=[photo.pk, "original"])).status_code == 405
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


# -- every answer under /api/ is JSON {"error": …} with the right status (issue 10, defect 4) -------------------


def json_error(response, status: int) -> str:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert isinstance(body["error"], str)
    assert body["error"]
    assert b"<" not in response.content  # no HTML page, debug or not
    return body["error"]


@pytest.fixture
def token_client(users):
    return Client(headers={"Authorization": f"Bearer {ApiToken.issue(users.owner)}"})


def test_an_unknown_photo_id_is_a_json_404(owner_client):
    error = json_error(owner_client.get(reverse("api-photo", args=["00000000-0000-4000-8000-000000000000"])), 404)
    assert error.startswith("not found")


def test_somebody_elses_private_photo_is_the_same_json_404(other_client, users):
    photo = Photo.create_from_upload(users.owner, "x.png", Image.fromarray(make_photo(16, 16)), "PNG", 1)
    for url in (reverse("api-photo", args=[photo.pk]), reverse("api-photo-download", args=[photo.pk, "original"])):
        json_error(other_client.get(url), 404)


def test_an_unknown_api_address_is_a_json_404(token_client):
    json_error(token_client.get("/api/no-such-thing/"), 404)


def test_a_wrong_method_is_a_json_405_that_names_the_allowed_ones(token_client, users):
    response = token_client.put(reverse("api-photos"))
    assert json_error(response, 405) == "this method is not allowed here; use GET, POST"
    assert response["Allow"] == "GET, POST"
    json_error(token_client.post(reverse("api-status")), 405)
    photo = Photo.create_from_upload(users.owner, "x.png", Image.fromarray(make_photo(16, 16)), "PNG", 1)
    response = token_client.put(reverse("api-photo", args=[photo.pk]))
    assert json_error(response, 405) == "this method is not allowed here; use GET, PATCH, POST, DELETE"


def test_more_files_than_django_parses_is_a_json_413(token_client, owner_client, settings):
    files = [upload_file(f"{i}.png", b"x") for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FILES + 1)]
    for client in (token_client, owner_client):  # the session's POST is parsed by the CSRF check first
        error = json_error(client.post(reverse("api-photos"), {"file": files}), 413)
        assert error == f"the request is too large: send at most {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files at once"
    assert not Photo.objects.exists()


def test_too_much_form_data_is_a_json_413(token_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    json_error(token_client.post(reverse("api-photos"), {"note": "x" * 2000}), 413)


def test_a_session_post_without_the_csrf_token_is_a_json_403(users):
    client = Client(enforce_csrf_checks=True)
    client.force_login(users.owner)
    assert "X-CSRFToken" in json_error(client.post(reverse("api-photos"), {}), 403)


def test_a_bad_token_is_a_json_401(client):
    json_error(Client(headers={"Authorization": "Bearer not-a-token"}).get(reverse("api-photos")), 401)
    json_error(client.get(reverse("api-photos")), 401)


def test_a_bad_request_is_a_json_400(token_client):
    assert "multipart field" in json_error(token_client.post(reverse("api-photos"), {}), 400)
    ids = ",".join(str(uuid.uuid4()) for _ in range(101))
    assert (
        json_error(token_client.get(reverse("api-status"), {"ids": ids}), 400) == "ask for at most 100 photos at once"
    )
    json_error(token_client.get(reverse("api-status"), {"ids": "\x00"}), 400)


def test_the_hourly_limit_is_a_json_429_with_retry_after(token_client, users, settings, image_bytes):
    from gallery import broker

    settings.COLORSITE_UPLOADS_PER_HOUR = 1
    redis = broker._client(settings.REDIS_URL)
    for key in redis.scan_iter(broker.key("uploads", "*")):
        redis.delete(key)
    try:
        assert (
            token_client.post(reverse("api-photos"), {"file": upload_file("1.png", image_bytes())}).status_code == 201
        )
        response = token_client.post(reverse("api-photos"), {"file": upload_file("2.png", image_bytes())})
        json_error(response, 429)
        assert int(response["Retry-After"]) > 0
    finally:
        for key in redis.scan_iter(broker.key("uploads", "*")):
            redis.delete(key)


def test_a_server_error_is_a_json_500_without_a_trace(token_client, users, monkeypatch):
    photo = Photo.create_from_upload(users.owner, "x.png", Image.fromarray(make_photo(16, 16)), "PNG", 1)

    def broken(self):
        raise RuntimeError("/srv/secret/path exploded")

    monkeypatch.setattr(Photo, "to_dict", broken)
    token_client.raise_request_exception = False
    error = json_error(token_client.get(reverse("api-photo", args=[photo.pk])), 500)
    assert "/srv/secret" not in error


# -- deleting a photo and changing its visibility (issue 11, item 12) ---------------------------------------------


def test_delete_removes_the_photo_and_its_files(token_client, users, media_root, django_capture_on_commit_callbacks):
    photo = Photo.create_from_upload(users.owner, "x.png", Image.fromarray(make_photo(16, 16)), "PNG", 1)
    with django_capture_on_commit_callbacks(execute=True):
        response = token_client.delete(reverse("api-photo", args=[photo.pk]))
    assert response.status_code == 204
    assert not Photo.objects.filter(pk=photo.pk).exists()
    assert not (media_root / "photos" / str(photo.pk)).exists()


def test_delete_gives_the_quota_bytes_back(token_client, users):
    from gallery import quota

    photo = Photo.create_from_upload(users.owner, "x.png", Image.fromarray(make_photo(16, 16)), "PNG", 500)
    quota.reserve(users.owner.pk, 500)
    token_client.delete(reverse("api-photo", args=[photo.pk]))
    assert quota.used(users.owner.pk) == 0


def test_nobody_else_deletes_or_changes_a_photo_not_even_a_public_one(users):
    photo = Photo.create_from_upload(users.owner, "x.png", Image.fromarray(make_photo(16, 16)), "PNG", 1)
    photo.set_public(True)
    script = Client(headers={"Authorization": f"Bearer {ApiToken.issue(users.other)}"})
    url = reverse("api-photo", args=[photo.pk])
    json_error(script.delete(url), 404)
    json_error(script.patch(url, {"is_public": False}, content_type="application/json"), 404)
    assert Photo.objects.get(pk=photo.pk).is_public is True


def test_an_anonymous_delete_is_a_json_401(client, users):
    photo = Photo.create_from_upload(users.owner, "x.png", Image.fromarray(make_photo(16, 16)), "PNG", 1)
    json_error(client.delete(reverse("api-photo", args=[photo.pk])), 401)
    assert Photo.objects.filter(pk=photo.pk).exists()


def test_deleting_an_unknown_photo_is_a_json_404(token_client):
    json_error(token_client.delete(reverse("api-photo", args=["00000000-0000-4000-8000-000000000000"])), 404)


@pytest.mark.parametrize("method", ["patch", "post"])
def test_patch_or_post_json_changes_the_visibility(token_client, users, method):
    photo = Photo.create_from_upload(users.owner, "x.png", Image.fromarray(make_photo(16, 16)), "PNG", 1)
    url = reverse("api-photo", args=[photo.pk])
    send = getattr(token_client, method)
    response = send(url, {"is_public": True}, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["is_public"] is True
    assert Photo.objects.get(pk=photo.pk).is_public is True
    assert send(url, {"is_public": False}, content_type="application/json").json()["is_public"] is False
    assert Photo.objects.get(pk=photo.pk).is_public is False


@pytest.mark.parametrize(
    "body, message",
    [
        (b"{not json", 'the body is not JSON: send a JSON object such as {"is_public": true}'),
        (b"\xff\xfe", 'the body is not JSON: send a JSON object such as {"is_public": true}'),
        (b"[true]", '"is_public" is missing: send a JSON object such as {"is_public": true}'),
        (b"{}", '"is_public" is missing: send a JSON object such as {"is_public": true}'),
        (b'{"is_public": "yes"}', '"is_public" must be true or false: send a JSON object such as {"is_public": true}'),
    ],
)
def test_a_bad_json_body_is_a_json_400_that_changes_nothing(token_client, users, body, message):
    photo = Photo.create_from_upload(users.owner, "x.png", Image.fromarray(make_photo(16, 16)), "PNG", 1)
    response = token_client.patch(reverse("api-photo", args=[photo.pk]), body, content_type="application/json")
    assert json_error(response, 400) == message
    assert Photo.objects.get(pk=photo.pk).is_public is False


def test_a_form_body_instead_of_json_is_a_json_400(token_client, users):
    photo = Photo.create_from_upload(users.owner, "x.png", Image.fromarray(make_photo(16, 16)), "PNG", 1)
    response = token_client.post(reverse("api-photo", args=[photo.pk]), {"is_public": "on"})
    assert json_error(response, 400) == (
        'the body must be JSON (Content-Type: application/json): send a JSON object such as {"is_public": true}'
    )


def test_a_session_patch_needs_the_csrf_token(users):
    photo = Photo.create_from_upload(users.owner, "x.png", Image.fromarray(make_photo(16, 16)), "PNG", 1)
    client = Client(enforce_csrf_checks=True)
    client.force_login(users.owner)
    url = reverse("api-photo", args=[photo.pk])
    json_error(client.patch(url, {"is_public": True}, content_type="application/json"), 403)
    client.get(reverse("gallery-list"))  # sets the csrftoken cookie
    headers = {"X-CSRFToken": client.cookies["csrftoken"].value}
    assert client.patch(url, {"is_public": True}, content_type="application/json", headers=headers).status_code == 200
