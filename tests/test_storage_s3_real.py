"""Hosts without a shared disk, all real: gunicorn, two colouring workers, a training worker, Redis, moto's S3.

Each process is a "host" of its own: its own empty MEDIA_ROOT and its own empty model cache, and
the colouring workers' COLORSITE_MODEL_DIR names a folder that does not exist.  The only things
they share are PostgreSQL/SQLite (the rows), Redis (the messages) and the bucket on the S3
server process (tests/s3_server.py).  A photo goes up over HTTP, is coloured by either worker,
comes back down over HTTP and is deleted; a tiny version is trained from the staff page,
published to the bucket, activated, and colours the next photo on a worker that fetched it.
Afterwards every media folder is still empty: no file passed through a disk.  Then the S3 server
goes away mid-run: the photos wait and all end coloured, once each, once it is back.
"""

from __future__ import annotations

import io
import os
import time
from collections import Counter
from pathlib import Path

import pytest
from django.test import override_settings
from PIL import Image

from gallery.models import ApiToken, ModelVersion, Photo
from tests.live_site import LiveSite
from tests.s3_server import storage_settings
from tests.site_fixtures import PASSWORD, database_url, encode_image, make_photo, wait_for
from tests.staff_fixtures import EVAL_EXAMPLES, TINY_RUN
from tests.test_reliability_faults import COLOURED, wait_all_final

pytestmark = [pytest.mark.real, pytest.mark.django_db(transaction=True)]

HOSTS = ("web", "w1", "w2", "trainer")


@pytest.fixture(scope="module")
def cloud(django_db_setup, django_db_blocker, tmp_path_factory, s3_server):
    from django.conf import settings

    bucket = s3_server.new_bucket()
    logs = tmp_path_factory.mktemp("cloud-logs")
    hosts = {name: tmp_path_factory.mktemp(f"host-{name}") for name in HOSTS}
    with django_db_blocker.unblock():
        env = dict(
            os.environ,
            DJANGO_SETTINGS_MODULE="tests.site_settings",
            DATABASE_URL=database_url(),
            COLORSITE_MODEL_DIR=str(tmp_path_factory.mktemp("no-model") / "absent"),
            COLORSITE_SWEEP_INTERVAL="2",
            COLORSITE_AUTO_RETRY_DELAY="1",
            COLORSITE_EVAL_EXAMPLES=str(EVAL_EXAMPLES),
            COLORSITE_LEADERBOARD_SIZE="3",
            COLORSITE_TRAINING_CACHE_DIR="",
            PYTHONUNBUFFERED="1",
            TF_CPP_MIN_LOG_LEVEL="2",
            **s3_server.env(bucket),
        )
    site = LiveSite(env, logs)
    site.bucket, site.s3, site.hosts = bucket, s3_server, hosts

    def host_env(name: str) -> dict:
        return {
            "MEDIA_ROOT": str(hosts[name] / "media"),
            "COLORSITE_MODEL_CACHE": str(hosts[name] / "model-cache"),
            "COLORSITE_MODELS_ROOT": str(hosts[name] / "trained"),
        }

    site.host_env = host_env
    try:
        site.start_redis()
        site.start_worker("w1", beat=True, env=host_env("w1"))
        site.start_worker("w2", env=host_env("w2"))
        site.start_worker("trainer", queues=settings.COLORSITE_TRAINING_QUEUE, env=host_env("trainer"))
        site.start_web(workers=1, threads=4, env=host_env("web"))
        site.workers.wait_ready()
        yield site
    finally:
        site.stop()


