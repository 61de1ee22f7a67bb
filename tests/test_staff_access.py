"""Who may use each staff URL: every staff URL × (anonymous, ordinary user, staff, admin).

Anonymous -> the login page; an ordinary user -> 403; staff see the dashboard, progress and
leaderboards but get 403 on the changes; admins (superusers, or staff holding
gallery.manage_models) may do everything.
"""

import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import get_resolver, reverse
from PIL import Image

from gallery import training_runs
from gallery.models import ModelVersion, Photo
from gallery.tasks import colorize_photo
from tests.site_fixtures import make_photo
from tests.staff_fixtures import ROLES, TINY_RUN

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

# name -> (method, what staff get, what an admin gets).  GETs are 200 for staff and admins;
# the POSTs change something, so staff get 403 and admins are redirected back to the dashboard.
MATRIX = {
    "staff-dashboard": ("get", 200, 200),
    "staff-version-progress": ("get", 200, 200),
    "staff-leaderboard": ("get", 200, 200),
    "staff-leaderboard-picture": ("get", 200, 200),
    "staff-upload-file": ("get", 200, 200),
    "staff-train": ("post", 403, 302),
    "staff-version-cancel": ("post", 403, 302),
    "staff-version-activate": ("post", 403, 302),
    "staff-rollback": ("post", 403, 302),
}


@pytest.fixture
def world(make_version, users, fake_colorizer):
    """A previous and an active version (with a stored picture), a run in training, a coloured colour upload."""
    old = make_version("old", active=True)
    current = make_version("current")
    current.activate()
    name = default_storage.save(f"leaderboards/{current.pk}/x.jpg", ContentFile(b"\xff\xd8 a jpeg"))
    current.pictures, current.pictures_state = {"0001.jpg": name}, ModelVersion.PICTURES_READY
    current.save()
    running = make_version("running", state=ModelVersion.TRAINING)
    photo = Photo.create_from_upload(users.owner, "c.png", Image.fromarray(make_photo(colour=True)), "PNG", 1)
    colorize_photo(str(photo.pk))
    return {"old": old, "current": current, "running": running, "photo": photo}


def url_for(name: str, world) -> str:
    args = {
        "staff-version-progress": [world["running"].pk],
        "staff-version-cancel": [world["running"].pk],
        "staff-version-activate": [world["old"].pk],
        "staff-leaderboard": [world["current"].pk],
        "staff-leaderboard-picture": [world["current"].pk, "0001"],
        "staff-upload-file": [world["photo"].pk, "result-preview"],
    }
    return reverse(name, args=args.get(name, []))


def confirmed(world) -> dict:
    """The activation guard's confirmation, given with the world's active version in front of the admin."""
    return {"confirm": "yes", "against": str(world["current"].pk)}


def test_the_matrix_covers_every_staff_url():
    names = {name for name in get_resolver().reverse_dict if isinstance(name, str) and name.startswith("staff-")}
    assert names == set(MATRIX)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(MATRIX))
def test_access(role, name, role_clients, world):
    method, staff_status, admin_status = MATRIX[name]
    # Stopping the training run, moving the active model back, or queueing another run would change
    # the world for the next request; each request here runs in a test of its own.
    if name == "staff-train":
        training_runs.request_cancel(world["running"])
        ModelVersion.objects.filter(pk=world["running"].pk).update(state=ModelVersion.CANCELLED)
    data = {key: value for key, value in TINY_RUN.items()} if name == "staff-train" else {}
    if name in ("staff-version-activate", "staff-rollback"):  # past the activation guard's page: its explicit yes
        data = confirmed(world)
    response = getattr(role_clients[role], method)(url_for(name, world), data)
    expected = {"anonymous": 302, "user": 403, "staff": staff_status, "admin": admin_status}[role]
    assert response.status_code == expected, response.content[:300]
    if role == "anonymous":
        assert response["Location"].startswith(reverse("login") + "?next=")
    elif role == "admin" and method == "post":
        assert response["Location"] == reverse("staff-dashboard")


def test_admins_changes_take_effect_and_staff_ones_do_not(role_clients, world):
    activate = reverse("staff-version-activate", args=[world["old"].pk])
    assert role_clients["staff"].post(activate, confirmed(world)).status_code == 403
    assert ModelVersion.active() == world["current"]
    assert role_clients["admin"].post(activate, confirmed(world)).status_code == 302
    assert ModelVersion.active() == world["old"]


def test_the_dedicated_permission_makes_a_staff_member_an_admin(model_manager, world):
    c = Client()
    c.force_login(model_manager)
    assert c.post(reverse("staff-version-cancel", args=[world["running"].pk])).status_code == 302
    assert ModelVersion.objects.get(pk=world["running"].pk).cancel_requested
    assert c.post(reverse("staff-rollback"), confirmed(world)).status_code == 302
    assert ModelVersion.active() == world["old"]


def test_a_user_with_the_permission_but_not_staff_is_refused(world):
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create_user("eve", password="x")
    user.user_permissions.add(Permission.objects.get(codename="manage_models"))
    c = Client()
    c.force_login(user)
    assert c.post(reverse("staff-rollback")).status_code == 403


@pytest.mark.parametrize("name", ["staff-train", "staff-version-cancel", "staff-version-activate", "staff-rollback"])
def test_changes_refuse_get(role_clients, world, name):
    assert role_clients["admin"].get(url_for(name, world)).status_code == 405


@pytest.mark.parametrize("name", ["staff-dashboard", "staff-leaderboard", "staff-version-progress"])
def test_pages_refuse_post(role_clients, world, name):
    assert role_clients["admin"].post(url_for(name, world)).status_code == 405


def test_csrf_is_enforced_on_activation(users, world):
    c = Client(enforce_csrf_checks=True)
    c.force_login(users.superuser)
    assert c.post(url_for("staff-version-activate", world)).status_code == 403
    assert ModelVersion.active() == world["current"]


def test_staff_see_only_leaderboard_renditions_of_colour_uploads(role_clients, world, users):
    staff = role_clients["staff"]
    assert staff.get(reverse("staff-upload-file", args=[world["photo"].pk, "original"])).status_code == 404
    assert staff.get(reverse("staff-upload-file", args=[world["photo"].pk, "result"])).status_code == 404
    grey_photo = Photo.create_from_upload(users.owner, "g.png", Image.fromarray(make_photo()), "PNG", 1)
    colorize_photo(str(grey_photo.pk))
    assert staff.get(reverse("staff-upload-file", args=[grey_photo.pk, "result-preview"])).status_code == 404
    # and the gallery's own file view still treats staff like anybody else
    assert staff.get(reverse("gallery-photo-file", args=[world["photo"].pk, "preview"])).status_code == 404


def test_the_dashboard_is_linked_from_the_django_admin(role_clients):
    page = role_clients["admin"].get(reverse("admin:index")).content.decode()
    assert f'href="{reverse("staff-dashboard")}"' in page
    changelist = role_clients["admin"].get(reverse("admin:gallery_modelversion_changelist")).content.decode()
    assert f'href="{reverse("staff-dashboard")}"' in changelist
