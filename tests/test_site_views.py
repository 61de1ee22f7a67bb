"""Pages: who may see and change what, which methods each view takes, CSRF, the gallery and detail pages."""

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image

from gallery.models import Photo
from gallery.tasks import colorize_photo
from tests.site_fixtures import PASSWORD, make_photo

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


@pytest.fixture
def photo(users):
    return Photo.create_from_upload(users.owner, "street.png", Image.fromarray(make_photo(120, 80)), "PNG", 1234)


@pytest.fixture
def done_photo(photo, fake_colorizer):
    colorize_photo(str(photo.pk))
    photo.refresh_from_db()
    assert photo.status == Photo.DONE
    return photo


# -- ownership: somebody else's photo is 404 everywhere ----------------------------------------------


@pytest.mark.parametrize("name", ["gallery-photo", "api-photo"])
def test_another_users_private_photo_is_404(other_client, photo, name):
    assert other_client.get(reverse(name, args=[photo.pk])).status_code == 404


def test_another_users_photo_files_are_404(other_client, client, photo):
    url = reverse("gallery-photo-file", args=[photo.pk, "original"])
    assert other_client.get(url).status_code == 404
    assert client.get(url).status_code == 404  # anonymous too


@pytest.mark.parametrize("name", ["gallery-photo-delete", "gallery-photo-recolour", "gallery-photo-visibility"])
def test_another_user_cannot_change_a_photo(other_client, photo, name):
    assert (
        other_client.post(reverse(name, args=[photo.pk]), {"working_size": 256, "is_public": "on"}).status_code == 404
    )
    assert Photo.objects.filter(pk=photo.pk, is_public=False, status=Photo.QUEUED).exists()


def test_another_user_cannot_change_a_public_photo_either(other_client, photo):
    photo.set_public(True)
    assert other_client.post(reverse("gallery-photo-delete", args=[photo.pk])).status_code == 404
    assert Photo.objects.filter(pk=photo.pk).exists()


