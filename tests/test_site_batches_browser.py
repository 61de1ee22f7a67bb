"""Batches and share links in a real browser (issue 11, items 9 and 10): ticking photos in the gallery
and downloading them as one zip, making them public and deleting them; making a share link, copying
it with its button, and opening it in a browser that is not signed in.

The photos are coloured in-process by the stand-in colorizer before the browser starts (what is
tested here is the page, not the model).
"""

import io
import zipfile

import pytest
from django.urls import reverse
from PIL import Image

from gallery.models import Photo
from gallery.tasks import colorize_photo
from tests.site_fixtures import PASSWORD, make_photo
from tests.test_site_browser import chromium_page, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("media_root")]


def coloured(user, name: str, seed: int = 0) -> Photo:
    photo = Photo.create_from_upload(user, name, Image.fromarray(make_photo(80, 60, seed=seed)), "PNG", 1000)
    colorize_photo(str(photo.pk))
    photo.refresh_from_db()
    return photo


@pytest.fixture
def karl(django_user_model, fake_colorizer):
    user = django_user_model.objects.create_user("karl", password=PASSWORD)
    return user, [coloured(user, "harbour.png"), coloured(user, "station.png", seed=1)]


def test_a_person_selects_all_photos_and_downloads_them_as_one_zip(live_server, karl, tmp_path):
    gallery = reverse("gallery-list")
    with chromium_page() as page:
        log_in(page, live_server.url, "karl", gallery)
        assert page.locator("form.batch button[value=download]").is_disabled()  # nothing ticked yet
        page.check("#select-all")
        assert page.inner_text(".batch-count") == "2 selected"
        assert page.locator("input.pick:checked").count() == 2
        page.select_option("form.batch select[name=what]", "both")
        with page.expect_download() as info:
            page.click("form.batch button[value=download]")
        download = info.value
        assert download.suggested_filename == "colorsite-4-files.zip"
        download.save_as(tmp_path / "photos.zip")
    archive = zipfile.ZipFile(tmp_path / "photos.zip")
    assert archive.testzip() is None
    assert sorted(archive.namelist()) == ["harbour-coloured.png", "harbour.png", "station-coloured.png", "station.png"]
    assert Image.open(io.BytesIO(archive.read("station-coloured.png"))).size == (80, 60)


def test_a_person_makes_one_photo_public_then_deletes_both(live_server, karl):
    user, (harbour, station) = karl
    gallery = reverse("gallery-list")
    with chromium_page() as page:
        log_in(page, live_server.url, "karl", gallery)
        page.check(f'input.pick[value="{harbour.pk}"]')
        assert page.inner_text(".batch-count") == "1 selected"
        assert page.evaluate("document.getElementById('select-all').indeterminate") is True
        page.click("form.batch button[value=public]")
        page.wait_for_selector("ul.messages li.success")
        assert page.inner_text("ul.messages li.success") == "1 photo(s) are public now."

        page.on("dialog", lambda dialog: dialog.accept())  # "Delete the ticked photos and all their files?"
        page.check("#select-all")
        page.click("form.batch button[value=delete]")
        page.wait_for_selector("ul.messages li.success")
        assert page.inner_text("ul.messages li.success") == "Deleted 2 photo(s)."
        assert page.locator("li.card").count() == 0
    assert not Photo.objects.filter(owner=user).exists()


def test_a_share_link_is_copied_with_its_button_and_opens_for_a_visitor(live_server, karl):
    _, (harbour, _) = karl
    with chromium_page() as page:
        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
        log_in(page, live_server.url, "karl", harbour.get_absolute_url())
        page.click("text=Create a share link")
        page.wait_for_selector("#share-url")
        link = page.inner_text("#share-url")
        assert link.startswith(f"{live_server.url}/s/")
        page.click('button[data-copy="#share-url"]')
        page.wait_for_function(
            "() => document.querySelector('button[data-copy=\"#share-url\"]').textContent === 'Copied'"
        )
        assert page.evaluate("navigator.clipboard.readText()") == link

        visitor = page.context.browser.new_context().new_page()  # no cookies: not signed in
        visitor.goto(link)
        assert visitor.inner_text("main h1") == "harbour.png"
        after = visitor.locator(".compare img.after")  # the photo page's compare widget (_compare.html)
        visitor.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=after.element_handle())
        visitor.locator(".compare .divider").focus()
        visitor.keyboard.press("PageDown")
        visitor.keyboard.press("PageDown")
        assert visitor.locator(".compare .divider").get_attribute("aria-valuenow") == "30"
        assert visitor.locator(".compare").evaluate("s => s.style.getPropertyValue('--pos')") == "30%"
        with visitor.expect_download() as info:
            visitor.click(".download-result")
        assert info.value.suggested_filename == "harbour-coloured.png"

        page.click("text=Revoke link")
        page.wait_for_selector("text=Create a share link")
        assert visitor.goto(link).status == 404
