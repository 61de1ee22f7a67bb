"""Media and model versions in S3-compatible object storage, against a real server process (tests/s3_server.py).

This process talks to moto's standalone server over HTTP as it would to AWS: photos' files are
objects in a private bucket, served only through the view that checks access, deleted with
their photo (every kept result of a re-coloured photo too, read back through share links and
batch zips); an outage is an OSError the site already handles; a model version travels as one
artefact named by its SHA-256 and is fetched once into an empty local cache, hash checked.
The two-worker, no-shared-disk path with real processes is tests/test_storage_s3_real.py.
"""

from __future__ import annotations

import hashlib
import io
import json
import urllib.error
import urllib.request
import zipfile

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.urls import reverse
from PIL import Image

from gallery import model_store
from gallery.models import ModelVersion, Photo, ShareLink
from gallery.tasks import colorize_photo
from tests.site_fixtures import upload_file

pytestmark = [pytest.mark.django_db]


def upload(client, image_bytes, name="old.png"):
    return client.post(reverse("api-photos"), {"file": upload_file(name, image_bytes())})


def test_an_upload_is_stored_in_the_bucket_and_nothing_on_disk(s3_media, owner_client, image_bytes, settings):
    response = upload(owner_client, image_bytes)
    assert response.status_code == 201, response.content
    photo = Photo.objects.get()
    keys = s3_media.keys(s3_media.bucket, f"photos/{photo.pk}/")
    assert keys == sorted([photo.original.name, photo.preview.name, photo.thumb.name])
    assert not settings.MEDIA_ROOT.exists()  # no file of it went to the local disk


def test_objects_are_private(s3_media, owner_client, image_bytes):
    upload(owner_client, image_bytes)
    photo = Photo.objects.get()
    acl = s3_media.client().get_object_acl(Bucket=s3_media.bucket, Key=photo.original.name)
    assert [grant["Permission"] for grant in acl["Grants"]] == ["FULL_CONTROL"]  # the owner's only
    with pytest.raises(urllib.error.HTTPError) as refused:  # an anonymous GET of the object itself
        urllib.request.urlopen(f"{s3_media.endpoint}/{s3_media.bucket}/{photo.original.name}", timeout=10)
    assert refused.value.code == 403


def test_the_view_streams_the_owners_file_and_hides_it_from_others(s3_media, owner_client, other_client, image_bytes):
    upload(owner_client, image_bytes)
    photo = Photo.objects.get()
    stored = s3_media.client().get_object(Bucket=s3_media.bucket, Key=photo.original.name)["Body"].read()
    response = owner_client.get(photo.file_url("original", download=True))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == stored
    assert response["Content-Type"] == "image/png"
    assert other_client.get(photo.file_url("original")).status_code == 404


def test_colouring_writes_the_result_to_the_bucket(s3_media, owner_client, image_bytes, fake_colorizer):
    upload(owner_client, image_bytes)
    photo = Photo.objects.get()
    colorize_photo.apply(args=[str(photo.pk)])
    photo.refresh_from_db()
    assert photo.status == Photo.DONE, photo.failure_reason
    keys = set(s3_media.keys(s3_media.bucket, f"photos/{photo.pk}/"))
    assert {photo.result.name, photo.result_thumb.name, photo.result_preview.name} <= keys
    with Image.open(io.BytesIO(owner_client.get(photo.file_url("result")).getvalue())) as result:
        assert result.size == (photo.width, photo.height)


def test_deleting_a_photo_deletes_its_objects(
    s3_media, owner_client, image_bytes, fake_colorizer, django_capture_on_commit_callbacks
):
    upload(owner_client, image_bytes)
    photo = Photo.objects.get()
    colorize_photo.apply(args=[str(photo.pk)])
    with django_capture_on_commit_callbacks(execute=True):
        assert owner_client.post(reverse("gallery-photo-delete", args=[photo.pk])).status_code == 302
    assert s3_media.keys(s3_media.bucket, "photos/") == []


def test_an_upload_while_the_store_is_down_is_refused_with_a_message_and_leaves_nothing(
    s3_media, owner_client, image_bytes
):
    s3_media.go_down()
    response = upload(owner_client, image_bytes)
    assert response.status_code == 400
    assert "storage failed" in response.json()["rejected"][0]["error"]
    assert "127.0.0.1" not in response.content.decode()  # no endpoint, no exception text
    assert not Photo.objects.exists()
    s3_media.come_back()
    assert s3_media.keys(s3_media.bucket) == []