@pytest.fixture
def here(cloud, settings, tmp_path):
    """This test process is one more host on the bucket, and the shipped model is published there."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.COLORSITE_S3_BUCKET = cloud.bucket
    settings.COLORSITE_MODELS_IN_STORAGE = True
    settings.COLORSITE_MODEL_CACHE = tmp_path / "model-cache"
    settings.STORAGES = dict(settings.STORAGES, default=storage_settings(cloud.s3, cloud.bucket))
    with override_settings(COLORSITE_MODEL_DIR=Path(settings.BASE_DIR) / "models" / "default"):
        shipped = ModelVersion.register_default()  # publishes the row the flush re-created
    assert shipped is not None and shipped.artefact_sha256
    cloud.shipped = shipped
    return cloud


def photo_bytes(i: int) -> bytes:
    return encode_image(make_photo(640, 480, seed=i), "PNG", compress_level=1)


def upload(site, token, count: int, first: int = 0) -> list[str]:
    ids = []
    for i in range(first, first + count):
        status, body, _ = site.upload(token, f"p{i}.png", photo_bytes(i))
        assert status == 201, body
        ids.append(body["photos"][0]["id"])
    return ids


def files_on_disk(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def cached_versions(site, host: str) -> set[str]:
    cache = site.hosts[host] / "model-cache"
    return {p.name for p in cache.iterdir() if p.is_dir() and not p.name.startswith(".")} if cache.exists() else set()


def test_two_workers_without_a_shared_disk_colour_train_and_activate(here, django_user_model):
    site = here
    owner = django_user_model.objects.create_user("cloudy", password=PASSWORD)
    token = ApiToken.issue(owner)
    django_user_model.objects.create_superuser("cloud-admin", password=PASSWORD)

    # upload -> coloured by both workers, each with the shipped model fetched into its own cache
    photos = wait_all_final(upload(site, token, 6))
    assert {p.status for p in photos.values()} == {Photo.DONE}, [p.failure_reason for p in photos.values()]
    assert {p.worker.split("@")[0] for p in photos.values()} == {"w1", "w2"}
    assert {p.model_version_id for p in photos.values()} == {site.shipped.pk}
    for host in ("w1", "w2"):
        assert cached_versions(site, host) == {site.shipped.artefact_sha256}

    # download over HTTP: the bytes in the bucket, streamed by the web process
    photo = next(iter(photos.values()))
    status, body, _ = site.request("GET", f"/api/photos/{photo.pk}/download/result/", token=token)
    assert status == 200
    stored = site.s3.client().get_object(Bucket=site.bucket, Key=photo.result.name)["Body"].read()
    assert body == stored
    with Image.open(io.BytesIO(body)) as image:
        assert image.size == (640, 480)

    # delete through the page: its objects go
    cookies = site.log_in("cloudy", PASSWORD)
    assert site.post_form(f"/photos/{photo.pk}/delete/", {}, cookies)[0] == 302
    assert site.s3.keys(site.bucket, f"photos/{photo.pk}/") == []
    assert len(site.s3.keys(site.bucket, "photos/")) == 5 * 6  # the others keep original, 2 renditions, 3 results

    # train a tiny version from the staff page on the training worker; it is published to the bucket
    admin = site.log_in("cloud-admin", PASSWORD)
    assert site.post_form("/staff/train/", TINY_RUN, admin)[0] == 302
    run = ModelVersion.objects.get(state__in=ModelVersion.IN_PROGRESS)
    wait_for(lambda: not ModelVersion.objects.get(pk=run.pk).in_progress, timeout=600, interval=1, message="training")
    run.refresh_from_db()
    assert run.state == ModelVersion.READY, (run.failure_reason, site.workers.log("trainer")[-3000:])
    assert run.artefact_sha256
    assert f"models/{run.artefact_sha256}.tar" in site.s3.keys(site.bucket, "models/")

    # activate it: the next photos are coloured with it by workers that fetch it from the bucket
    # (a tiny run is worse than grey: the activation guard asks first, and the explicit yes activates it)
    activate = f"/staff/versions/{run.pk}/activate/"
    assert site.post_form(activate, {}, admin)[0] == 200
    assert site.post_form(activate, {"confirm": "yes", "against": str(site.shipped.pk)}, admin)[0] == 302
    later = wait_all_final(upload(site, token, 4, first=10))
    assert {p.status for p in later.values()} == {Photo.DONE}
    assert {p.model_version_id for p in later.values()} == {run.pk}
    for p in later.values():
        assert run.artefact_sha256 in cached_versions(site, p.worker.split("@")[0])

    # the health of the site, as a load balancer asks the web process
    status, health, _ = site.request("GET", "/healthz")
    assert status == 200, health
    assert health["ok"] is True

    # no file of a photo or a model passed through any host's media folder
    for host in HOSTS:
        assert files_on_disk(site.hosts[host] / "media") == [], host


def test_the_store_going_away_mid_run_makes_photos_wait_and_loses_nothing(here, django_user_model):
    site = here
    token = ApiToken.issue(django_user_model.objects.create_user("stormy", password=PASSWORD))
    logs_before = {name: len(site.workers.log(name)) for name in ("w1", "w2")}
    ids = upload(site, token, 6, first=30)
    site.s3.go_down()
    time.sleep(8)  # every photo not yet coloured now fails to read or write: retried, then left to the sweep
    during = Counter(Photo.objects.filter(pk__in=ids).values_list("status", flat=True))
    site.s3.come_back()
    photos = wait_all_final(ids, timeout=300)
    wait_for(
        lambda: all(p.status == Photo.DONE for p in Photo.objects.filter(pk__in=ids)),
        timeout=300,
        interval=1,
        message="every photo coloured after the store came back",
    )
    photos = {str(p.pk): p for p in Photo.objects.filter(pk__in=ids)}
    assert during[Photo.DONE] < len(ids), "the outage came too late to hit any photo"
    log = "".join(site.workers.log(name)[logs_before[name] :] for name in ("w1", "w2"))
    coloured = Counter(photo_id for photo_id, _ in COLOURED.findall(log))
    for photo_id, photo in photos.items():
        assert coloured[photo_id] == 1, f"photo {photo_id} coloured {coloured[photo_id]} times"
        named = {getattr(photo, field).name for field in Photo.FILE_KINDS.values() if getattr(photo, field)}
        assert set(site.s3.keys(site.bucket, f"photos/{photo_id}/")) == named  # nothing lost, nothing stray
        body = site.s3.client().get_object(Bucket=site.bucket, Key=photo.result.name)["Body"].read()
        with Image.open(io.BytesIO(body)) as result:
            result.load()
            assert result.size == (640, 480)
    for host in HOSTS:
        assert files_on_disk(site.hosts[host] / "media") == [], host
