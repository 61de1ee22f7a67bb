"""Colour controls and kept results: the strength reaches the colorizer; re-colouring keeps the
earlier results, which the owner can show again or delete (files and quota bytes given back).
Share links and batch zips show the result shown now; every delete (page, batch, API, account)
takes every kept result with it."""

import io
import zipfile

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse
from PIL import Image

from gallery import colour_controls, quota
from gallery.models import Colouring, Photo, ShareLink, file_version
from gallery.tasks import colorize_photo
from tests.site_fixtures import PASSWORD, FakeColorizer, make_photo

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


@pytest.fixture
def done_photo(users, fake_colorizer):
    photo = Photo.create_from_upload(users.owner, "street.png", Image.fromarray(make_photo(120, 80)), "PNG", 1234)
    assert quota.reserve(users.owner.pk, 1234)  # what the upload request reserved
    colorize_photo(str(photo.pk))
    photo.refresh_from_db()
    assert photo.status == Photo.DONE
    return photo


def recolour(client, photo, captured, **fields) -> Photo:
    """Post the re-colour form, run the queued task here, and return the photo as stored."""
    with captured():
        response = client.post(reverse("gallery-photo-recolour", args=[photo.pk]), fields)
    assert response.status_code == 302
    colorize_photo(str(photo.pk))
    photo.refresh_from_db()
    return photo


def files_of(colouring: Colouring, media_root) -> list:
    return [media_root / getattr(colouring, field).name for field in Colouring.FILE_KINDS.values()]


@pytest.fixture
def recoloured(owner_client, done_photo, django_capture_on_commit_callbacks):
    """The photo coloured twice: natural at 160 (the default), then vivid at 512; returns (photo, first, second)."""
    first = done_photo.colourings.get()
    photo = recolour(owner_client, done_photo, django_capture_on_commit_callbacks, working_size=512, strength="vivid")
    second = photo.colourings.exclude(pk=first.pk).get()
    return photo, first, second


# -- the colour strength ----------------------------------------------------------------------------------


@pytest.mark.parametrize("strength", ["muted", "natural", "vivid"])
def test_the_chosen_strength_scales_the_models_saturation(
    owner_client, done_photo, fake_colorizer, django_capture_on_commit_callbacks, strength
):
    photo = recolour(owner_client, done_photo, django_capture_on_commit_callbacks, working_size=256, strength=strength)
    expected = FakeColorizer.saturation * colour_controls.STRENGTHS[strength]
    assert fake_colorizer.saturations[-1] == pytest.approx(expected)
    assert photo.strength == strength
    assert photo.colourings.first().strength == strength


def test_a_form_without_a_strength_asks_for_natural_colour(
    owner_client, done_photo, fake_colorizer, django_capture_on_commit_callbacks
):
    photo = recolour(owner_client, done_photo, django_capture_on_commit_callbacks, working_size=384)
    assert fake_colorizer.saturations[-1] == pytest.approx(FakeColorizer.saturation)
    assert photo.strength == "natural"


def test_vivid_colour_is_stronger_than_muted_in_the_stored_result(
    owner_client, done_photo, media_root, django_capture_on_commit_callbacks
):
    import numpy as np

    def chroma(photo) -> float:
        rgb = np.asarray(Image.open(media_root / photo.result.name).convert("RGB"), np.float32)
        return float(np.abs(rgb - rgb.mean(axis=-1, keepdims=True)).mean())

    muted = chroma(
        recolour(owner_client, done_photo, django_capture_on_commit_callbacks, working_size=256, strength="muted")
    )
    vivid = chroma(
        recolour(owner_client, done_photo, django_capture_on_commit_callbacks, working_size=256, strength="vivid")
    )
    assert vivid > muted * 1.4


def test_an_unknown_strength_is_refused_with_a_message(owner_client, done_photo):
    response = owner_client.post(
        reverse("gallery-photo-recolour", args=[done_photo.pk]), {"working_size": 256, "strength": "neon"}, follow=True
    )
    messages = [str(m) for m in response.context["messages"]]
    assert messages == ["Select a valid choice. neon is not one of the available choices."]
    done_photo.refresh_from_db()
    assert done_photo.status == Photo.DONE


def test_the_form_explains_the_working_size_and_offers_the_strengths(owner_client, done_photo):
    html = owner_client.get(reverse("gallery-photo", args=[done_photo.pk])).content.decode()
    assert colour_controls.WORKING_SIZE_HELP in html
    assert "160 px (recommended)" in html
    for value, _ in colour_controls.STRENGTH_CHOICES:
        assert f'name="strength" value="{value}"' in html


# -- history: kept, listed, shown again, deleted ---------------------------------------------------------------


def test_re_colouring_keeps_the_earlier_result(recoloured, media_root):
    photo, first, second = recoloured
    assert photo.result.name == second.result.name
    assert all(path.is_file() for path in files_of(first, media_root))
    assert all(path.is_file() for path in files_of(second, media_root))
    assert (second.working_size, second.strength) == (512, "vivid")
    assert (first.working_size, first.strength) == (160, "natural")


