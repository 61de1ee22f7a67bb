"""The API-token page (issue 11): post/redirect/get, several named tokens, revoking one, shown once."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from gallery.models import ApiToken

pytestmark = pytest.mark.django_db

PAGE = reverse("gallery-api-token")


def create(client, name="backup script"):
    return client.post(PAGE, {"name": name})


def shown_token(html: str) -> str:
    match = re.search(r'<pre class="token wrap" id="new-token">([^<]+)</pre>', html)
    assert match, "no new token on the page"
    return match.group(1)


def test_creating_a_token_redirects_to_the_page(owner_client):
    response = create(owner_client)
    assert response.status_code == 302
    assert response["Location"] == PAGE


def test_the_new_token_is_shown_once_after_the_redirect_and_works(owner_client, users):
    create(owner_client)
    token = shown_token(owner_client.get(PAGE).content.decode())
    assert ApiToken.user_for(token) == users.owner
    assert token not in owner_client.get(PAGE).content.decode()  # the reload shows only the list


def test_only_a_hash_of_the_token_is_stored(owner_client):
    create(owner_client)
    token = shown_token(owner_client.get(PAGE).content.decode())
    assert ApiToken.objects.get().key_hash != token


def test_reloading_the_page_makes_no_new_token(owner_client):
    create(owner_client)
    owner_client.get(PAGE)
    owner_client.get(PAGE)
    assert ApiToken.objects.count() == 1


def test_a_second_token_leaves_the_first_working(owner_client, users):
    create(owner_client, "laptop")
    first = shown_token(owner_client.get(PAGE).content.decode())
    create(owner_client, "server")
    second = shown_token(owner_client.get(PAGE).content.decode())
    assert ApiToken.user_for(first) == users.owner
    assert ApiToken.user_for(second) == users.owner


def test_the_page_lists_tokens_by_name_and_creation_date_newest_first(owner_client, users):
    ApiToken.issue(users.owner, "laptop")
    ApiToken.issue(users.owner, "server")
    ApiToken.issue(users.other, "bobs-script")
    html = owner_client.get(PAGE).content.decode()
    names = re.findall(r'<td class="token-name">([^<]+)</td>', html)
    assert names == ["server", "laptop"]
    created = ApiToken.objects.get(name="laptop").created
    assert f'datetime="{created.isoformat()}"' in html


def test_a_token_needs_a_name(owner_client):
    response = create(owner_client, "")
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not ApiToken.objects.exists()


def test_revoking_a_token_stops_it_and_only_it(owner_client, users):
    gone = ApiToken.issue(users.owner, "old laptop")
    kept = ApiToken.issue(users.owner, "server")
    token = ApiToken.objects.get(name="old laptop")
    response = owner_client.post(reverse("gallery-api-token-revoke", args=[token.pk]))
    assert response.status_code == 302
    assert response["Location"] == PAGE
    assert ApiToken.user_for(gone) is None
    assert ApiToken.user_for(kept) == users.owner
    script = Client(headers={"Authorization": f"Bearer {gone}"})
    assert script.get(reverse("api-photos")).status_code == 401


def test_nobody_else_can_revoke_a_token(other_client, users):
    key = ApiToken.issue(users.owner, "mine")
    token = ApiToken.objects.get()
    assert other_client.post(reverse("gallery-api-token-revoke", args=[token.pk])).status_code == 404
    assert ApiToken.user_for(key) == users.owner


def test_the_new_token_has_a_copy_button_and_a_wrapping_curl_example(owner_client):
    create(owner_client)
    html = owner_client.get(PAGE).content.decode()
    assert '<button type="button" class="copy" data-copy="#new-token">Copy</button>' in html
    assert '<pre class="command wrap">curl -H "Authorization: Bearer' in html
