"""Faults with real processes: nothing is lost, nothing is coloured twice.

One live site for the module (tests/live_site.py): a redis-server of its own (so it can be
stopped), gunicorn, and one Celery worker "f1" running the periodic sweep every 2 s, on this
session's test database, with the shipped model.  Photos go in over HTTP with an API token, as
a script would send them; the tests watch the Photo rows and the worker's log, where every
successful colouring writes "photo <id> coloured by <worker>".

FAULTS_SURVIVED counts the faults of issue 5 that this module (with test_staff_*) shows survived;
the README states it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from gallery.models import ApiToken, Photo
from tests.live_site import LiveSite
from tests.site_fixtures import database_url, encode_image, make_photo, shipped_model_dir, wait_for

pytestmark = [pytest.mark.real, pytest.mark.django_db(transaction=True)]

COLOURED = re.compile(r"/\S+\] photo ([0-9a-f-]{36}) coloured by (\S+)")  # Celery's line for it, one per colouring
SWEEP_INTERVAL = 2


@pytest.fixture(scope="module")
def site(django_db_setup, django_db_blocker, tmp_path_factory):
    media = tmp_path_factory.mktemp("fault-media")
    logs = tmp_path_factory.mktemp("fault-logs")
    with django_db_blocker.unblock():
        env = dict(
            os.environ,
            DJANGO_SETTINGS_MODULE="tests.fault_settings",
            DATABASE_URL=database_url(),
            MEDIA_ROOT=str(media),
            COLORSITE_MODEL_DIR=str(shipped_model_dir()),
            COLORSITE_SWEEP_INTERVAL=str(SWEEP_INTERVAL),
            COLORSITE_TEST_STORAGE_FAULT=str(logs / "storage-fault"),
            PYTHONUNBUFFERED="1",
            TF_CPP_MIN_LOG_LEVEL="2",
        )
    live = LiveSite(env, logs)
    live.media, live.fault_switch = media, logs / "storage-fault"
    try:
        live.start_redis()
        live.start_worker("f1", beat=True)
        live.start_web(workers=1, threads=4)
        live.workers.wait_ready()
        live.workers.warm_up()
        yield live
    finally:
        live.stop()


@pytest.fixture
def token(django_user_model):
    return ApiToken.issue(django_user_model.objects.create_user("faulty", password="x"))


def photo_bytes(i: int, width: int = 1200, height: int = 900) -> bytes:
    return encode_image(make_photo(width, height, seed=i), "PNG", compress_level=1)


def upload_batch(site, token, count: int, **size) -> list[str]:
    ids = []
    for i in range(count):
        status, body, _ = site.upload(token, f"p{i}.png", photo_bytes(i, **size))
        assert status == 201, body
        ids.append(body["photos"][0]["id"])
    return ids


def wait_all_final(ids, timeout: float = 300):
    wait_for(
        lambda: Photo.objects.filter(pk__in=ids, status__in=Photo.FINAL).count() == len(ids),
        timeout=timeout,
        interval=0.5,
        message=f"{len(ids)} photos to end",
    )
    return {str(p.pk): p for p in Photo.objects.filter(pk__in=ids)}


def assert_each_done_once(site, photos: dict, log: str):
    """Every photo DONE with its files complete, coloured exactly once, and nothing else left in its folder."""
    coloured = Counter(photo_id for photo_id, _ in COLOURED.findall(log))
    for photo_id, photo in photos.items():
        assert photo.status == Photo.DONE, (photo_id, photo.failure_reason)
        assert coloured[photo_id] == 1, f"photo {photo_id} coloured {coloured[photo_id]} times"
        folder = site.media / "photos" / photo_id
        named = {getattr(photo, field).name for field in Photo.FILE_KINDS.values() if getattr(photo, field)}
        assert {f"photos/{photo_id}/{p.name}" for p in folder.iterdir()} == named  # no strays, no partial files
        with Image.open(site.media / photo.result.name) as result:
            result.load()  # decodes completely: not a half-written file
            assert result.size == (photo.width, photo.height)


# -- fault 1: a worker killed with SIGKILL in the middle of a photo ---------------------------------------------


def running_photo(site, owner, exclude=(), timeout=60):
    """(photo id, pid) of a photo (not in ``exclude``) being coloured right now by a pool process of worker f1."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pool = site.worker_pool_pids("f1")
        running = Photo.objects.filter(owner=owner, status=Photo.RUNNING).exclude(pk__in=exclude)
        for pk, worker in running.values_list("pk", "worker"):
            pid = int(worker.rsplit(":", 1)[1])
            if pid in pool:
                return str(pk), pid
        time.sleep(0.01)
    raise AssertionError("no photo was being coloured")


