"""Who may reach what: every URL pattern × (anonymous, owner, another user, staff, admin), exact status codes.

The patterns are read from the URL resolver, so a view added later without a line in MATRIX
fails test_every_url_pattern_has_an_entry.  Each (case, role) runs on fresh objects, so a
delete by one role never hides what another would get.  Every response is also searched for
the owner's private photo: its name, its stored file names and the bytes of each of its files
must not reach anybody but the owner, except where noted (staff leaderboards, issue 4).

Roles: the owner (alice) owns a private colour photo and a public one; "other" (bob) is an
ordinary user; "staff" (carol) is staff without any permission; "admin" (root) is a superuser.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from PIL import Image

from gallery import samples
from gallery.models import ApiToken, Photo, ShareLink
from gallery.tasks import colorize_photo
from tests.site_fixtures import encode_image, make_photo, upload_file

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

ROLES = ("anonymous", "owner", "other", "staff", "admin")
PRIVATE_NAME = "private-garden-7f3a.png"


# -- expectations -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class To:
    """A redirect (302) to the named URL (its path; query strings such as ?next= are allowed)."""

    name: str

    def path(self):
        return reverse(self.name)


LOGIN, ADMIN_LOGIN = To("login"), To("admin:login")


def each(anonymous, owner, other=None, staff=None, admin=None) -> dict:
    """Expected status per role; roles left out expect what the role before them expects."""
    values, last = {}, None
    for role, value in zip(ROLES, (anonymous, owner, other, staff, admin)):
        last = value if value is not None else last
        values[role] = last
    return values


PAGE = each(LOGIN, 200)  # any signed-in person
STAFF_PAGE = each(LOGIN, 403, 403, 200)  # issue 4's staff pages
ADMIN_ONLY_POST = each(LOGIN, 403, 403, 403, 302)  # change models: staff who are not admins get 403
OWNER_ONLY = each(LOGIN, 302, 404)  # the owner's actions; everybody else's 404 (ids cannot be probed)
ADMIN_SITE = each(ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 403, 200)  # a model page of the admin site
ADMIN_SITE_ANY_STAFF = each(ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200)  # admin pages without a model


@dataclass
class Case:
    method: str
    expect: dict
    kwargs: Callable[[World], dict] = lambda w: {}
    data: Callable[[World], dict] | None = None
    query: str = ""
    path: Callable[[World], str] | None = None  # for a pattern reverse() cannot build
    # Roles besides the owner allowed to see the private photo's pixels or name here (by design).
    may_show_private: tuple = ()
    label: str = ""


def photo(w):
    return {"photo_id": w.private.pk}


def kept(w, photo=None):
    """A kept result (Colouring) of the private photo, or of ``photo``."""
    photo = photo or w.private
    return {"photo_id": photo.pk, "colouring_id": photo.colourings.first().pk}


def version(w):
    return {"version_id": w.version.pk}


def object_id(attr):
    return lambda w: {"object_id": getattr(w, attr).pk}


def png(w):
    return {"file": upload_file("new.png", encode_image(make_photo(32, 24)))}


MATRIX: dict[str, list[Case]] = {
    # -- the gallery (gallery/views.py) ----------------------------------------------------------------------
    "gallery-index": [Case("GET", each(200, To("gallery-upload")))],  # visitors get the front page
    "gallery-sample": [
        Case("GET", each(200, 200), kwargs=lambda w: {"name": "chelsea", "kind": "colour"}),
        Case("GET", each(404, 404), kwargs=lambda w: {"name": "chelsea", "kind": "etc-passwd"}, label="unknown-kind"),
        Case("POST", each(405, 405), kwargs=lambda w: {"name": "chelsea", "kind": "grey"}),
    ],
    "favicon": [Case("GET", each(302, 302)), Case("POST", each(405, 405))],
    "gallery-upload": [
        Case("GET", PAGE),
        Case("POST", each(LOGIN, To("gallery-upload")), data=png),
        Case("PUT", each(LOGIN, 405)),
    ],
    "gallery-list": [Case("GET", PAGE), Case("POST", each(LOGIN, 405))],
    "gallery-public": [Case("GET", each(200, 200)), Case("POST", each(405, 405))],
    "gallery-photo": [
        Case("GET", each(404, 200, 404), kwargs=photo),
        Case("GET", each(200, 200), kwargs=lambda w: {"photo_id": w.public.pk}, label="public"),
        Case("POST", each(405, 405), kwargs=photo),
    ],
    "gallery-photo-file": [
        Case(
            "GET", each(404, 200, 404), kwargs=lambda w, kind=kind: {"photo_id": w.private.pk, "kind": kind}, label=kind
        )
        for kind in ("original", "result", "thumb", "preview", "grey", "result-thumb", "result-preview")
    ]
    + [
        Case("GET", each(200, 200), kwargs=lambda w: {"photo_id": w.public.pk, "kind": "result"}, label="public"),
        Case(
            "GET",
            each(404, 404),
            kwargs=lambda w: {"photo_id": w.private.pk, "kind": "etc-passwd"},
            label="unknown-kind",
        ),
    ],
    "gallery-photo-delete": [Case("POST", OWNER_ONLY, kwargs=photo), Case("GET", each(LOGIN, 405), kwargs=photo)],
    "gallery-photo-recolour": [
        Case("POST", OWNER_ONLY, kwargs=photo, data=lambda w: {"working_size": 256}),
        Case("GET", each(LOGIN, 405), kwargs=photo),
    ],
    "gallery-photo-visibility": [
        Case("POST", OWNER_ONLY, kwargs=photo, data=lambda w: {"is_public": "on"}),
        Case("GET", each(LOGIN, 405), kwargs=photo),
    ],
    # -- share links and batches (gallery/share_views.py, gallery/batch_views.py; issue 11, items 9 and 10) ----
    # The private photo has a share link in every world: it shows the photo to whoever holds the key (by
    # design) and changes nothing above, where the same photo stays 404 for everybody but its owner.
    "gallery-photo-share": [Case("POST", OWNER_ONLY, kwargs=photo), Case("GET", each(LOGIN, 405), kwargs=photo)],
    "gallery-photo-share-revoke": [Case("POST", OWNER_ONLY, kwargs=photo), Case("GET", each(LOGIN, 405), kwargs=photo)],
    "gallery-share": [
        Case("GET", each(200, 200), kwargs=lambda w: {"key": w.share_key}, may_show_private=ROLES),
        Case("GET", each(404, 404), kwargs=lambda w: {"key": "x" * 43}, label="made-up-key"),
        Case("POST", each(405, 405), kwargs=lambda w: {"key": w.share_key}),
    ],
    "gallery-share-file": [
        Case(
            "GET",
            each(200, 200),
            kwargs=lambda w, kind=kind: {"key": w.share_key, "kind": kind},
            may_show_private=ROLES,
            label=kind,
        )
        for kind in ("original", "result", "grey", "result-preview")
    ]
    + [
        Case("GET", each(404, 404), kwargs=lambda w: {"key": w.share_key, "kind": "etc-passwd"}, label="unknown-kind"),
        Case("GET", each(404, 404), kwargs=lambda w: {"key": "x" * 43, "kind": "original"}, label="made-up-key"),
    ],
    # Anybody else's ids are dropped: the owner gets the zip, the others a message on their own gallery.
    "gallery-batch": [
        Case(
            "POST",
            each(LOGIN, 200, To("gallery-list")),
            data=lambda w: {"action": "download", "what": "both", "ids": [w.private.pk]},
        ),
        Case(
            "POST",
            each(LOGIN, To("gallery-list")),
            data=lambda w: {"action": "delete", "ids": [w.private.pk]},
            label="delete",
        ),
        Case("GET", each(LOGIN, 405)),
    ],
    # -- a photo's kept results (gallery/models/colourings.py): its owner's only, even when the photo is public --
    "gallery-colouring-file": [
        Case(
            "GET",
            each(LOGIN, 200, 404),
            kwargs=lambda w, kind=kind: dict(kept(w), kind=kind),
            label=kind,
        )
        for kind in ("result", "result-thumb", "result-preview")
    ]
    + [
        Case("GET", each(LOGIN, 404), kwargs=lambda w: dict(kept(w), kind="original"), label="not-a-result"),
        Case("GET", each(LOGIN, 200, 404), kwargs=lambda w: dict(kept(w, w.public), kind="result"), label="public"),
    ],
    # the one kept result is the current one: the owner is sent back with a message, nothing is deleted
    "gallery-colouring-current": [Case("POST", OWNER_ONLY, kwargs=kept), Case("GET", each(LOGIN, 405), kwargs=kept)],
    "gallery-colouring-delete": [Case("POST", OWNER_ONLY, kwargs=kept), Case("GET", each(LOGIN, 405), kwargs=kept)],
    # -- the account pages (gallery/account_views.py) --------------------------------------------------------
    "account": [
        Case("GET", PAGE),
        Case("POST", each(LOGIN, To("account")), data=lambda w: {"email": "someone@example.org"}),
        Case("PUT", each(LOGIN, 405)),
    ],
    # A wrong password deletes nothing and shows the form again.
    "account-delete": [Case("GET", PAGE), Case("POST", PAGE, data=lambda w: {"password": "wrong"})],
    "gallery-api-token": [
        Case("GET", PAGE),
        Case("POST", each(LOGIN, To("gallery-api-token")), data=lambda w: {"name": "script"}),
        Case("DELETE", each(LOGIN, 405)),
    ],
    "gallery-api-token-revoke": [
        Case("POST", OWNER_ONLY, kwargs=lambda w: {"token_id": w.token.pk}),
        Case("GET", each(LOGIN, 405), kwargs=lambda w: {"token_id": w.token.pk}),
    ],
    # -- the JSON API (gallery/api.py): 401 instead of a login page ----------------------------------------------
    "api-photos": [Case("GET", each(401, 200)), Case("POST", each(401, 201), data=png), Case("PUT", each(401, 405))],
    "api-usage": [Case("GET", each(401, 200)), Case("POST", each(401, 405))],
    "api-status": [Case("GET", each(200, 200), query="?ids={private},{public}"), Case("POST", each(405, 405))],
    "api-photo": [
        Case("GET", each(404, 200, 404), kwargs=photo),
        Case("GET", each(200, 200), kwargs=lambda w: {"photo_id": w.public.pk}, label="public"),
        Case("POST", each(401, 400, 404), kwargs=photo, data=lambda w: {"is_public": "on"}, label="not-json"),
        Case("DELETE", each(401, 204, 404), kwargs=photo),
        Case("DELETE", each(401, 204, 404), kwargs=lambda w: {"photo_id": w.public.pk}, label="public"),
        Case("PUT", each(405, 405), kwargs=photo),
    ],
    "api-photo-download": [
        Case(
            "GET", each(404, 200, 404), kwargs=lambda w, kind=kind: {"photo_id": w.private.pk, "kind": kind}, label=kind
        )
        for kind in ("result", "original")
    ]
    + [
        Case("GET", each(404, 404), kwargs=lambda w: {"photo_id": w.private.pk, "kind": "thumb"}, label="thumb"),
        Case("GET", each(200, 200), kwargs=lambda w: {"photo_id": w.public.pk, "kind": "original"}, label="public"),
        Case("POST", each(405, 405), kwargs=lambda w: {"photo_id": w.public.pk, "kind": "original"}),
    ],
    # -- accounts (Django's auth views, and sign-up) --------------------------------------------------------------
    "signup": [Case("GET", each(200, 200)), Case("POST", each(200, 200), data=lambda w: {"username": "x"})],
    "login": [
        Case("GET", each(200, 200)),
        Case("POST", each(200, 200), data=lambda w: {"username": "alice", "password": "wrong"}),
    ],
    "logout": [Case("POST", each(To("gallery-public"), To("gallery-public"))), Case("GET", each(405, 405))],
    "password_change": [Case("GET", PAGE), Case("POST", PAGE, data=lambda w: {"old_password": "wrong"})],
    "password_change_done": [Case("GET", PAGE)],
    "password_reset": [
        Case("GET", each(200, 200)),
        Case(
            "POST",
            each(To("password_reset_done"), To("password_reset_done")),
            data=lambda w: {"email": "nobody@example.org"},
        ),
    ],
    "password_reset_done": [Case("GET", each(200, 200))],
    "password_reset_confirm": [Case("GET", each(200, 200), kwargs=lambda w: {"uidb64": "MQ", "token": "bad-token"})],
    "password_reset_complete": [Case("GET", each(200, 200))],
    # -- issue 4's staff pages (gallery/staff_views.py) ---------------------------------------------------------
    "staff-dashboard": [Case("GET", STAFF_PAGE), Case("POST", each(LOGIN, 403, 403, 405))],
    "staff-train": [
        Case("POST", each(LOGIN, 403, 403, 403, 400), data=lambda w: {"epochs": "not a number"}),
        Case("GET", each(LOGIN, 403, 403, 403, 405)),
    ],
    "staff-rollback": [Case("POST", ADMIN_ONLY_POST), Case("GET", each(LOGIN, 403, 403, 403, 405))],
    "staff-version-progress": [Case("GET", STAFF_PAGE, kwargs=version)],
    "staff-version-cancel": [Case("POST", ADMIN_ONLY_POST, kwargs=version)],
    "staff-version-activate": [
        Case("POST", ADMIN_ONLY_POST, kwargs=version),
        Case("GET", each(LOGIN, 403, 403, 403, 405), kwargs=version),
    ],
    "staff-leaderboard": [Case("GET", STAFF_PAGE, kwargs=version, may_show_private=("staff", "admin"))],
    "staff-leaderboard-picture": [
        Case("GET", STAFF_PAGE, kwargs=lambda w: {"version_id": w.version.pk, "stem": "0001"}),
        Case(
            "GET",
            each(LOGIN, 403, 403, 404),
            label="no-such-picture",
            kwargs=lambda w: {"version_id": w.version.pk, "stem": "9999"},
        ),
    ],
    # Staff see a done colour upload's grey input, prediction and true colours for the uploads
    # leaderboard (issue 4), and nothing else of it.
    "staff-upload-file": [
        Case(
            "GET",
            STAFF_PAGE,
            kwargs=lambda w, kind=kind: {"photo_id": w.private.pk, "kind": kind},
            may_show_private=("staff", "admin"),
            label=kind,
        )
        for kind in ("grey", "result-preview", "preview")
    ]
    + [
        Case(
            "GET",
            each(LOGIN, 403, 403, 404),
            kwargs=lambda w, kind=kind: {"photo_id": w.private.pk, "kind": kind},
            label=kind,
        )
        for kind in ("original", "result")
    ],
    # -- /healthz (gallery/health_views.py): the same answer for everybody, booleans and fixed words only ----------
    # The world's active version is a stand-in in /nowhere/ (tests/staff_fixtures.py), so the model check fails: 503.
    "healthz": [Case("GET", each(503, 503)), Case("POST", each(405, 405))],
    # -- the admin site: staff without permissions get 403 on every model page, only the admin gets in ------------
    "admin:index": [Case("GET", ADMIN_SITE_ANY_STAFF)],
    "admin:login": [
        Case("GET", each(200, 200, 200, To("admin:index"))),
        Case("POST", each(200, 200), data=lambda w: {"username": "alice", "password": "wrong"}),
    ],
    # Not staff: sent to the admin index (which asks for a staff login); staff log out to the public gallery.
    "admin:logout": [
        Case("POST", each(To("admin:index"), To("admin:index"), To("admin:index"), To("gallery-public"))),
        Case("GET", each(To("admin:index"), To("admin:index"), To("admin:index"), 405)),
    ],
    "admin:password_change": [Case("GET", ADMIN_SITE_ANY_STAFF)],
    "admin:password_change_done": [Case("GET", ADMIN_SITE_ANY_STAFF)],
    "admin:autocomplete": [Case("GET", each(ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 403))],
    "admin:jsi18n": [Case("GET", ADMIN_SITE_ANY_STAFF)],
    "admin:view_on_site": [
        Case(
            "GET",
            each(ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 302),
            kwargs=lambda w: {
                "content_type_id": ContentType.objects.get_for_model(Photo).pk,
                "object_id": w.private.pk,
            },
        )
    ],
    "admin:app_list": [
        Case("GET", each(ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 404, 200), kwargs=lambda w: {"app_label": "gallery"})
    ],
    "admin/(?P<url>.*)$": [
        Case("GET", each(ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 404), path=lambda w: "/admin/no-such-page/")
    ],
}

# The admin (a superuser) sees photos' names and owners in the admin's lists (never their pixels: file
# links point at MEDIA_URL, which nothing serves); model versions are read-only there (issue 4).
READ_ONLY = each(ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 403)
ADMIN_MODELS = {
    "auth_group": "group",
    "auth_user": "owner_user",
    "gallery_photo": "private",
    "gallery_modelversion": "version",
}
for _model, _attr in ADMIN_MODELS.items():
    _shows = ("admin",) if _model in ("gallery_photo", "auth_user") else ()  # deleting alice lists her photos
    _writable = ADMIN_SITE if _model != "gallery_modelversion" else READ_ONLY
    MATRIX[f"admin:{_model}_changelist"] = [Case("GET", ADMIN_SITE, may_show_private=_shows)]
    MATRIX[f"admin:{_model}_add"] = [Case("GET", _writable)]
    MATRIX[f"admin:{_model}_history"] = [Case("GET", ADMIN_SITE, kwargs=object_id(_attr), may_show_private=_shows)]
    MATRIX[f"admin:{_model}_delete"] = [Case("GET", _writable, kwargs=object_id(_attr), may_show_private=_shows)]
    MATRIX[f"admin:{_model}_change"] = [Case("GET", ADMIN_SITE, kwargs=object_id(_attr), may_show_private=_shows)]
    # The bare object URL redirects to its change page.
    MATRIX[f"admin/{_model.replace('_', '/', 1)}/<path:object_id>/"] = [
        Case(
            "GET",
            each(ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 302),
            path=lambda w, m=_model, a=_attr: f"/admin/{m.replace('_', '/', 1)}/{getattr(w, a).pk}/",
        )
    ]
MATRIX["admin:auth_user_password_change"] = [Case("GET", ADMIN_SITE, kwargs=lambda w: {"id": w.owner_user.pk})]


# -- the world each case runs in ---------------------------------------------------------------------------


@dataclass
class World:
    owner_user: object
    private: Photo
    public: Photo
    version: object
    group: Group
    token: ApiToken  # the owner's
    share_key: str  # the private photo's share link
    files: dict[str, bytes] = field(default_factory=dict)  # the private photo's stored files


@pytest.fixture
def world(users, fake_colorizer, make_version) -> World:
    colour = Image.fromarray(make_photo(120, 80, colour=True))
    private = Photo.create_from_upload(users.owner, PRIVATE_NAME, colour, "PNG", 1000)
    public = Photo.create_from_upload(users.owner, "public.png", Image.fromarray(make_photo(60, 40)), "PNG", 1000)
    for p in (private, public):
        colorize_photo(str(p.pk))
        p.refresh_from_db()
    public.set_public(True)
    samples.make(fake_colorizer, "fake")  # the front page's examples
    version = make_version("v-ready")
    make_version("v-active", active=True)
    buffer = io.BytesIO()
    Image.fromarray(make_photo(30, 10)).save(buffer, "JPEG")
    version.pictures = {
        "0001.jpg": default_storage.save(f"leaderboards/{version.pk}/0001-ab12.jpg", ContentFile(buffer.getvalue()))
    }
    version.pictures_state = version.PICTURES_READY
    version.save(update_fields=["pictures", "pictures_state"])
    files = {
        field_name: default_storage.open(getattr(private, field_name).name).read()
        for field_name in Photo.FILE_KINDS.values()
        if getattr(private, field_name)
    }
    ApiToken.issue(users.owner, "owner's script")
    token = ApiToken.objects.get(user=users.owner)
    share_key = ShareLink.renew(private).key
    return World(users.owner, private, public, version, Group.objects.create(name="editors"), token, share_key, files)


def client_for(role: str, users) -> Client:
    client = Client()
    user = {"owner": users.owner, "other": users.other, "staff": users.staff, "admin": users.superuser}.get(role)
    if user is not None:
        client.force_login(user)
    return client


# -- the tests ------------------------------------------------------------------------------------------------


def url_patterns(patterns=None, prefix="", namespace=""):
    """(key, route) for every pattern the resolver knows; the key is "namespace:name", else the route."""
    for p in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(p, URLResolver):
            yield from url_patterns(
                p.url_patterns, prefix + str(p.pattern), f"{namespace}{p.namespace}:" if p.namespace else namespace
            )
        elif isinstance(p, URLPattern):
            route = prefix + str(p.pattern)
            yield (f"{namespace}{p.name}" if p.name else route), route


def cases():
    """(key, case, roles): a GET changes nothing, so its roles share one world; any other method gets a
    fresh world per role (the owner's delete must not hide what the others would get)."""
    for key, entries in MATRIX.items():
        for case in entries:
            label = "-".join(filter(None, [key, case.method, case.label]))
            if case.method == "GET":
                yield pytest.param(key, case, ROLES, id=label)
            else:
                for role in ROLES:
                    yield pytest.param(key, case, (role,), id=f"{label}-{role}")


def test_every_url_pattern_has_an_entry():
    keys = [key for key, _ in url_patterns()]
    missing = sorted(set(keys) - set(MATRIX))
    assert not missing, f"URL patterns with no line in the access matrix: {missing}"
    assert not sorted(set(MATRIX) - set(keys)), "entries for patterns that no longer exist"
    assert len(keys) == len(set(keys))


def request(client, case: Case, key: str, w: World):
    if case.path:
        url = case.path(w)
    else:
        url = reverse(key, kwargs=case.kwargs(w)) + case.query.format(private=w.private.pk, public=w.public.pk)
    data = case.data(w) if case.data else None
    method = getattr(client, case.method.lower())
    return method(url, data) if data is not None else method(url)


@pytest.mark.parametrize("key, case, roles", list(cases()))
def test_access(key, case, roles, world, users):
    for role in roles:
        response = request(client_for(role, users), case, key, world)
        expected = case.expect[role]
        if isinstance(expected, To):
            assert response.status_code == 302, (
                f"{role}: {response.status_code}, expected a redirect to {expected.name}"
            )
            assert response["Location"].split("?")[0] == expected.path(), f"{role}: {response['Location']}"
        else:
            assert response.status_code == expected, f"{role}: {response.status_code}, expected {expected}"
        if role != "owner" and role not in case.may_show_private:
            body = b"".join(response.streaming_content) if response.streaming else response.content
            assert PRIVATE_NAME.encode() not in body, f"{role} was shown the private photo's name"
            for name, data in world.files.items():
                assert body != data, f"{role} was shown the private photo's {name}"
                assert getattr(world.private, name).name.encode() not in body, (
                    f"{role} was shown the private photo's {name}"
                )


def test_the_matrix_covers_every_url_for_every_role():
    """Every case names an expectation for each of the five roles (the figure the README states)."""
    assert all(set(case.expect) == set(ROLES) for entries in MATRIX.values() for case in entries)
    assert len(MATRIX) == len(list(url_patterns()))


# -- private files by guessing, and CSRF on every form --------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_private_files_are_not_reachable_by_guessing_a_url(role, world, users, settings):
    client = client_for(role, users)
    for field_name in world.files:
        name = getattr(world.private, field_name).name  # photos/<id>/<kind>-<random>.<ext>
        for url in (
            settings.MEDIA_URL + name,
            "/media/" + name,
            "/" + name,
            "/static/" + name,
            "/static/../media/" + name,
            "/static/gallery/../../media/" + name,
            "/var/media/" + name,
        ):
            response = client.get(url)
            assert response.status_code == 404, f"{role}: {url} answered {response.status_code}"
    # The file view knows only its own kinds, and ids are random UUIDs: a made-up id is 404 for everybody.
    assert client.get(f"/photos/{world.private.pk}/files/..%2F..%2Fsettings.py/").status_code == 404
    assert (
        client.get(reverse("gallery-photo-file", args=["00000000-0000-4000-8000-000000000000", "original"])).status_code
        == 404
    )


def post_cases():
    for key, entries in MATRIX.items():
        for case in entries:
            if case.method == "POST":
                yield pytest.param(key, case, id="-".join(filter(None, [key, case.label])))


@pytest.mark.parametrize("key, case", list(post_cases()))
def test_every_post_is_refused_without_a_csrf_token(key, case, world, users):
    for role in ("anonymous", "owner", "admin"):
        client = Client(enforce_csrf_checks=True)
        if role != "anonymous":
            client.force_login(users.owner if role == "owner" else users.superuser)
        response = request(client, case, key, world)
        assert response.status_code == 403, f"{role}: {response.status_code}"


def test_every_post_form_in_the_templates_carries_a_csrf_token():
    import re
    from pathlib import Path

    from django.conf import settings

    forms = []
    for template in Path(settings.BASE_DIR, "templates").rglob("*.html"):
        for form in re.findall(r"<form\b.*?</form>", template.read_text(), flags=re.S | re.I):
            if re.search(r'method=["\']?post', form, flags=re.I):
                forms.append((template.name, "{% csrf_token %}" in form))
    assert forms, [name for name, ok in forms if not ok]
    assert all(ok for _, ok in forms), [name for name, ok in forms if not ok]


# -- junk in query strings and paths: never a server error (issue 10, defect 3) --------------------------------

# Every parameter a view of ours reads, and the admin's, each twice (the last one wins), with junk.
JUNK_QUERY = (
    "?metric=zzz&n=-5&n=abc&page=0&page=x&set=nope&sort=%00&ids=zzz,%00,..&a=zzz&b=%00&download=x&v=%00"
    "&next=//evil.example/&q=%00&o=zzz&p=-1&e=9&_to_field=zzz&all=%00&_changelist_filters=%00&n=0"
)
JUNK_ROLES = (*ROLES, "token")  # the owner's API token: a script's view of every URL
CONVERTER = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")
REGEX_GROUP = re.compile(r"\(\?P<\w+>[^)]*\)")
# Values for a path converter that name nothing: a made-up id, a slug nobody uses, odd text.
JUNK_PATH_VALUES = {
    "uuid": ("00000000-0000-4000-8000-000000000000", "ffffffff-ffff-4fff-bfff-ffffffffffff"),
    "int": ("0", "9" * 30),
    "slug": ("zzz", "-_-"),
    "str": ("zzz", "%00"),
    "path": ("zzz/..", "a%00b/c"),
}


def junk_urls(route: str) -> list[str]:
    """The route with every converter filled with junk (two variants), and regex groups with "zzz"."""
    urls = []
    for variant in (0, 1):
        path = CONVERTER.sub(lambda m, v=variant: JUNK_PATH_VALUES[m["converter"] or "str"][v], route)
        urls.append("/" + REGEX_GROUP.sub("zzz", path).replace("^", "").replace("$", ""))
    return urls


# Views whose 5xx is their answer, not a fault: /healthz says 503 whenever a service is down (in this world the
# active model is a stand-in, gallery/health.py).  For them junk must not change the answer it gives without junk.
REPORTS_WITH_5XX = {"/healthz"}


def server_error_from_junk(client, method: str, target: str, status: int) -> bool:
    """Whether ``status`` (the answer to ``target``, junk included) is a server error that the junk caused."""
    if status < 500:
        return False
    path = target.split("?", 1)[0]
    return path not in REPORTS_WITH_5XX or getattr(client, method.lower())(path).status_code != status


def junk_client(role: str, users) -> Client:
    if role == "token":
        from gallery.models import ApiToken

        return Client(headers={"Authorization": f"Bearer {ApiToken.issue(users.owner)}"})
    return client_for(role, users)


def junk_query_cases():
    for key, entries in MATRIX.items():
        for case in entries:
            yield pytest.param(key, case, id="-".join(filter(None, [key, case.method, case.label])))


@pytest.mark.parametrize("key, case", list(junk_query_cases()))
def test_junk_query_strings_never_cause_a_server_error(key, case, world, users):
    """Each pattern's own case (real ids of existing objects), with junk added to its query string."""
    url = case.path(world) if case.path else reverse(key, kwargs=case.kwargs(world))
    for role in JUNK_ROLES:
        client = junk_client(role, users)
        data = case.data(world) if case.data else None
        method = getattr(client, case.method.lower())
        target = url + JUNK_QUERY
        response = method(target, data) if data is not None and case.method != "GET" else method(target)
        assert not server_error_from_junk(client, case.method, target, response.status_code), (
            f"{role}: {case.method} {target} answered {response.status_code}"
        )


def test_junk_paths_never_cause_a_server_error(world, users):
    """Every route of the resolver with its converters filled with junk, with and without a junk query."""
    problems = []
    routes = [route for _, route in url_patterns()]
    for role in JUNK_ROLES:
        client = junk_client(role, users)
        for route in routes:
            for url in junk_urls(route):
                for target in (url, url + JUNK_QUERY):
                    status = client.get(target).status_code
                    if server_error_from_junk(client, "GET", target, status):
                        problems.append(f"{role}: GET {target} answered {status}")
    assert not problems, "\n".join(problems)
    assert len(routes) == len(MATRIX)
