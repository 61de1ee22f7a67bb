"""Accounts (issue 11): sign-up with an e-mail address, the account page, password change and reset
on the site's own pages, and deleting an account with all its photos and files."""

import re
import subprocess
import sys

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from PIL import Image

from gallery import quota
from gallery.models import ApiToken, Photo, Usage
from gallery.tasks import colorize_photo
from tests.site_fixtures import BASE_DIR, PASSWORD, make_photo

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

NEW_PASSWORD = "a different horse entirely"


def sign_up(client, **fields):
    data = {"username": "dora", "email": "dora@example.org", "password1": PASSWORD, "password2": PASSWORD}
    return client.post(reverse("signup"), {**data, **fields})


# -- sign-up and the e-mail address ---------------------------------------------------------------------


def test_sign_up_keeps_the_email_address(client):
    assert sign_up(client).status_code == 302
    assert get_user_model().objects.get(username="dora").email == "dora@example.org"


def test_sign_up_requires_an_email_address(client):
    response = sign_up(client, email="")
    assert response.status_code == 200
    assert response.context["form"].errors["email"] == ["This field is required."]
    assert not get_user_model().objects.filter(username="dora").exists()


def test_sign_up_refuses_a_malformed_email_address(client):
    response = sign_up(client, email="dora at home")
    assert response.context["form"].errors["email"] == ["Enter a valid email address."]


def test_an_account_without_an_email_address_still_logs_in(client, users):
    assert users.owner.email == ""
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("gallery-upload")


def test_the_account_page_asks_an_account_without_an_address_for_one(owner_client):
    html = owner_client.get(reverse("account")).content.decode()
    assert 'class="alert no-email"' in html


def test_the_account_page_saves_an_address_and_redirects(owner_client, users):
    response = owner_client.post(reverse("account"), {"email": "alice@example.org"})
    assert response.status_code == 302
    assert response["Location"] == reverse("account")
    users.owner.refresh_from_db()
    assert users.owner.email == "alice@example.org"


def test_the_account_page_links_password_change_tokens_and_deletion(owner_client):
    html = owner_client.get(reverse("account")).content.decode()
    for name in ("password_change", "gallery-api-token", "account-delete"):
        assert f'href="{reverse(name)}"' in html, name


def test_every_page_links_the_account_page_once_logged_in(owner_client):
    assert f'href="{reverse("account")}"' in owner_client.get(reverse("gallery-upload")).content.decode()


# -- the site's own look on every account page ------------------------------------------------------------


@pytest.mark.parametrize(
    "name, kwargs, logged_in",
    [
        ("login", {}, False),
        ("signup", {}, False),
        ("password_reset", {}, False),
        ("password_reset_done", {}, False),
        ("password_reset_confirm", {"uidb64": "MQ", "token": "bad-token"}, False),
        ("password_reset_complete", {}, False),
        ("password_change", {}, True),
        ("password_change_done", {}, True),
        ("account", {}, True),
        ("account-delete", {}, True),
    ],
)
def test_account_pages_use_the_sites_template_not_the_admins(client, users, name, kwargs, logged_in):
    if logged_in:
        client.force_login(users.owner)
    response = client.get(reverse(name, kwargs=kwargs), follow=True)
    assert response.status_code == 200
    assert "base.html" in [t.name for t in response.templates]
    html = response.content.decode()
    assert 'href="/admin/' not in html
    assert "Django administration" not in html


def test_the_login_page_links_forgot_password(client):
    html = client.get(reverse("login")).content.decode()
    assert f'<a href="{reverse("password_reset")}" class="forgot-password">Forgot password?</a>' in html


def test_a_bad_reset_link_says_so(client):
    response = client.get(reverse("password_reset_confirm", kwargs={"uidb64": "MQ", "token": "bad-token"}))
    assert "This link does not work" in response.content.decode()


# -- password change and reset ----------------------------------------------------------------------------


def test_changing_the_password(owner_client, users):
    response = owner_client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response["Location"] == reverse("password_change_done")
    users.owner.refresh_from_db()
    assert users.owner.check_password(NEW_PASSWORD)


def reset_link(message) -> str:
    match = re.search(r"https?://[^/\s]+(/accounts/reset/\S+/)", message.body)
    assert match, message.body
    return match.group(1)


