"""In a real browser: an admin starts a quick training run on the dashboard and watches its progress bar move.

Debian's headless Chromium driven by Playwright, on the live test server, with the real
training worker (tests/staff_fixtures.py); the same pattern as tests/test_site_browser.py.
"""

import re
import time

import pytest
from django.urls import reverse

from tests.site_fixtures import PASSWORD
from tests.test_site_browser import chromium_logged_in

pytestmark = [pytest.mark.browser, pytest.mark.real, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def admin_page(real_training, live_server, django_user_model):
    """A Chromium page logged in as a superuser, on the dashboard."""
    django_user_model.objects.create_superuser("ada", password=PASSWORD)
    with chromium_logged_in(live_server.url, "ada", reverse("staff-dashboard")) as page:
        yield page


def test_an_admin_sees_the_progress_bar_move_during_a_quick_run(admin_page, tmp_path):
    from playwright.sync_api import Error as PlaywrightError

    page = admin_page
    page.check('input[name="kind"][value="full"]')  # a full run of the small scratch network, on landscape only
    page.select_option("#id_arch", "scratch")
    page.fill("#id_mix", "1")
    page.select_option("#id_family", "classification")
    page.fill("#id_epochs", "4")
    page.select_option("#id_crop", "64")
    page.select_option("#id_filters", "4")
    page.fill("#id_depth", "1")
    page.fill("#id_batch_size", "8")
    page.fill("#id_max_examples", "48")
    page.click(".train-form button[type=submit]")
    page.wait_for_selector("section.run progress")
    queued = re.search(r"Training (v\d+) is queued\.", page.inner_text(".messages"))
    assert queued

    values, epochs = [], set()
    deadline = time.monotonic() + 400
    while time.monotonic() < deadline:
        try:
            bar = page.query_selector("section.run progress")
            if bar is None:  # the run ended and the page reloaded with the new version
                break
            values.append(bar.evaluate("p => p.value"))
            epochs.add(page.inner_text("section.run .run-epoch"))
        except PlaywrightError:  # the reload happened between two of these calls
            page.wait_for_load_state()
            continue
        if len(values) == 5:
            page.screenshot(path=str(tmp_path / "progress.png"))
        time.sleep(0.3)
    moved = [v for i, v in enumerate(values) if i == 0 or v != values[i - 1]]
    assert len(moved) >= 4, moved  # the bar moved several times without a reload
    assert moved == sorted(moved)
    assert moved[-1] > 0.5
    assert len(epochs & {f"epoch {n} of 4" for n in range(1, 5)}) >= 2, epochs  # "epoch x of y" moved too
    row = page.locator("table.versions tbody tr").first  # newest first
    assert row.locator("td").first.inner_text() == queued.group(1)
    assert row.locator("td.state").inner_text() == "ready"
    row.locator("td a").first.click()  # its report: four epochs on the curves, the histogram of its 8 test photos
    page.wait_for_selector("article.version-report .chart-curves svg")
    assert page.locator('.chart-curves circle[data-series="val_loss"]').count() == 4
    assert page.locator('.chart-histogram rect[data-series="model"]').count() > 0
