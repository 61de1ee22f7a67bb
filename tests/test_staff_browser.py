"""In a real browser: an admin starts a quick training run on the dashboard and watches its progress bar move.

Debian's headless Chromium driven by Playwright, on the live test server, with the real
training worker (tests/staff_fixtures.py); the same pattern as tests/test_site_browser.py.
"""

import re
import threading
import time

import pytest
from django.urls import reverse

from tests.site_fixtures import PASSWORD
from tests.test_site_browser import chromium_logged_in
from tests.test_staff_progress import PLAN

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

    values, epochs, seen = [], set(), []  # seen: (stage, bar value, time left, the versions table's state)
    deadline = time.monotonic() + 400
    while time.monotonic() < deadline:
        try:
            bar = page.query_selector("section.run progress")
            if bar is None:  # the run ended and the page reloaded with the new version
                break
            values.append(bar.evaluate("p => p.value"))
            epochs.add(page.inner_text("section.run .run-epoch"))
            seen.append(
                (
                    page.inner_text("section.run .run-stage"),
                    values[-1],
                    page.inner_text("section.run .run-eta"),
                    page.locator("table.versions tbody tr").first.locator("td.state").inner_text(),
                )
            )
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
    # the evaluation of this tiny run lasts about one of the page's 1 s polls, so the page may skip it:
    # test_the_bar_goes_on_through_the_evaluation shows it without that race; here, whatever was seen of it
    # is further along than any training
    training = [value for stage, value, _, _ in seen if stage == "training"]
    evaluating = [value for stage, value, _, _ in seen if stage.startswith("evaluating on the")]
    assert all(value > max(training) for value in evaluating), seen
    assert all(re.fullmatch(r"(about .+|less than a minute) left", left) for _, _, left, _ in seen if left), seen
    assert any(left for _, _, left, _ in seen)
    # the versions table follows the run without a reload: "queued" turned into "training"
    assert "training" in {state for *_, state in seen}
    row = page.locator("table.versions tbody tr").first  # newest first
    assert row.locator("td").first.inner_text() == queued.group(1)
    assert row.locator("td.state").inner_text() == "ready"
    row.locator("td a").first.click()  # its report: four epochs on the curves, the histogram of its 8 test photos
    page.wait_for_selector("article.version-report .chart-curves svg")
    assert page.locator('.chart-curves circle[data-series="val_loss"]').count() == 4
    assert page.locator('.chart-histogram rect[data-series="model"]').count() > 0


def in_a_thread(work) -> None:
    """Run ORM work beside Playwright's event loop (Django refuses it in the loop's thread) and wait for it."""
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()


@pytest.fixture
def running_page(make_version, live_server, django_user_model):
    """Chromium on the dashboard while a run, with no worker behind it, is half-way through its training.

    The test then moves the run on by calling the worker's own ``training_runs.report_progress``,
    so the page's poll sees each phase for as long as the test wants.
    """
    from gallery import training_runs
    from gallery.models import ModelVersion

    django_user_model.objects.create_superuser("ada", password=PASSWORD)
    make_version("v1", active=True)
    queued = make_version("v2", state=ModelVersion.QUEUED, training_parameters={"arch": "scratch", "epochs": 4})
    run = training_runs.claim(queued.pk)
    training_runs.report_progress(run, {"stage": "loading", "plan": PLAN})
    training_runs.report_progress(run, {"stage": "training", "epochs": 4, "batches": 10})
    training_runs.report_progress(run, {"stage": "batch", "epoch": 2, "batch": 5, "batches": 10, "loss": 3.1})
    with chromium_logged_in(live_server.url, "ada", reverse("staff-dashboard")) as page:
        yield page, run


def test_the_bar_goes_on_through_the_evaluation(running_page):
    from gallery import training_runs

    page, run = running_page
    page.wait_for_selector("section.run progress")
    assert page.inner_text("section.run .run-stage") == "training"
    training = page.locator("section.run progress").evaluate("p => p.value")

    in_a_thread(
        lambda: training_runs.report_progress(
            run, {"stage": "evaluating", "collection": "landscape", "done": 4, "total": 8}
        )
    )
    page.wait_for_function(  # the page's own poll, no reload
        "() => document.querySelector('section.run .run-stage').textContent.startsWith('evaluating')"
    )
    assert page.inner_text("section.run .run-stage") == "evaluating on the landscape test split, 4 of 8"
    assert page.locator("section.run progress").evaluate("p => p.value") > training
    assert re.fullmatch(r"(about .+|less than a minute) left", page.inner_text("section.run .run-eta"))


@pytest.fixture
def guarded_page(make_version, live_server, django_user_model):
    """Chromium on the dashboard of an admin, with an active version and a ready one worse than grey on photos."""
    from tests.test_staff_activation_guard import report

    django_user_model.objects.create_superuser("ada", password=PASSWORD)
    active = make_version("v1", active=True, report=report("landscape", 24.0), photos_report=report("photos", 23.0))
    worse = make_version("v2", report=report("landscape", 25.0), photos_report=report("photos", 21.5))
    with chromium_logged_in(live_server.url, "ada", reverse("staff-dashboard")) as page:
        yield page, active, worse


def active_row(page) -> str:
    """The version the dashboard's table marks active (the ORM cannot be used beside Playwright's event loop)."""
    return page.locator("table.versions tr.active").get_attribute("data-version")


def test_activating_a_worse_version_asks_first_and_rollback_too(guarded_page):
    page, active, worse = guarded_page
    assert active_row(page) == str(active.pk)
    page.click(f'table.versions tr[data-version="{worse.pk}"] button:has-text("Activate")')
    page.wait_for_selector("table.guard-figures")
    assert page.title().startswith("Activate v2?")
    assert "v2 is worse than grey on the everyday-photos test split" in page.inner_text("ul.concerns")
    photos_psnr = page.locator('table.guard-figures tr[data-set="photos"][data-metric="psnr"]')
    assert photos_psnr.locator("td.candidate").inner_text() == "21.50 (worse)"
    assert photos_psnr.locator("td.active").inner_text() == "23.00"
    assert photos_psnr.locator("td.grey").inner_text() == "22.00"
    assert page.locator("table.guard-figures tbody tr").count() == 6  # 3 figures x 2 test splits
    page.click('button:has-text("Activate v2 anyway")')
    page.wait_for_selector(".messages")
    assert "v2 is active" in page.inner_text(".messages")
    assert active_row(page) == str(worse.pk)

    page.click('button:has-text("Roll back to the previous version")')
    page.wait_for_selector("table.guard-figures")
    assert page.title().startswith("Roll back to v1?")
    page.click('a:has-text("Keep v2")')  # changing one's mind changes nothing
    page.wait_for_selector("table.versions")
    assert active_row(page) == str(worse.pk)
    page.click('button:has-text("Roll back to the previous version")')
    page.click('button:has-text("Roll back to v1")')
    page.wait_for_selector(".messages")
    assert "v1 is active again" in page.inner_text(".messages")
    assert active_row(page) == str(active.pk)