def test_a_worker_killed_mid_photo_loses_nothing_and_colours_nothing_twice(site, token):
    owner = ApiToken.user_for(token)
    uploads = ThreadPoolExecutor(max_workers=1).submit(upload_batch, site, token, 20)  # the batch arrives meanwhile
    # 1. The pool process colouring a photo is killed: the worker's main process queues the photo again at once.
    victim, pid = running_photo(site, owner)
    os.kill(pid, signal.SIGKILL)
    wait_for(
        lambda: not Photo.objects.filter(pk=victim, status=Photo.RUNNING, worker__endswith=f":{pid}").exists(),
        timeout=60,
        message="the photo of the killed process to be taken back",
    )
    # 2. The whole worker (main process and pool) is killed mid-photo, then started again under its name.
    victim2, _ = running_photo(site, owner, exclude=[victim])
    site.kill_worker("f1")
    assert Photo.objects.get(pk=victim2).status == Photo.RUNNING  # left running by a dead worker
    site.start_worker("f1", beat=True)
    site.workers.wait_ready()
    ids = uploads.result(timeout=300)

    photos = wait_all_final(ids)
    assert_each_done_once(site, photos, site.workers.log("f1"))
    assert photos[victim].runs == 2, (photos[victim].runs, photos[victim2].runs)
    assert photos[victim2].runs == 2, (photos[victim].runs, photos[victim2].runs)
    assert Counter(p.runs for p in photos.values()) == {1: 18, 2: 2}
    assert "requeued 1 photo(s) this worker (f1@" in site.workers.log("f1", since_start=True)


# -- fault 2: Redis down while photos are uploaded ----------------------------------------------------------------


def test_uploads_while_redis_is_down_are_coloured_once_it_is_back(site, token):
    site.stop_redis()
    ids, slowest = [], 0.0
    for i in range(5):
        status, body, seconds = site.upload(token, f"offline{i}.png", photo_bytes(i, 400, 300))
        assert status == 201, body
        assert body["photos"][0]["status"] == "queued"
        assert "cannot be reached right now" in body["notice"]
        ids.append(body["photos"][0]["id"])
        slowest = max(slowest, seconds)
    assert slowest < 5, f"an upload took {slowest:.1f} s with Redis down"
    # The owner sees them wait (the pages poll this), and they stay kept while Redis is down.
    time.sleep(2 * SWEEP_INTERVAL)
    status, body, _ = site.request("GET", f"/api/photos/status/?ids={','.join(ids)}", token=token)
    assert status == 200
    assert [p["status"] for p in body["photos"]] == ["queued"] * 5

    site.start_redis()  # empty: the messages and marks of before are gone too
    photos = wait_all_final(ids, timeout=120)
    assert_each_done_once(site, photos, site.workers.log("f1"))
    assert all(p.runs == 1 for p in photos.values())
    assert re.search(r"re-sent [1-9]\d* queued photo", site.workers.log("f1"))


# -- fault 4: storage fails while a result is written -----------------------------------------------------------