def test_every_kept_result_counts_in_the_quota(recoloured, users):
    photo, first, second = recoloured
    assert photo.result_bytes == first.result_bytes + second.result_bytes
    assert quota.used(users.owner.pk) == 1234 + first.result_bytes + second.result_bytes


def test_the_page_lists_the_kept_results_newest_first(owner_client, recoloured):
    photo, first, second = recoloured
    response = owner_client.get(reverse("gallery-photo", args=[photo.pk]))
    assert [c.pk for c in response.context["history"]] == [second.pk, first.pk]
    html = response.content.decode()
    assert "512 px · vivid colour" in html
    assert "160 px · natural colour" in html
    assert reverse("gallery-colouring-current", args=[photo.pk, first.pk]) in html
    assert reverse("gallery-colouring-current", args=[photo.pk, second.pk]) not in html  # shown now


def test_a_kept_results_thumbnail_is_served_to_its_owner(owner_client, recoloured):
    photo, first, _ = recoloured
    response = owner_client.get(first.thumb_url)
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, max-age=31536000, immutable"


def test_switching_back_makes_an_earlier_result_current(owner_client, recoloured):
    photo, first, _ = recoloured
    response = owner_client.post(reverse("gallery-colouring-current", args=[photo.pk, first.pk]))
    assert response.status_code == 302
    photo.refresh_from_db()
    assert photo.result.name == first.result.name
    assert photo.result_preview.name == first.result_preview.name
    assert (photo.working_size, photo.strength) == (160, "natural")
    assert photo.status == Photo.DONE


def test_switching_waits_while_the_photo_is_being_coloured(owner_client, recoloured):
    photo, first, second = recoloured
    Photo.objects.filter(pk=photo.pk).update(status=Photo.RUNNING)
    response = owner_client.post(reverse("gallery-colouring-current", args=[photo.pk, first.pk]), follow=True)
    assert [str(m) for m in response.context["messages"]][-1] == (
        "This photo is being coloured; choose a result again when it is done."
    )
    photo.refresh_from_db()
    assert photo.result.name == second.result.name


def test_deleting_a_kept_result_removes_its_files_and_gives_its_bytes_back(
    owner_client, recoloured, users, media_root, django_capture_on_commit_callbacks
):
    photo, first, second = recoloured
    paths = files_of(first, media_root)
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("gallery-colouring-delete", args=[photo.pk, first.pk]))
    assert response.status_code == 302
    assert not Colouring.objects.filter(pk=first.pk).exists()
    assert not any(path.exists() for path in paths)
    photo.refresh_from_db()
    assert photo.result_bytes == second.result_bytes
    assert quota.used(users.owner.pk) == 1234 + second.result_bytes


def test_the_result_shown_now_cannot_be_deleted(owner_client, recoloured, users, media_root):
    photo, _, second = recoloured
    before = quota.used(users.owner.pk)
    response = owner_client.post(reverse("gallery-colouring-delete", args=[photo.pk, second.pk]), follow=True)
    assert [str(m) for m in response.context["messages"]][-1] == (
        "That result is the one shown now: choose another one first, or delete the photo."
    )
    assert Colouring.objects.filter(pk=second.pk).exists()
    assert all(path.is_file() for path in files_of(second, media_root))
    assert quota.used(users.owner.pk) == before


def test_a_second_delete_gives_back_nothing_more(recoloured, users):
    photo, first, second = recoloured
    stale = Colouring.objects.get(pk=first.pk)
    assert first.delete_with_files()
    assert not stale.delete_with_files()
    assert quota.used(users.owner.pk) == 1234 + second.result_bytes


def test_deleting_the_photo_gives_back_every_kept_result(owner_client, recoloured, users):
    photo, _, _ = recoloured
    owner_client.post(reverse("gallery-photo-delete", args=[photo.pk]))
    assert quota.used(users.owner.pk) == 0
    assert not Colouring.objects.filter(photo_id=photo.pk).exists()


def test_a_failed_runs_clean_up_keeps_the_earlier_results(recoloured, media_root):
    photo, first, second = recoloured
    (media_root / "photos" / str(photo.pk) / "result-deadbeef.png").write_bytes(b"half a result")
    photo.remove_stray_files()
    assert not (media_root / "photos" / str(photo.pk) / "result-deadbeef.png").exists()
    assert all(path.is_file() for path in files_of(first, media_root) + files_of(second, media_root))


@pytest.mark.parametrize("name", ["gallery-colouring-current", "gallery-colouring-delete"])
def test_another_user_cannot_touch_a_photos_history(other_client, recoloured, name):
    photo, first, _ = recoloured
    assert other_client.post(reverse(name, args=[photo.pk, first.pk])).status_code == 404
    assert Colouring.objects.filter(pk=first.pk).exists()


def test_a_public_photos_history_stays_its_owners(other_client, recoloured):
    photo, first, _ = recoloured
    photo.set_public(True)
    response = other_client.get(reverse("gallery-photo", args=[photo.pk]))
    assert response.status_code == 200
    assert not response.context["history"]
    assert other_client.get(first.thumb_url).status_code == 404


