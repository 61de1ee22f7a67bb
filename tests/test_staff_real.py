"""All real: an admin trains a tiny model through the staff page, a real Celery worker on the training
queue trains and evaluates it, and activating it changes what the real colouring workers use.

Nothing is mocked: the engine trains (1 epoch on 16 photos) and evaluates on 8 test photos
(COLORSITE_EVAL_EXAMPLES, set for the worker by tests/staff_fixtures.py: training_worker).
"""

import json

import pytest
from django.urls import reverse
from PIL import Image

from gallery.models import ModelVersion, Photo
from tests.site_fixtures import wait_for
from tests.staff_fixtures import EVAL_EXAMPLES, TINY_RUN, model_files, wait_until_final
from tests.test_site_real import real_grey_photo

pytestmark = [pytest.mark.real, pytest.mark.django_db(transaction=True)]

REPORT_KEYS = ("rmse_ab", "psnr", "ssim", "auc", "colourfulness", "colourfulness_true", "delta_colourfulness")


@pytest.fixture
def admin_client(client, users):
    client.force_login(users.superuser)
    return client


def start_run(client, **changes) -> ModelVersion:
    response = client.post(reverse("staff-train"), {**TINY_RUN, **changes})
    assert response.status_code == 302
    assert response["Location"] == reverse("staff-dashboard")
    return ModelVersion.objects.get(state__in=ModelVersion.IN_PROGRESS)


def colour_a_photo(users, index: int) -> Photo:
    photo = Photo.create_from_upload(
        users.owner, f"old{index}.png", Image.fromarray(real_grey_photo(index, 320)), "PNG", 1
    )
    wait_for(lambda: Photo.objects.get(pk=photo.pk).is_final, timeout=300, message="the photo to be coloured")
    photo.refresh_from_db()
    assert photo.status == Photo.DONE, photo.failure_reason
    return photo


def test_a_version_trained_from_the_page_colours_once_activated(real_training, real_workers, admin_client, users):
    shipped = ModelVersion.active()
    assert shipped is not None
    assert shipped.number == 1  # registered by migrate, no manual step
    log_start = len(real_training.log("trainer"))  # the session-wide worker may hold other tests' crashes

    version = wait_until_final(start_run(admin_client))
    assert version.state == ModelVersion.READY, (version.failure_reason, real_training.log("trainer")[-3000:])
    assert version.created_by == users.superuser
    assert version.path.parent == real_training.models_root
    assert {"model.keras", "model.json", "train_log.json", "evaluation.json", "evaluation_photos.json"} <= set(
        model_files(version.path)
    )
    # its training log ...
    assert [row["epoch"] for row in version.train_log] == [1]
    assert version.train_log[0]["loss"] > 0
    assert version.train_log[0]["val_loss"] > 0
    # ... and its full evaluation report on the test split, beside the grey baseline
    assert version.summary["images"] == EVAL_EXAMPLES
    assert len(version.evaluation["rows"]) == EVAL_EXAMPLES
    for side in ("model", "grey"):
        assert set(REPORT_KEYS) <= set(version.summary[side])
    assert 0 < version.summary["model"]["rmse_ab"] < 100
    assert 5 < version.summary["grey"]["psnr"] < 60
    # ... and on the everyday photos' test split, with its source sets
    assert version.photos_summary["images"] == EVAL_EXAMPLES
    assert len(version.photos_evaluation["rows"]) == EVAL_EXAMPLES
    assert sum(part["images"] for part in version.photos_summary["by_source"].values()) == EVAL_EXAMPLES
    assert 0 <= version.photos_summary["beats_grey"] <= 1
    assert version.training_parameters["max_examples"] == 16
    assert version.parameter_count > 0
    assert ModelVersion.active() == shipped  # ready is not active: an admin decides

    page = admin_client.get(reverse("staff-dashboard"), {"a": version.pk}).content.decode()
    assert f'<td class="model">{version.summary["model"]["rmse_ab"]:.2f}</td>' in page

    # the training worker draws the leaderboard pictures once, into media
    wait_for(
        lambda: ModelVersion.objects.get(pk=version.pk).pictures_state == ModelVersion.PICTURES_READY,
        timeout=120,
        message="the leaderboard pictures",
    )
    version.refresh_from_db()
    best, _ = version.ranked("rmse_ab", 1)
    picture = admin_client.get(reverse("staff-leaderboard-picture", args=[version.pk, best[0]["file"][:-4]]))
    assert picture.status_code == 200
    assert picture["Content-Type"] == "image/jpeg"

    # one click: the real colouring workers use the new version from their next photo, no restart
    # a tiny run is worse than grey: the guard asks first, and the explicit yes activates it
    activate = reverse("staff-version-activate", args=[version.pk])
    assert admin_client.post(activate).status_code == 200
    assert ModelVersion.active() == shipped
    assert admin_client.post(activate, {"confirm": "yes", "against": str(shipped.pk)}).status_code == 302
    assert ModelVersion.active() == version
    photo = colour_a_photo(users, 20)
    assert photo.model_version == version
    assert photo.model_name.startswith(f"{version.label} (")

    # and another brings the shipped model back
    assert (
        admin_client.post(reverse("staff-rollback"), {"confirm": "yes", "against": str(version.pk)}).status_code == 302
    )
    assert ModelVersion.active() == shipped
    assert colour_a_photo(users, 21).model_version == shipped
    assert "Traceback" not in real_training.log("trainer")[log_start:]


