"""The photo page's compare in a real browser (Debian's Chromium through Playwright): drag anywhere,
the keyboard on the divider, side by side, full screen with zoom to 100 %; and the kept results.

The photos are coloured by the stand-in colorizer in this process (no workers needed): the page's
behaviour is under test here, the real model's in tests/test_site_browser.py.
"""

import pytest
from django.urls import reverse
from PIL import Image

from gallery.models import Photo
from gallery.tasks import colorize_photo
from tests.site_fixtures import PASSWORD, make_photo
from tests.test_site_browser import chromium_page, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH, HEIGHT = 1600, 1000  # larger than the page shows it, so 100 % is a real zoom


@pytest.fixture
def coloured_photo(django_user_model, media_root, fake_colorizer, monkeypatch):
    """A done 1600×1000 photo of a new user "maria", coloured twice (natural at 256, then vivid at 512)."""
    monkeypatch.setattr(colorize_photo, "apply_async", lambda args, **options: None)  # coloured here, not by workers
    owner = django_user_model.objects.create_user("maria", password=PASSWORD)
    photo = Photo.create_from_upload(owner, "harbour.png", Image.fromarray(make_photo(WIDTH, HEIGHT)), "PNG", 1000)
    colorize_photo(str(photo.pk))
    photo.refresh_from_db()
    assert photo.recolour(512, "vivid")
    colorize_photo(str(photo.pk))
    photo.refresh_from_db()
    assert photo.status == Photo.DONE
    return photo


@pytest.fixture
def photo_page(live_server, coloured_photo):
    landing = reverse("gallery-photo", args=[coloured_photo.pk])
    with chromium_page() as page:
        log_in(page, live_server.url, "maria", landing)
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=after_image(page).element_handle())
        yield page


def compare(page):
    return page.locator(".compare").first


def after_image(page):
    return compare(page).locator("img.after")


def position(page) -> str:
    return compare(page).evaluate("c => c.style.getPropertyValue('--pos')")


def divider_x(page) -> float:
    box = compare(page).locator(".divider").bounding_box()
    return box["x"] + box["width"] / 2


def test_dragging_anywhere_on_the_picture_moves_a_visible_divider(photo_page):
    page = photo_page
    canvas = compare(page).locator(".canvas").bounding_box()
    y = canvas["y"] + canvas["height"] * 0.3  # well away from the divider's knob
    page.mouse.move(canvas["x"] + canvas["width"] * 0.5, y)
    page.mouse.down()
    page.mouse.move(canvas["x"] + canvas["width"] * 0.25, y, steps=5)
    page.mouse.up()
    divider = compare(page).locator(".divider")
    assert divider.get_attribute("aria-valuenow") == "25"
    assert position(page).startswith("25")
    assert divider.is_visible()
    assert divider_x(page) == pytest.approx(canvas["x"] + canvas["width"] * 0.25, abs=2)
    # a click (no drag) puts it there too
    page.mouse.click(canvas["x"] + canvas["width"] * 0.8, y)
    assert divider.get_attribute("aria-valuenow") == "80"


def test_the_divider_is_a_keyboard_slider(photo_page):
    page = photo_page
    divider = compare(page).locator(".divider")
    assert divider.get_attribute("role") == "slider"
    divider.focus()
    page.keyboard.press("ArrowLeft")
    assert divider.get_attribute("aria-valuenow") == "49"
    page.keyboard.press("Shift+ArrowRight")
    assert divider.get_attribute("aria-valuenow") == "59"
    page.keyboard.press("PageDown")
    assert divider.get_attribute("aria-valuenow") == "49"
    page.keyboard.press("Home")
    assert divider.get_attribute("aria-valuenow") == "0"
    assert position(page) == "0%"
    page.keyboard.press("End")
    assert divider.get_attribute("aria-valuenow") == "100"
    page.keyboard.press("Tab")  # focus leaves it: Tab is not swallowed
    assert not divider.evaluate("d => d === document.activeElement")


def test_side_by_side_shows_both_pictures_whole(photo_page):
    page = photo_page
    compare(page).locator("[data-action=side]").click()
    before = compare(page).locator("img.before").bounding_box()
    after = after_image(page).bounding_box()
    assert before["x"] + before["width"] <= after["x"]  # before on the left, not overlapping
    assert before["width"] == pytest.approx(after["width"], abs=1)
    assert compare(page).locator(".pane-before").evaluate("p => getComputedStyle(p).clipPath") == "none"
    assert not compare(page).locator(".divider").is_visible()
    assert compare(page).locator("[data-action=side]").get_attribute("aria-pressed") == "true"
    compare(page).locator("[data-action=side]").click()  # and back
    assert compare(page).locator(".divider").is_visible()


def test_full_screen_with_zoom_to_100_percent(photo_page):
    page = photo_page
    fit_width = after_image(page).bounding_box()["width"]
    assert fit_width < WIDTH
    compare(page).locator("[data-action=full]").click()
    box = compare(page).bounding_box()
    viewport = page.viewport_size
    assert (box["x"], box["y"]) == (0, 0)
    assert (box["width"], box["height"]) == (viewport["width"], viewport["height"])
    assert "is-full" in compare(page).get_attribute("class")

    compare(page).locator("[data-action=zoom]").click()
    after = after_image(page)
    assert "/files/result/" in after.get_attribute("src")  # the full-size file, not the 1600 px preview
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=after.element_handle())
    assert after.evaluate("img => img.naturalWidth") == WIDTH
    assert after.bounding_box()["width"] == WIDTH  # one image pixel per CSS pixel
    assert "/files/original/" in compare(page).locator("img.before").get_attribute("src")
    frame = compare(page).locator(".frame")
    assert frame.evaluate("f => f.scrollWidth > f.clientWidth")  # room to move around

    compare(page).locator("[data-action=zoom]").click()  # back to fit
    assert "/files/result-preview/" in after.get_attribute("src")
    page.keyboard.press("Escape")
    assert "is-full" not in compare(page).get_attribute("class")
    assert compare(page).bounding_box()["width"] < viewport["width"]


def test_dragging_while_zoomed_moves_the_picture_not_the_divider(photo_page):
    page = photo_page
    compare(page).locator("[data-action=zoom]").click()
    frame = compare(page).locator(".frame")
    start = frame.evaluate("f => f.scrollLeft")
    box = frame.bounding_box()
    x, y = box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.5
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 100, y, steps=4)
    page.mouse.up()
    assert frame.evaluate("f => f.scrollLeft") == pytest.approx(start - 100, abs=2)
    assert compare(page).locator(".divider").get_attribute("aria-valuenow") == "50"


def test_the_owner_switches_back_to_an_earlier_result(photo_page, coloured_photo):
    page = photo_page
    rows = page.locator(".history-list li")
    assert rows.count() == 2
    assert "512 px · vivid colour" in rows.nth(0).inner_text()
    assert "shown now" in rows.nth(0).inner_text()
    rows.nth(1).locator("button", has_text="Show this one").click()
    page.wait_for_selector(".messages .success")
    rows = page.locator(".history-list li")
    assert "current" in rows.nth(1).get_attribute("class")
    assert "160 px · natural colour" in rows.nth(1).inner_text()
    assert "working size 160, natural colour" in page.inner_text(".facts")
