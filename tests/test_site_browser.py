"""In a real browser: Debian's headless Chromium, driven by Playwright, on the live test server with real workers.

Playwright's own browser downloads are never used (no `playwright install`):
the system Chromium at /usr/bin/chromium is launched directly.
"""

import contextlib
import os
from pathlib import Path

import pytest
from django.urls import reverse

from tests.site_fixtures import PASSWORD, encode_image
from tests.test_site_real import real_grey_photo

pytestmark = [pytest.mark.browser, pytest.mark.real, pytest.mark.django_db(transaction=True)]

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextlib.contextmanager
def chromium_page(width: int = 1200, height: int = 900):
    """A fresh headless Chromium page (no cookies).

    Make what the test needs in the database before entering: Playwright's sync API runs an
    event loop in this thread, and Django refuses database calls from a thread with a running loop.
    """
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(30_000)
            yield page
        finally:
            browser.close()


def log_in(page, live_url: str, username: str, landing: str, password: str = PASSWORD) -> None:
    """Log in through the login form and wait on ``landing``."""
    page.goto(f"{live_url}{reverse('login')}?next={landing}")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("main button[type=submit]")
    page.wait_for_url("**" + landing)


@contextlib.contextmanager
def chromium_logged_in(live_url: str, username: str, landing: str):
    """A Chromium page logged in as ``username`` through the login form, waiting on ``landing``."""
    with chromium_page() as page:
        log_in(page, live_url, username, landing)
        yield page


@pytest.fixture
def logged_in_page(live_server, django_user_model):
    """A Chromium page logged in as a new user, on the upload page."""
    django_user_model.objects.create_user("frida", password=PASSWORD)
    with chromium_logged_in(live_server.url, "frida", reverse("gallery-upload")) as page:
        yield page


def test_a_person_uploads_a_photo_and_watches_it_get_coloured(real_workers, real_media, logged_in_page, tmp_path):
    photo_path = tmp_path / "grandma.png"
    photo_path.write_bytes(encode_image(real_grey_photo(3, 480)))
    page = logged_in_page
    page.evaluate("window.noReload = true")  # gone if the page reloads
    page.set_input_files("#file-input", str(photo_path))
    page.wait_for_selector("#upload-status li.accepted")
    assert page.inner_text("#upload-status li.accepted") == "grandma.png: queued for colouring"

    card = page.locator('#recent .card[data-status="done"]')
    card.wait_for(timeout=300_000)
    thumb = card.locator("img.thumb")
    assert "/files/result-thumb/" in thumb.get_attribute("src")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
    assert card.locator(".status").inner_text() == "done"
    assert page.evaluate("window.noReload") is True  # the coloured thumbnail came without a reload

    card.locator("a").click()
    page.wait_for_selector(".slider:not(.waiting) img.after")
    after = page.locator(".slider img.after").first
    assert "/files/result-preview/" in after.get_attribute("src")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=after.element_handle())
    handle = page.locator(".slider .handle").first
    handle.fill("20")
    assert page.locator(".slider").first.evaluate("s => s.style.getPropertyValue('--pos')") == "20%"
    assert page.locator(".download-result").is_visible()
    page.screenshot(path=str(tmp_path / "detail.png"))


def test_a_rejected_file_gets_its_message_in_the_page(logged_in_page, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("not a picture at all")
    page = logged_in_page
    page.set_input_files("#file-input", str(bad))
    page.wait_for_selector("#upload-status li.rejected")
    assert page.inner_text("#upload-status li.rejected") == "notes.png: the file is not an image we can read"