def test_a_store_that_is_down_is_an_os_error(s3_media):
    s3_media.go_down()
    with pytest.raises(OSError):
        default_storage.exists("photos/x")
    with pytest.raises(OSError):
        default_storage.open("photos/x", "rb")


def test_a_missing_object_is_file_not_found(s3_media):
    with pytest.raises(FileNotFoundError):
        default_storage.open("photos/none.png", "rb")


# -- kept results, share links and batch zips in the bucket (gallery.models.colourings, share_views, zip_stream) --


def bucket_bytes(s3_media, name: str) -> bytes:
    return s3_media.client().get_object(Bucket=s3_media.bucket, Key=name)["Body"].read()


@pytest.fixture
def recoloured_in_bucket(s3_media, owner_client, image_bytes, fake_colorizer):
    """A photo coloured twice with its media in the bucket: (photo, earlier result, current result)."""
    upload(owner_client, image_bytes)
    photo = Photo.objects.get()
    colorize_photo.apply(args=[str(photo.pk)])
    photo.refresh_from_db()
    assert photo.recolour(512, "vivid")
    colorize_photo.apply(args=[str(photo.pk)])
    photo.refresh_from_db()
    assert photo.status == Photo.DONE, photo.failure_reason
    current = photo.colourings.get(result=photo.result.name)
    return photo, photo.colourings.exclude(pk=current.pk).get(), current


def kept_keys(colouring) -> set[str]:
    return {getattr(colouring, field).name for field in colouring.FILE_KINDS.values()}


def test_kept_results_are_objects_served_from_the_bucket_and_deleted_there(
    s3_media, owner_client, recoloured_in_bucket, django_capture_on_commit_callbacks
):
    photo, earlier, current = recoloured_in_bucket
    keys = set(s3_media.keys(s3_media.bucket, f"photos/{photo.pk}/"))
    assert kept_keys(earlier) | kept_keys(current) <= keys
    response = owner_client.get(earlier.file_url("result", download=True))
    assert b"".join(response.streaming_content) == bucket_bytes(s3_media, earlier.result.name)
    with django_capture_on_commit_callbacks(execute=True):
        assert earlier.delete_with_files()
    assert not kept_keys(earlier) & set(s3_media.keys(s3_media.bucket, f"photos/{photo.pk}/"))
    with django_capture_on_commit_callbacks(execute=True):
        assert owner_client.post(reverse("gallery-photo-delete", args=[photo.pk])).status_code == 302
    assert s3_media.keys(s3_media.bucket, "photos/") == []


def test_a_share_link_and_a_batch_zip_read_the_result_shown_now_from_the_bucket(
    s3_media, client, owner_client, recoloured_in_bucket
):
    photo, earlier, _ = recoloured_in_bucket
    assert earlier.make_current()
    link = ShareLink.renew(photo)
    shared = client.get(reverse("gallery-share-file", args=[link.key, "result"]))
    assert b"".join(shared.streaming_content) == bucket_bytes(s3_media, earlier.result.name)
    response = owner_client.post(
        reverse("gallery-batch"), {"action": "download", "what": "result", "ids": [str(photo.pk)]}
    )
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert [archive.read(name) for name in archive.namelist()] == [bucket_bytes(s3_media, earlier.result.name)]


# -- model versions as artefacts ------------------------------------------------------------------------


def fake_model_folder(path, weights: bytes = b"weights"):
    path.mkdir(parents=True)
    (path / "model.json").write_text(json.dumps({"family": "classification", "arch": "scratch"}))
    (path / "model.keras").write_bytes(weights)
    (path / "README.md").write_text("how it was trained")
    (path / "best.weights.h5").write_bytes(b"checkpoint, not published")
    return path


def test_a_registered_folder_is_published_once_keyed_by_its_hash(s3_media, tmp_path):
    folder = fake_model_folder(tmp_path / "run")
    version = ModelVersion(label="x", directory=str(folder))
    sha = model_store.publish(version)
    with open(tmp_path / "packed.tar", "w+b") as packed:
        assert model_store.pack(folder, packed) == sha  # reproducible
    assert s3_media.keys(s3_media.bucket, "models/") == [f"models/{sha}.tar"]
    body = s3_media.client().get_object(Bucket=s3_media.bucket, Key=f"models/{sha}.tar")["Body"].read()
    assert hashlib.sha256(body).hexdigest() == sha
    assert model_store.publish(ModelVersion(label="y", directory=str(folder))) == sha
    assert s3_media.keys(s3_media.bucket, "models/") == [f"models/{sha}.tar"]  # stored once


