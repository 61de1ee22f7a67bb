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


def padded_png(rgb, padding_bytes: int) -> bytes:
    """A PNG carrying ``padding_bytes`` of text in a tEXt chunk: a big upload of a small picture.

    The site re-encodes what it stores, so the padding only makes the bytes take a while to go up.
    """
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("padding", "x" * padding_bytes)
    return encode_image(rgb, "PNG", pnginfo=info)


# Records, in the page, every upload progress value the status lines showed and whether a bar appeared.
WATCH_PROGRESS = """() => {
  window.sent = []; window.sawBar = false;
  new MutationObserver(changes => changes.forEach(change => {
    if (change.attributeName === "data-sent") window.sent.push(Number(change.target.dataset.sent));
    change.addedNodes.forEach(node => {
      if (node.querySelector && node.querySelector("progress")) window.sawBar = true;
    });
  })).observe(document.getElementById("upload-status"), { subtree: true, childList: true, attributes: true });
}"""


def test_a_person_uploads_a_photo_and_watches_it_get_coloured(
    real_workers, real_media, logged_in_page, settings, tmp_path
):
    settings.COLORSITE_QUOTA_BYTES = 200 * 1024 * 1024  # so the page has a quota line to keep current
    photo_path = tmp_path / "grandma.png"
    photo_path.write_bytes(padded_png(real_grey_photo(3, 480), 3 * 1024 * 1024))
    page = logged_in_page
    page.reload()
    quota_line = page.locator("#quota-line")
    assert quota_line.inner_text() == "Your photos use 0\xa0bytes of your 200.0\xa0MB."
    # A slow link (DevTools' throttling): 3 MB take a few seconds to go up, so progress shows in steps.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 1024 * 1024},
    )
    page.evaluate(WATCH_PROGRESS)
    page.evaluate("window.noReload = true")  # gone if the page reloads
    page.set_input_files("#file-input", str(photo_path))
    page.wait_for_selector("#upload-status li.accepted")
    sent = page.evaluate("window.sent")
    assert page.evaluate("window.sawBar") is True
    assert any(0 < value < 100 for value in sent), sent  # the bar moved while the bytes went up
    assert sent[-1] == 100
    assert sent == sorted(sent)
    line = page.locator("#upload-status li.accepted")
    assert line.locator("progress").count() == 0  # the bar gives way to the photo's status
    assert line.inner_text() == "grandma.png: queued"
    page.wait_for_function("el => !el.textContent.includes(' 0\xa0bytes')", arg=quota_line.element_handle())
    after_upload = quota_line.inner_text()

    card = page.locator('#recent .card[data-status="done"]')
    card.wait_for(timeout=300_000)
    thumb = card.locator("img.thumb")
    assert "/files/result-thumb/" in thumb.get_attribute("src")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
    assert card.locator(".status").inner_text() == "done"
    page.wait_for_selector('#upload-status li[data-status="done"]')  # the status line followed it live
    assert line.inner_text() == "grandma.png: done"
    page.wait_for_function("([el, was]) => el.textContent !== was", arg=[quota_line.element_handle(), after_upload])
    assert page.evaluate("window.noReload") is True  # the coloured thumbnail came without a reload

    card.locator("a").click()
    page.wait_for_selector(".compare:not(.waiting) img.after")
    after = page.locator(".compare img.after").first
    assert "/files/result-preview/" in after.get_attribute("src")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=after.element_handle())
    page.locator(".compare .divider").first.focus()
    page.keyboard.press("Home")
    assert page.locator(".compare").first.evaluate("s => s.style.getPropertyValue('--pos')") == "0%"
    assert page.locator(".download-result").is_visible()
    page.screenshot(path=str(tmp_path / "detail.png"))


def test_a_rejected_file_gets_its_message_in_the_page(logged_in_page, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("not a picture at all")
    page = logged_in_page
    page.set_input_files("#file-input", str(bad))
    page.wait_for_selector("#upload-status li.rejected")
    assert page.inner_text("#upload-status li.rejected") == "notes.png: the file is not an image we can read"