# -- the quota line the upload page refreshes --------------------------------------------------------------------


def test_the_usage_endpoint_gives_the_upload_pages_sentence(owner_client, done_photo, users, settings):
    settings.COLORSITE_QUOTA_BYTES = 50 * 1024 * 1024
    body = owner_client.get(reverse("api-usage")).json()
    assert body["used_bytes"] == quota.used(users.owner.pk)
    assert body["quota_bytes"] == 50 * 1024 * 1024
    assert body["line"] == quota.usage_line(users.owner.pk)
    assert body["line"] in owner_client.get(reverse("gallery-upload")).content.decode()


# -- the migration ------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_every_current_result_as_the_first_of_its_history(users):
    Photo.objects.create(owner=users.owner, name="a", width=1, height=1, upload_bytes=1, original="x")
    done = Photo.objects.create(
        owner=users.owner, name="b", width=1, height=1, upload_bytes=1, original="y", working_size=512, psnr=21.5
    )
    Photo.objects.filter(pk=done.pk).update(
        result="photos/r.png", result_thumb="photos/t.jpg", result_preview="photos/p.jpg", result_bytes=77
    )
    executor = MigrationExecutor(connection)
    executor.migrate([("gallery", "0009_share_links")])  # the migration before the history's
    executor.loader.build_graph()
    try:
        executor.migrate([("gallery", "0010_photo_strength_and_colouring_history")])
    finally:
        MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    kept = Colouring.objects.get()
    assert kept.photo_id == done.pk
    assert (kept.result.name, kept.result_thumb.name, kept.result_preview.name) == (
        "photos/r.png",
        "photos/t.jpg",
        "photos/p.jpg",
    )
    assert (kept.result_bytes, kept.working_size, kept.strength, kept.psnr) == (77, 512, "natural", 21.5)


# -- kept results through the other ways in: share links, batches, the API, deleting the account ------------------


def stored_bytes(name: str) -> bytes:
    with default_storage.open(name) as file:
        return file.read()


def streamed(response) -> bytes:
    return b"".join(response.streaming_content)


def show(client, photo, colouring) -> None:
    assert client.post(reverse("gallery-colouring-current", args=[photo.pk, colouring.pk])).status_code == 302


def test_a_share_link_shows_the_result_shown_now(owner_client, recoloured):
    photo, first, second = recoloured
    link = ShareLink.renew(photo)
    visitor = Client()
    result = reverse("gallery-share-file", args=[link.key, "result"])
    assert streamed(visitor.get(result)) == stored_bytes(second.result.name)
    show(owner_client, photo, first)
    assert streamed(visitor.get(result)) == stored_bytes(first.result.name)
    page = visitor.get(reverse("gallery-share", args=[link.key])).content.decode()
    assert f"?v={file_version(first.result_preview.name)}" in page  # the compare shows the earlier result ...
    assert file_version(second.result_preview.name) not in page  # ... and no longer the later one


def test_a_batch_zip_of_coloured_photos_holds_the_result_shown_now(owner_client, recoloured):
    photo, first, _ = recoloured
    show(owner_client, photo, first)
    response = owner_client.post(
        reverse("gallery-batch"), {"action": "download", "what": "result", "ids": [str(photo.pk)]}
    )
    archive = zipfile.ZipFile(io.BytesIO(streamed(response)))
    assert [archive.read(name) for name in archive.namelist()] == [stored_bytes(first.result.name)]


def delete_by_batch(client, photo):
    return client.post(reverse("gallery-batch"), {"action": "delete", "ids": [str(photo.pk)]})


def delete_by_api(client, photo):
    return client.delete(reverse("api-photo", args=[photo.pk]))


def delete_by_page(client, photo):
    return client.post(reverse("gallery-photo-delete", args=[photo.pk]))


@pytest.mark.parametrize("delete", [delete_by_batch, delete_by_api, delete_by_page])
def test_every_delete_removes_every_kept_result_and_gives_its_bytes_back_once(
    owner_client, recoloured, users, media_root, django_capture_on_commit_callbacks, delete
):
    photo, first, second = recoloured
    assert quota.reserve(users.owner.pk, 5000)  # another photo's bytes, which must stay counted
    paths = files_of(first, media_root) + files_of(second, media_root)
    with django_capture_on_commit_callbacks(execute=True):
        assert delete(owner_client, photo).status_code in (204, 302)
    assert not Colouring.objects.filter(photo_id=photo.pk).exists()
    assert not any(path.exists() for path in paths)
    assert quota.used(users.owner.pk) == 5000


def test_deleting_the_account_removes_every_kept_result(
    owner_client, recoloured, media_root, django_capture_on_commit_callbacks
):
    photo, first, second = recoloured
    paths = files_of(first, media_root) + files_of(second, media_root)
    with django_capture_on_commit_callbacks(execute=True):
        assert owner_client.post(reverse("account-delete"), {"password": PASSWORD}).status_code == 302
    assert not Colouring.objects.filter(photo_id=photo.pk).exists()
    assert not any(path.exists() for path in paths)