def test_storage_failing_mid_write_shows_no_half_file_and_retries(site, token):
    site.fault_switch.write_text("/result-")  # the next result files are written halfway, then the disk is "full"
    try:
        (photo_id,) = upload_batch(site, token, 1, width=800, height=600)
        log_mark = len(site.workers.log("f1"))
        wait_for(
            lambda: "Retry in" in site.workers.log("f1")[log_mark:],
            timeout=120,
            message="the worker to meet the storage failure",
        )
        photo = Photo.objects.get(pk=photo_id)
        assert photo.status in (Photo.QUEUED, Photo.RUNNING)
        assert not photo.result
        folder = site.media / "photos" / photo_id
        assert not [p.name for p in folder.iterdir() if p.name.startswith(("result", ".partial"))]
        status, body, _ = site.request("GET", f"/api/photos/{photo_id}/download/result/", token=token)
        assert status == 404
        assert body["error"].startswith("no result yet")
    finally:
        site.fault_switch.unlink()  # the disk has room again: the retry (4 s later) stores the result
    photos = wait_all_final([photo_id], timeout=120)
    assert_each_done_once(site, photos, site.workers.log("f1"))
    assert photos[photo_id].runs == 2
    status, body, _ = site.request("GET", f"/api/photos/{photo_id}/download/result/", token=token)
    assert status == 200
    assert body == (site.media / photos[photo_id].result.name).read_bytes()


# -- fault 3: the active model's file is missing or corrupt ----------------------------------------------------


def test_a_broken_model_fails_photos_clearly_and_the_site_stays_up(site, token, django_user_model, tmp_path):
    from gallery.failures import MODEL_UNAVAILABLE
    from gallery.models import ModelVersion

    shipped = ModelVersion.active()
    copy = tmp_path / "copy-of-shipped"
    shutil.copytree(shipped.path, copy)
    broken = ModelVersion.register_folder(copy, label="copy", activate=True)
    django_user_model.objects.create_superuser("boss", password="x")
    admin, owner = site.log_in("boss", "x"), site.log_in("faulty", "x")

    (copy / "model.keras").write_bytes(b"PK\x03\x04 not really a Keras file" * 100)  # corrupt
    (corrupt,) = upload_batch(site, token, 1, width=320, height=240)
    wait_all_final([corrupt], timeout=120)
    (copy / "model.keras").unlink()  # then missing
    (missing,) = upload_batch(site, token, 1, width=320, height=240)
    photos = wait_all_final([missing], timeout=120) | {corrupt: Photo.objects.get(pk=corrupt)}
    for photo in photos.values():
        assert photo.status == Photo.FAILED
        assert photo.failure_reason == MODEL_UNAVAILABLE.reason
        assert str(copy) not in photo.failure_reason  # the owner is told what it means, not where the files are

    # The site stays up: pages, the API and uploads all answer; the staff pages name the problem.
    assert site.request("GET", "/public/")[0] == 200
    status, body, _ = site.request("GET", f"/api/photos/{missing}/", token=token)
    assert status == 200
    assert body["failure_reason"] == MODEL_UNAVAILABLE.reason
    status, dashboard, _ = site.request("GET", "/staff/", cookies=admin)
    assert status == 200
    assert (
        b"The active colouring model (copy, " + str(copy).encode() + b") cannot be used: model.keras is missing"
        in dashboard
    )
    assert b"cannot be used" not in site.request("GET", "/photos/", cookies=owner)[1]  # owners get no server details

    # Restoring the file lets re-colouring succeed ...
    shutil.copy2(shipped.path / "model.keras", copy / "model.keras")
    (copy / "model.keras").touch()
    assert site.post_form(f"/photos/{corrupt}/recolour/", {"working_size": 256}, owner)[0] == 302
    photo = wait_all_final([corrupt], timeout=120)[corrupt]
    assert photo.status == Photo.DONE, photo.failure_reason
    assert photo.model_version_id == broken.pk, photo.failure_reason
    assert b"cannot be used" not in site.request("GET", "/staff/", cookies=admin)[1]
    # ... and so does activating another version, when the files are gone for good.
    shutil.rmtree(copy)
    assert site.post_form(f"/staff/versions/{shipped.pk}/activate/", {}, admin)[0] == 302
    assert site.post_form(f"/photos/{missing}/recolour/", {"working_size": 256}, owner)[0] == 302
    photo = wait_all_final([missing], timeout=120)[missing]
    assert photo.status == Photo.DONE, photo.failure_reason
    assert photo.model_version_id == shipped.pk, photo.failure_reason