def test_a_host_fetches_a_version_once_into_its_cache(s3_media, tmp_path, settings):
    folder = fake_model_folder(tmp_path / "run", weights=b"\x00" * 100_000)
    sha = model_store.publish(ModelVersion(label="x", directory=str(folder)))
    local = model_store.cached(sha)
    assert local == settings.COLORSITE_MODEL_CACHE / sha
    assert sorted(p.name for p in local.iterdir()) == ["README.md", "model.json", "model.keras"]
    assert (local / "model.keras").read_bytes() == b"\x00" * 100_000
    s3_media.go_down()
    assert model_store.cached(sha) == local  # the second time: no download at all


def test_a_damaged_artefact_is_refused_and_not_cached(s3_media, tmp_path, settings):
    sha = model_store.publish(ModelVersion(label="x", directory=str(fake_model_folder(tmp_path / "run"))))
    s3_media.client().put_object(Bucket=s3_media.bucket, Key=f"models/{sha}.tar", Body=b"not the model")
    with pytest.raises(model_store.ArtefactDamaged):
        model_store.cached(sha)
    assert not (settings.COLORSITE_MODEL_CACHE / sha).exists()
    assert [p.name for p in settings.COLORSITE_MODEL_CACHE.iterdir() if not p.name.endswith(".lock")] == []


def test_the_worker_colours_with_the_active_version_from_the_store(s3_media, tmp_path, owner_client, image_bytes):
    """The active version's folder is not on this 'host' any more: the task fetches its artefact and loads it."""
    from tests.ml_support import write_tiny_model

    folder = write_tiny_model(tmp_path / "tiny")
    version = ModelVersion.register_folder(folder, label="tiny", activate=True)
    assert version.artefact_sha256
    version.directory = str(tmp_path / "gone")
    version.save(update_fields=["directory"])
    (folder / "model.keras").unlink()
    upload(owner_client, image_bytes)
    photo = Photo.objects.get()
    colorize_photo.apply(args=[str(photo.pk)])
    photo.refresh_from_db()
    assert photo.status == Photo.DONE, photo.failure_reason
    assert photo.model_version == version


# -- health -----------------------------------------------------------------------------------------------


def test_healthz_is_200_when_everything_answers(client, media_root):
    response = client.get("/healthz")
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "ok": True,
        "checks": {name: {"ok": True, "status": "ok"} for name in ("database", "broker", "storage", "model")},
    }


def test_healthz_is_503_and_says_which_when_the_store_is_down(client, s3_media):
    ModelVersion.objects.all().delete()  # the model check then reads COLORSITE_MODEL_DIR's files
    s3_media.go_down()
    response = client.get("/healthz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["storage"] == {"ok": False, "status": "unreachable"}
    assert checks["database"]["ok"]
    assert checks["broker"]["ok"]
    text = response.content.decode()
    assert "127.0.0.1" not in text
    assert "/" not in text  # no paths, no URLs
    assert s3_media.bucket not in text


def test_healthz_says_when_the_active_models_artefact_is_missing(client, s3_media, tmp_path):
    version = ModelVersion.register_folder(fake_model_folder(tmp_path / "run"), label="v", activate=True)
    s3_media.client().delete_object(Bucket=s3_media.bucket, Key=model_store.artefact_name(version.artefact_sha256))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["model"] == {"ok": False, "status": "missing"}
    assert response.json()["checks"]["storage"]["ok"]


def test_the_health_command_prints_each_check_and_fails_when_one_fails(s3_media, capsys):
    call_command("health")
    out = capsys.readouterr().out
    assert [line.split()[:2] for line in out.splitlines()] == [
        ["database", "ok"],
        ["broker", "ok"],
        ["storage", "ok"],
        ["model", "ok"],
    ]
    s3_media.go_down()
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="storage"):
        call_command("health", "--json")
    assert json.loads(capsys.readouterr().out)["checks"]["storage"]["status"] == "unreachable"