def test_password_reset_mails_a_link_that_sets_a_new_password(client, users):
    users.owner.email = "alice@example.org"
    users.owner.save()
    response = client.post(reverse("password_reset"), {"email": "Alice@Example.org"})
    assert response["Location"] == reverse("password_reset_done")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice@example.org"]
    assert mail.outbox[0].subject == "Your colorsite password"
    form_page = client.get(reset_link(mail.outbox[0]), follow=True)
    assert form_page.context["validlink"] is True
    response = client.post(
        form_page.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert response["Location"] == reverse("password_reset_complete")
    users.owner.refresh_from_db()
    assert users.owner.check_password(NEW_PASSWORD)


def test_password_reset_for_an_unknown_address_sends_nothing_and_says_the_same(client, users):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.org"})
    assert response["Location"] == reverse("password_reset_done")
    assert mail.outbox == []


def email_settings(env: dict) -> list[str]:
    code = (
        "from colorsite import settings as s; "
        "print(s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_HOST_USER, s.EMAIL_USE_TLS, s.DEFAULT_FROM_EMAIL)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.split()


def test_development_prints_mails_on_the_console():
    assert email_settings({"DEBUG": "1"})[0] == "django.core.mail.backends.console.EmailBackend"


def test_smtp_comes_from_the_environment():
    values = email_settings(
        {
            "DEBUG": "1",
            "EMAIL_HOST": "smtp.example.org",
            "EMAIL_PORT": "587",
            "EMAIL_HOST_USER": "colour",
            "EMAIL_USE_TLS": "1",
            "DEFAULT_FROM_EMAIL": "noreply@example.org",
        }
    )
    assert values == [
        "django.core.mail.backends.smtp.EmailBackend",
        "smtp.example.org",
        "587",
        "colour",
        "True",
        "noreply@example.org",
    ]


def test_production_sends_by_smtp_even_without_email_host():
    assert email_settings({"SECRET_KEY": "x"})[:3] == ["django.core.mail.backends.smtp.EmailBackend", "localhost", "25"]


# -- deleting an account --------------------------------------------------------------------------------------


@pytest.fixture
def alices_things(users, fake_colorizer):
    """Alice's photos (one coloured, one public, one queued), a stray file in a photo's folder, a token."""
    photos = []
    for name in ("a.png", "b.png", "c.png"):
        photos.append(Photo.create_from_upload(users.owner, name, Image.fromarray(make_photo(64, 48)), "PNG", 100))
    for photo in photos[:2]:
        colorize_photo(str(photo.pk))
        photo.refresh_from_db()
    photos[1].set_public(True)
    stray = default_storage.save(f"photos/{photos[0].pk}/result-dead.png", ContentFile(b"left by a killed run"))
    names = [getattr(p, f).name for p in photos for f in Photo.FILE_KINDS.values() if getattr(p, f)] + [stray]
    ApiToken.issue(users.owner, "laptop")
    return photos, names


def test_deleting_needs_the_password(owner_client, users, alices_things):
    response = owner_client.post(reverse("account-delete"), {"password": "not it"})
    assert response.status_code == 200
    assert response.context["form"].errors["password"] == ["That is not your password; nothing was deleted."]
    assert get_user_model().objects.filter(pk=users.owner.pk).exists()
    assert Photo.objects.filter(owner=users.owner).count() == 3


def test_the_confirmation_page_says_how_many_photos_go(owner_client, alices_things):
    html = owner_client.get(reverse("account-delete")).content.decode()
    assert re.search(r"all its\s+3 photos with every file", html)


def test_deleting_the_account_removes_photos_files_and_tokens(
    owner_client, users, alices_things, media_root, django_capture_on_commit_callbacks
):
    photos, names = alices_things
    bobs = Photo.create_from_upload(users.other, "bob.png", Image.fromarray(make_photo(32, 32)), "PNG", 100)
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("account-delete"), {"password": PASSWORD})
    assert response["Location"] == reverse("gallery-public")
    assert not get_user_model().objects.filter(pk=users.owner.pk).exists()
    assert not Photo.objects.filter(pk__in=[p.pk for p in photos]).exists()
    assert not ApiToken.objects.exists()
    assert [name for name in names if default_storage.exists(name)] == []
    assert [p.pk for p in photos if (media_root / "photos" / str(p.pk)).exists()] == []
    assert default_storage.exists(bobs.original.name)


def test_after_deleting_the_person_is_logged_out_and_told(owner_client, alices_things):
    response = owner_client.post(reverse("account-delete"), {"password": PASSWORD}, follow=True)
    assert not response.context["user"].is_authenticated
    assert "The account alice and its 3 photo(s) are deleted." in response.content.decode()


def test_deleting_the_account_gives_each_photos_bytes_back_once_and_drops_its_usage(
    owner_client, users, alices_things, settings, monkeypatch, django_capture_on_commit_callbacks
):
    """Account deletion (gallery.accounts) meets the quota's pre_delete hook (gallery.quota): each photo
    is given back once, the Usage row goes with the account, and the fair queue's release after the
    commit finds nobody to release, without an error."""
    photos, _ = alices_things
    settings.COLORSITE_IN_FLIGHT_PER_PERSON = 1
    Photo.objects.filter(pk=photos[2].pk).update(status=Photo.WAITING)  # held back by the fair queue
    assert quota.reserve(users.other.pk, 500)
    given_back = []
    real_release = quota.release
    monkeypatch.setattr(quota, "release", lambda user_id, size: given_back.append(size) or real_release(user_id, size))
    expected = sorted(p.upload_bytes + p.result_bytes for p in Photo.objects.filter(owner=users.owner))
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("account-delete"), {"password": PASSWORD})
    assert response.status_code == 302
    assert sorted(given_back) == expected
    assert not Usage.objects.filter(user_id=users.owner.pk).exists()
    assert quota.used(users.other.pk) == 500