def test_cancelling_a_run_leaves_the_active_version_unchanged(real_training, real_workers, admin_client, users):
    active = ModelVersion.active()
    version = start_run(admin_client, epochs=200)
    wait_for(
        lambda: ModelVersion.objects.get(pk=version.pk).progress.get("stage") in ("batch", "epoch"),
        timeout=180,
        message="the run to be training",
    )
    assert admin_client.post(reverse("staff-version-cancel", args=[version.pk])).status_code == 302
    version = wait_until_final(version, timeout=180)
    assert version.state == ModelVersion.CANCELLED, version.failure_reason
    assert version.train_log == [] or version.train_log[-1]["epoch"] < 200
    assert not version.path.exists()  # nothing of it is left to load
    assert ModelVersion.active() == active
    assert colour_a_photo(users, 22).model_version == active


def test_a_fine_tune_of_the_active_version_from_the_page(real_training, real_workers, admin_client, users, tmp_path):
    """The active version is a tiny scratch model, so the fine-tune (the real recipe, on 16 photos) stays short."""
    from tests.ml_support import write_tiny_model

    active = ModelVersion.register_folder(write_tiny_model(tmp_path / "tiny"), label="tiny-active", activate=True)
    log_start = len(real_training.log("trainer"))
    response = admin_client.post(reverse("staff-train"), {"kind": "finetune", "max_examples": 16})
    assert response.status_code == 302
    version = wait_until_final(ModelVersion.objects.get(state__in=ModelVersion.IN_PROGRESS))
    assert version.state == ModelVersion.READY, (version.failure_reason, real_training.log("trainer")[-3000:])
    info = json.loads((version.path / "model.json").read_text())
    assert info["init_from"]["path"] == str(active.path)  # continued from the active version's weights
    assert (info["arch"], info["filters"], info["depth"]) == ("scratch", 4, 1)
    assert "--init-from" in info["config"]["command"]
    assert [row["epoch"] for row in version.train_log] == [1]
    assert version.summary["images"] == EVAL_EXAMPLES
    assert version.photos_summary["images"] == EVAL_EXAMPLES
    assert ModelVersion.active() == active  # ready, not active
    page = admin_client.get(reverse("staff-dashboard")).content.decode()
    assert f'data-candidate="{version.pk}" data-active="{active.pk}"' in page  # shown against the active one
    assert "Traceback" not in real_training.log("trainer")[log_start:]