def test_a_public_photo_is_visible_to_everybody(client, done_photo):
    done_photo.set_public(True)
    assert client.get(reverse("gallery-photo", args=[done_photo.pk])).status_code == 200
    response = client.get(reverse("gallery-photo-file", args=[done_photo.pk, "result"]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"


def test_a_staff_member_gets_no_special_access_to_private_photos(users, photo):
    c = Client()
    c.force_login(users.staff)
    assert c.get(reverse("gallery-photo", args=[photo.pk])).status_code == 404


# -- methods and CSRF --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["gallery-photo-delete", "gallery-photo-recolour", "gallery-photo-visibility"])
def test_post_only_views_refuse_get(owner_client, photo, name):
    assert owner_client.get(reverse(name, args=[photo.pk])).status_code == 405


def test_read_only_views_refuse_post(owner_client, photo):
    assert owner_client.post(reverse("gallery-list")).status_code == 405
    assert owner_client.post(reverse("gallery-photo", args=[photo.pk])).status_code == 405


def test_csrf_is_enforced_on_delete(users, photo):
    c = Client(enforce_csrf_checks=True)
    c.force_login(users.owner)
    assert c.post(reverse("gallery-photo-delete", args=[photo.pk])).status_code == 403
    assert Photo.objects.filter(pk=photo.pk).exists()
    page = c.get(reverse("gallery-photo", args=[photo.pk]))  # sets the csrftoken cookie
    token = page.cookies["csrftoken"].value
    response = c.post(reverse("gallery-photo-delete", args=[photo.pk]), {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert not Photo.objects.filter(pk=photo.pk).exists()


def test_csrf_is_enforced_on_the_api_upload(users, image_bytes):
    from tests.site_fixtures import upload_file

    c = Client(enforce_csrf_checks=True)
    c.force_login(users.owner)
    response = c.post(reverse("api-photos"), {"file": upload_file("a.png", image_bytes())})
    assert response.status_code == 403
    assert not Photo.objects.exists()


# -- accounts --------------------------------------------------------------------------------------------


def test_sign_up_logs_the_new_user_in(client):
    response = client.post(
        reverse("signup"),
        {"username": "dora", "email": "dora@example.org", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("gallery-upload")
    assert client.get(reverse("gallery-upload")).context["user"].username == "dora"


def test_log_in_and_log_out(client, users):
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("gallery-upload")
    assert client.get(reverse("logout")).status_code == 405  # logging out is a POST
    client.post(reverse("logout"))
    assert client.get(reverse("gallery-list")).status_code == 302


def test_sign_up_can_be_closed(client, settings):
    settings.COLORSITE_OPEN_SIGNUP = False
    assert client.get(reverse("signup")).status_code == 404


# -- gallery and detail -------------------------------------------------------------------------------------


def test_the_gallery_lists_only_the_owners_photos_newest_first(
    owner_client, users, photo, django_assert_max_num_queries
):
    Photo.create_from_upload(users.other, "theirs.png", Image.fromarray(make_photo()), "PNG", 10)
    newer = Photo.create_from_upload(users.owner, "newer.png", Image.fromarray(make_photo()), "PNG", 10)
    with django_assert_max_num_queries(4):  # session, user, count, page: no query per photo
        response = owner_client.get(reverse("gallery-list"))
    assert [p.name for p in response.context["page"]] == [newer.name, photo.name]
    assert photo.file_url("thumb").encode() in response.content
    assert b"theirs.png" not in response.content


def test_the_gallery_is_paginated(owner_client, users, settings):
    settings.COLORSITE_PAGE_SIZE = 2
    for i in range(5):
        Photo.create_from_upload(users.owner, f"p{i}.png", Image.fromarray(make_photo(16, 16)), "PNG", 10)
    page3 = owner_client.get(reverse("gallery-list"), {"page": 3}).context["page"]
    assert page3.paginator.num_pages == 3
    assert [p.name for p in page3] == ["p0.png"]


def test_the_public_gallery_shows_only_public_photos(client, users, photo):
    shared = Photo.create_from_upload(users.other, "shared.png", Image.fromarray(make_photo()), "PNG", 10)
    shared.set_public(True)
    response = client.get(reverse("gallery-public"))
    assert [p.name for p in response.context["page"]] == ["shared.png"]
    assert b"by bob" in response.content


def test_the_detail_page_has_the_slider_and_downloads_once_done(owner_client, done_photo):
    response = owner_client.get(reverse("gallery-photo", args=[done_photo.pk]))
    html = response.content.decode()
    assert 'class="compare"' in html
    assert 'role="slider"' in html
    assert done_photo.file_url("result-preview") in html
    assert done_photo.file_url("preview") in html
    assert done_photo.file_url("result", download=True).replace("&", "&amp;") in html
    assert "Re-colour" in html
    assert "Make public" in html
    assert "Delete" in html


def test_downloads_are_attachments_at_full_resolution(owner_client, done_photo):
    response = owner_client.get(done_photo.file_url("result", download=True))
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="street-coloured.png"'
    assert response["Cache-Control"] == "private, max-age=31536000, immutable"
    image = Image.open(__import__("io").BytesIO(b"".join(response.streaming_content)))
    assert image.size == (120, 80)
    assert image.mode == "RGB"


def test_an_unknown_file_kind_is_404(owner_client, photo):
    assert owner_client.get(reverse("gallery-photo-file", args=[photo.pk, "secrets"])).status_code == 404
    assert owner_client.get(reverse("gallery-photo-file", args=[photo.pk, "result"])).status_code == 404  # not yet


# -- owner actions --------------------------------------------------------------------------------------------


def test_delete_removes_the_row_and_its_files(owner_client, done_photo, media_root, django_capture_on_commit_callbacks):
    files = [media_root / getattr(done_photo, f).name for f in ("original", "thumb", "result", "result_thumb")]
    assert all(f.exists() for f in files)
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("gallery-photo-delete", args=[done_photo.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("gallery-list")
    assert not Photo.objects.filter(pk=done_photo.pk).exists()
    assert not any(f.exists() for f in files)


def test_recolour_queues_a_done_photo_with_the_chosen_working_size(
    owner_client, done_photo, fake_colorizer, django_capture_on_commit_callbacks
):
    old_result = done_photo.result.name
    with django_capture_on_commit_callbacks() as callbacks:
        owner_client.post(reverse("gallery-photo-recolour", args=[done_photo.pk]), {"working_size": 512})
    done_photo.refresh_from_db()
    assert done_photo.status == Photo.QUEUED
    assert done_photo.working_size == 512
    assert len(callbacks) == 1
    colorize_photo(str(done_photo.pk))
    done_photo.refresh_from_db()
    assert done_photo.status == Photo.DONE
    assert done_photo.result.name != old_result
    assert fake_colorizer.calls[-1][1] == 512
    assert done_photo.runs == 2


def test_recolour_refuses_a_working_size_out_of_range(owner_client, done_photo):
    response = owner_client.post(
        reverse("gallery-photo-recolour", args=[done_photo.pk]), {"working_size": 5000}, follow=True
    )
    assert "Ensure this value is less than or equal to 2048." in [str(m) for m in response.context["messages"]]
    done_photo.refresh_from_db()
    assert done_photo.status == Photo.DONE


def test_recolour_leaves_a_photo_that_is_still_queued_alone(owner_client, photo, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = owner_client.post(
            reverse("gallery-photo-recolour", args=[photo.pk]), {"working_size": 512}, follow=True
        )
    assert not callbacks
    assert "This photo is still being coloured; try again when it is done." in [
        str(m) for m in response.context["messages"]
    ]


def test_the_owner_can_make_a_photo_public_and_private_again(owner_client, photo):
    owner_client.post(reverse("gallery-photo-visibility", args=[photo.pk]), {"is_public": "on"})
    photo.refresh_from_db()
    assert photo.is_public
    owner_client.post(reverse("gallery-photo-visibility", args=[photo.pk]), {})
    photo.refresh_from_db()
    assert not photo.is_public


def test_a_colour_upload_shows_how_close_the_prediction_came(owner_client, users, fake_colorizer):
    photo = Photo.create_from_upload(
        users.owner, "colour.png", Image.fromarray(make_photo(64, 64, colour=True)), "PNG", 10
    )
    colorize_photo(str(photo.pk))
    photo.refresh_from_db()
    html = owner_client.get(reverse("gallery-photo", args=[photo.pk])).content.decode()
    assert "Against the original colours" in html
    assert f"{photo.psnr:.2f} dB" in html
    assert photo.file_url("grey") in html  # the slider's "before" is the grey version the model saw
    assert np.isfinite(photo.psnr)
    assert photo.colourfulness > 0
    assert photo.colourfulness_true > 0
