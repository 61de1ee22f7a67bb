"""Accounts in a real browser (issue 11): the password-reset flow end to end, reading the mailed link
from Django's test outbox, and the API-token page's copy button, reload and narrow layout."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from tests.site_fixtures import PASSWORD
from tests.test_site_browser import chromium_page, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "a different horse entirely"


def test_a_person_resets_a_forgotten_password_from_the_login_page(live_server, django_user_model):
    user = django_user_model.objects.create_user("greta", email="greta@example.org", password=PASSWORD)
    with chromium_page() as page:
        page.goto(live_server.url + reverse("login"))
        page.click("text=Forgot password?")
        page.wait_for_url("**" + reverse("password_reset"))
        page.fill("#id_email", "greta@example.org")
        page.click("main button[type=submit]")
        page.wait_for_url("**" + reverse("password_reset_done"))
        assert page.inner_text("main h1") == "Check your e-mail"

        assert [message.to for message in mail.outbox] == [["greta@example.org"]]
        link = re.search(r"https?://\S+/accounts/reset/\S+/", mail.outbox[0].body)
        assert link, mail.outbox[0].body
        assert link.group(0).startswith(live_server.url)
        page.goto(link.group(0))
        page.fill("#id_new_password1", NEW_PASSWORD)
        page.fill("#id_new_password2", NEW_PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_url("**" + reverse("password_reset_complete"))
        assert page.inner_text("main h1") == "Your new password is set"
        assert page.locator('header a[href^="/admin/"]').count() == 0  # the site's look, not the admin's

        log_in(page, live_server.url, "greta", reverse("gallery-upload"), password=NEW_PASSWORD)
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_a_new_token_is_shown_once_with_a_copy_button_that_copies_it(live_server, django_user_model):
    django_user_model.objects.create_user("hanna", password=PASSWORD)
    tokens = reverse("gallery-api-token")
    with chromium_page() as page:
        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
        log_in(page, live_server.url, "hanna", tokens)
        page.fill("#id_name", "laptop")
        page.click("main form.narrow button[type=submit]")
        page.wait_for_selector("#new-token")
        token = page.inner_text("#new-token")
        copy = page.locator("button.copy")
        assert copy.is_visible()
        copy.click()
        page.wait_for_function("() => document.querySelector('button.copy').textContent === 'Copied'")
        assert page.evaluate("navigator.clipboard.readText()") == token

        page.reload()  # post/redirect/get: a reload shows the list, it makes no new token
        assert page.locator("#new-token").count() == 0
        assert page.locator("td.token-name").all_inner_texts() == ["laptop"]


def test_the_curl_example_does_not_widen_a_phone_screen(live_server, django_user_model):
    django_user_model.objects.create_user("ines", password=PASSWORD)
    tokens = reverse("gallery-api-token")
    with chromium_page(width=390, height=844) as page:
        log_in(page, live_server.url, "ines", tokens)
        page.fill("#id_name", "phone")
        page.click("main form.narrow button[type=submit]")
        page.wait_for_selector("pre.command")
        box = page.locator("pre.command").bounding_box()
        assert box["x"] + box["width"] <= 390
        assert page.evaluate(
            "document.querySelector('pre.command').scrollWidth <= document.querySelector('pre.command').clientWidth"
        )
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
