"""The site's look in a real browser (issue 11, items 1-3): the front page's moving example and its
way in, one look and a favicon on every page, a 390 px phone, and axe-core on the main pages.

Debian's Chromium through Playwright, as in tests/test_site_browser.py; the photos are coloured
in this process by the stand-in colorizer (tests/site_fixtures.py), since what is tested here is
the pages, not the model.  The checks themselves are in tests/page_checks.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.urls import reverse
from PIL import Image

from gallery import samples
from gallery.models import Photo, ShareLink
from gallery.tasks import colorize_photo
from tests.page_checks import PHONE, axe_violations, sideways_scroll, watch
from tests.site_fixtures import FakeColorizer, make_photo
from tests.test_site_browser import chromium_page, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG_NAME = "grandmas-shoebox-scanned-in-1962-the-wedding-at-the-harbour-with-uncle-otto-0001.png"


@dataclass
class Site:
    """Everything the main pages need to show something: samples, a person with a coloured portrait
    photo (with a long name) and a share link to it, and an admin with an active model version."""

    url: str
    photo: Photo
    share_key: str  # the photo's share link (gallery.models.shares)


@pytest.fixture
def site(live_server, users, media_root, fake_colorizer, make_version) -> Site:
    samples.make(FakeColorizer(), "fake")
    photo = Photo.create_from_upload(users.owner, LONG_NAME, Image.fromarray(make_photo(600, 900)), "PNG", 1000)
    colorize_photo(str(photo.pk))
    photo.refresh_from_db()
    make_version("v1", active=True)
    return Site(live_server.url, photo, ShareLink.renew(photo).key)


# who sees each main page (None: a visitor), and where it is
MAIN_PAGES = {
    "front": (None, lambda s: reverse("gallery-index")),
    "log-in": (None, lambda s: reverse("login")),
    "sign-up": (None, lambda s: reverse("signup")),
    "upload": ("alice", lambda s: reverse("gallery-upload")),
    "gallery": ("alice", lambda s: reverse("gallery-list")),
    "photo": ("alice", lambda s: s.photo.get_absolute_url()),
    "staff dashboard": ("root", lambda s: reverse("staff-dashboard")),
}
# every other page a person reaches from the menu or the log-in page
OTHER_PAGES = {
    "public gallery": (None, lambda s: reverse("gallery-public")),
    "password reset": (None, lambda s: reverse("password_reset")),
    "reset link sent": (None, lambda s: reverse("password_reset_done")),
    "account": ("alice", lambda s: reverse("account")),
    "password change": ("alice", lambda s: reverse("password_change")),
    "API tokens": ("alice", lambda s: reverse("gallery-api-token")),
    "shared photo": (None, lambda s: reverse("gallery-share", args=[s.share_key])),  # what a share link opens
}


def open_page(page, site: Site, who: str | None, path: str) -> None:
    if who:
        log_in(page, site.url, who, path)
    else:
        page.goto(site.url + path)
    page.wait_for_load_state("load")


# -- the front page --------------------------------------------------------------------------------------------


def slider_position(page) -> str:
    return page.evaluate("getComputedStyle(document.querySelector('.front-demo .compare')).getPropertyValue('--pos')")


def test_the_front_page_example_moves_by_itself(site):
    with chromium_page() as page:
        page.goto(site.url + "/")
        first = slider_position(page)
        page.wait_for_timeout(400)
        assert slider_position(page) != first


def test_the_front_page_example_goes_on_to_the_next_sample(site):
    with chromium_page() as page:
        page.goto(site.url + "/")
        first = page.get_attribute(".front-demo img.after", "src")
        page.wait_for_function(
            "src => document.querySelector('.front-demo img.after').getAttribute('src') !== src", arg=first
        )
        assert page.get_attribute(".demo-pick[aria-pressed=true]", "data-title") == samples.SAMPLES[1].title


def test_pause_stops_the_example(site):
    with chromium_page() as page:
        page.goto(site.url + "/")
        page.click("text=Pause")
        still = slider_position(page)
        page.wait_for_timeout(400)
        assert slider_position(page) == still


def test_the_example_never_moves_for_people_who_ask_for_less_motion(site):
    with chromium_page() as page:
        page.emulate_media(reduced_motion="reduce")
        page.goto(site.url + "/")
        page.wait_for_timeout(400)
        assert slider_position(page) == "50%"


def test_the_front_page_says_what_the_site_does_and_leads_to_sign_up(site):
    with chromium_page() as page:
        page.goto(site.url + "/")
        assert page.inner_text("main h1") == "Bring old black-and-white photos back to colour"
        page.click(".cta >> text=Sign up")
        page.wait_for_url("**" + reverse("signup"))


def test_the_front_page_leads_to_log_in(site):
    with chromium_page() as page:
        page.goto(site.url + "/")
        page.click(".cta >> text=Log in")
        page.wait_for_url("**" + reverse("login"))


# -- one look, a favicon, nothing missing ------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*MAIN_PAGES, *OTHER_PAGES])
def test_every_page_has_the_site_look_and_asks_for_nothing_missing(site, name):
    who, path = {**MAIN_PAGES, **OTHER_PAGES}[name]
    with chromium_page() as page:
        problems = watch(page)
        open_page(page, site, who, path(site))
        page.wait_for_timeout(300)  # the first status poll, the favicon
        assert page.locator("header.top a.brand").is_visible()
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(250, 250, 249)"  # site.css
        assert page.locator('header a[href^="/admin/"]').count() == 0
        assert problems.failed == []
        assert problems.console == []


def test_the_favicon_answers(site):
    with chromium_page() as page:
        page.goto(site.url + reverse("login"))
        icon = page.evaluate("document.querySelector('link[rel=icon]').href")
        assert page.request.get(icon).status == 200
        assert page.request.get(site.url + "/favicon.ico").status == 200  # followed to the same icon


# -- accessibility -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", MAIN_PAGES)
def test_axe_finds_nothing_serious_on_the_main_pages(site, name):
    who, path = MAIN_PAGES[name]
    with chromium_page() as page:
        open_page(page, site, who, path(site))
        assert axe_violations(page) == []


# -- a 390 px phone ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*MAIN_PAGES, *OTHER_PAGES])
def test_no_page_scrolls_sideways_on_a_phone(site, name):
    who, path = {**MAIN_PAGES, **OTHER_PAGES}[name]
    with chromium_page(**PHONE) as page:
        open_page(page, site, who, path(site))
        assert sideways_scroll(page) == 0


def test_a_long_file_name_wraps_on_a_phone(site):
    with chromium_page(**PHONE) as page:
        open_page(page, site, "alice", site.photo.get_absolute_url())
        title = page.locator("main h1").bounding_box()
        assert title["x"] + title["width"] <= PHONE["width"]
        assert title["height"] > 40  # more than one line


def test_a_portrait_photo_and_its_buttons_fit_above_the_fold_on_a_phone(site):
    with chromium_page(**PHONE) as page:
        open_page(page, site, "alice", site.photo.get_absolute_url())
        slider = page.locator(".detail .compare >> nth=0").bounding_box()  # the before/after (_compare.html)
        download = page.locator(".downloads .button >> nth=-1").bounding_box()
        assert slider["x"] + slider["width"] <= PHONE["width"]
        assert download["y"] + download["height"] <= PHONE["height"]


def test_the_way_in_is_above_the_fold_on_a_phone(site):
    with chromium_page(**PHONE) as page:
        open_page(page, site, None, "/")
        sign_up = page.locator(".cta >> text=Sign up").bounding_box()
        assert sign_up["y"] + sign_up["height"] <= PHONE["height"]
