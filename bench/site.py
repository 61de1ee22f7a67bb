"""Site benchmarks: upload -> DONE latency, one worker's throughput, and the gallery page with 10,000 photos.

    python bench/site.py [--uploads 15] [--throughput 30] [--gallery-photos 10000] [--model DIR]
                         [--workers N] [--s3]

Runs against a real Redis (database 12, queue colorsite-bench; a local redis-server
is started if none answers), a real Celery worker process (prefork, concurrency 1,
warmed up first), a throw-away SQLite database (or DATABASE_URL) and media folder.
Uploads go through the site's upload view with Django's test client, so the
figure includes validation, re-encoding, thumbnails and the enqueue.  Prints figures;
the goals from issue 3 are printed beside them.

``--workers N`` starts N colouring workers (each warmed up on a queue of its own first); ``--s3``
keeps media and the model in a bucket of moto's standalone S3 server, started on 127.0.0.1 for
the run (tests/s3_server.py), each worker with its own empty media folder and model cache, as on
hosts without a shared disk.  ``--uploads 0 --gallery-photos 0`` measures throughput only.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DATASET = BASE_DIR.parent / "shared" / "datasets" / "landscape" / "color"


def one_megapixel_photos(count: int) -> list[bytes]:
    """Grey 1000x1000 PNGs: real photos from the shared data set, enlarged (generated if it is absent)."""
    import numpy as np
    from PIL import Image

    photos = []
    for i in range(count):
        path = DATASET / f"{i:04d}.jpg"
        if path.exists():
            image = Image.open(path).convert("L").resize((1000, 1000), Image.Resampling.LANCZOS)
        else:
            rng = np.random.default_rng(i)
            image = Image.fromarray(rng.integers(0, 255, (1000, 1000), dtype=np.uint8), "L")
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, "PNG", compress_level=1)
        photos.append(buffer.getvalue())
    return photos


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=15, help="1 MP uploads timed one at a time")
    parser.add_argument("--throughput", type=int, default=30, help="1 MP photos queued at once")
    parser.add_argument("--gallery-photos", type=int, default=10_000)
    parser.add_argument("--gallery-requests", type=int, default=30)
    parser.add_argument("--model", default=None, help="model folder (default: COLORSITE_MODEL_DIR or models/default)")
    parser.add_argument("--workers", type=int, default=1, help="colouring worker processes (concurrency 1 each)")
    parser.add_argument("--s3", action="store_true", help="media and model in a local S3 server (moto), no shared disk")
    return parser.parse_args()


def set_up_django(scratch: Path, model: str | None, extra: dict) -> None:
    """Settings for a throw-away site in ``scratch`` on Redis database 12, then django.setup() and migrate."""
    env = {
        **extra,
        "SECRET_KEY": "bench-only",
        "DEBUG": "0",
        "STATIC_MANIFEST": "0",
        "ALLOWED_HOSTS": "testserver",
        "SECURE_COOKIES": "0",  # plain HTTP through the test client: no HTTPS redirect, no Secure cookies
        "DATABASE_URL": os.environ.get("DATABASE_URL", f"sqlite:///{scratch / 'bench.sqlite3'}"),
        "MEDIA_ROOT": str(scratch / "media"),
        "REDIS_URL": "redis://127.0.0.1:6379/12",
        "COLORSITE_QUEUE": "colorsite-bench",
        "DJANGO_SETTINGS_MODULE": "colorsite.settings",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    if model:
        env["COLORSITE_MODEL_DIR"] = str(Path(model).resolve())
    os.environ.update(env)
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def start_worker(scratch: Path, name: str = "w1", s3: bool = False) -> subprocess.Popen:
    """One real Celery worker process (prefork, concurrency 1) on the bench queue and one of its own.

    With object storage it is a host of its own: an empty media folder and model cache.
    """
    log = open(scratch / f"{name}.log", "wb")
    command = [sys.executable, "-m", "celery", "-A", "colorsite", "worker", "--loglevel=INFO", "--pool=prefork",
               "--concurrency=1", "--without-gossip", "--without-mingle", "--without-heartbeat",
               f"--hostname={name}@%h", f"--queues=colorsite-bench,colorsite-bench-{name}"]  # fmt: skip
    env = dict(os.environ)
    if s3:
        env.update(MEDIA_ROOT=str(scratch / name / "media"), COLORSITE_MODEL_CACHE=str(scratch / name / "cache"))
    return subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)


def warm_up_workers(scratch: Path, names: list[str]) -> None:
    """Every worker loads the model (from the bucket, with --s3) before anything is timed."""
    import re

    from gallery.tasks import warm_up

    started = time.perf_counter()
    for name in names:
        warm_up.apply_async(queue=f"colorsite-bench-{name}")
    for name in names:
        while not re.search(r"warm_up\[[^\]]+\] succeeded", (scratch / f"{name}.log").read_text()):
            if time.perf_counter() - started > 600:
                raise RuntimeError(f"worker {name} did not load the model; see {scratch / f'{name}.log'}")
            time.sleep(0.2)
    print(f"warm-up of {len(names)} worker(s) (start, model fetched and loaded): {time.perf_counter() - started:.1f} s")


class Site:
    """The bench's signed-in user, a test client, and the two things every figure needs: upload, wait."""

    def __init__(self, scratch: Path):
        from django.contrib.auth import get_user_model
        from django.test import Client

        self.scratch = scratch
        self.user = get_user_model().objects.create_user("bench", password="x")
        self.client = Client()
        self.client.force_login(self.user)

    def upload(self, data: bytes, name: str):
        from django.core.files.uploadedfile import SimpleUploadedFile
        from django.urls import reverse

        from gallery.models import Photo

        response = self.client.post(reverse("gallery-upload"), {"file": SimpleUploadedFile(name, data)})
        assert response.status_code == 302, response.status_code
        return Photo.objects.filter(owner=self.user).latest("created")

    def wait_done(self, ids, timeout=600.0, interval=0.01) -> None:
        from gallery.models import Photo

        deadline = time.monotonic() + timeout
        while Photo.objects.filter(pk__in=ids, status__in=Photo.FINAL).count() < len(ids):
            if time.monotonic() > deadline:
                raise RuntimeError(f"photos not done after {timeout} s; see {self.scratch / 'worker.log'}")
            time.sleep(interval)
        failed = list(Photo.objects.filter(pk__in=ids, status=Photo.FAILED).values_list("failure_reason", flat=True))
        if failed:
            raise RuntimeError(f"{len(failed)} photos failed: {failed[0]}")


def warm_up(site: Site, photo: bytes) -> None:
    """The worker loads the model on its first photo."""
    started = time.perf_counter()
    site.wait_done([site.upload(photo, "warm-up.png").pk])
    print(f"warm-up (worker start, model load, first photo): {time.perf_counter() - started:.1f} s")


def time_uploads(site: Site, photos: list[bytes], count: int) -> None:
    """1. Upload -> DONE, one photo at a time, warm worker."""
    if not count:
        return
    latencies, upload_times = [], []
    for i in range(count):
        started = time.perf_counter()
        photo = site.upload(photos[i], f"u{i}.png")
        upload_times.append(time.perf_counter() - started)
        site.wait_done([photo.pk])
        latencies.append(time.perf_counter() - started)
    print(
        f"upload -> DONE, 1 MP (1000x1000), warm worker, n={count}: "
        f"median {statistics.median(latencies):.3f} s (min {min(latencies):.3f}, max {max(latencies):.3f}); "
        f"of which the upload request median {statistics.median(upload_times):.3f} s  [goal <= 1.0 s]"
    )


def time_throughput(site: Site, photos: list[bytes], count: int) -> None:
    """2. Throughput: queue many at once, time until the last is done."""
    from django.db import transaction

    from gallery.models import Photo

    queued = []
    with transaction.atomic():  # enqueued together when this commits
        for i in range(count):
            queued.append(site.upload(photos[i % len(photos)], f"t{i}.png").pk)
    started = time.perf_counter()
    site.wait_done(queued, interval=0.05)
    elapsed = time.perf_counter() - started
    workers = len({w.split("@")[0] for w in Photo.objects.filter(pk__in=queued).values_list("worker", flat=True)})
    print(
        f"throughput, {workers} worker(s) coloured, 1 MP photos, n={count}: {count / elapsed:.2f} photos/s "
        f"({elapsed / count:.3f} s a photo)  [goal >= 3 photos/s for one]"
    )


def fill_gallery(site: Site, count: int) -> None:
    """Copies of a coloured photo until the user has ``count`` (and another user as many)."""
    from django.contrib.auth import get_user_model

    from gallery.models import Photo

    template = Photo.objects.filter(owner=site.user, status=Photo.DONE).first()
    others = get_user_model().objects.create_user("bench-other", password="x")
    names = ("width", "height", "upload_bytes", "source_format", "original", "thumb", "preview", "result",
             "result_thumb", "result_preview")  # fmt: skip
    fields = {name: getattr(template, name) for name in names}
    existing = Photo.objects.filter(owner=site.user).count()
    Photo.objects.bulk_create(
        [
            Photo(owner=site.user if i % 2 == 0 else others, name=f"g{i}.png", status=Photo.DONE, **fields)
            for i in range(2 * (count - existing))
        ],
        batch_size=2000,
    )


def time_gallery(site: Site, requests: int) -> None:
    """3. The gallery page, first pages and deep ones, and the queries one page makes."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from gallery.models import Photo

    timings = []
    for i in range(requests):
        page = 1 + (i % 5) * 50  # first pages and deep ones
        started = time.perf_counter()
        response = site.client.get(reverse("gallery-list"), {"page": page})
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200
    with CaptureQueriesContext(connection) as queries:
        response = site.client.get(reverse("gallery-list"), {"page": 100})
    html = response.content.decode()
    cards = html.count('class="card"')
    print(
        f"gallery page, {Photo.objects.filter(owner=site.user).count()} of the user's photos "
        f"({Photo.objects.count()} in the table), "
        f"{cards} cards a page: median {statistics.median(timings) * 1000:.1f} ms "
        f"(max {max(timings) * 1000:.1f}); {len(queries)} queries a page; "
        f"thumbnails linked: {html.count('/files/result-thumb/')}, originals linked: {html.count('/files/original/')}"
        "  [goal <= 100 ms, no N+1]"
    )


def main() -> int:
    args = parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="colorsite-bench-"))
    s3_server, extra = None, {}
    if args.s3:
        sys.path.insert(0, str(BASE_DIR))
        from tests.s3_server import S3Server

        s3_server = S3Server(scratch)
        extra = s3_server.env(s3_server.new_bucket())
        extra["AWS_S3_ENDPOINT_URL"] = s3_server.direct_endpoint  # not through the tests' outage gate
        extra["COLORSITE_MODEL_CACHE"] = str(scratch / "web-cache")
    set_up_django(scratch, args.model, extra)
    import redis
    from django.conf import settings

    from colorsite.launch import ensure_redis, stop

    redis_server = ensure_redis(settings.REDIS_URL, scratch / "redis")
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    site = Site(scratch)
    print(f"model: {settings.COLORSITE_MODEL_DIR}")
    print(f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}; scratch: {scratch}")
    print(f"media: {'S3 bucket on moto (' + settings.COLORSITE_S3_BUCKET + ')' if args.s3 else 'filesystem'}")
    names = [f"w{i + 1}" for i in range(args.workers)]
    workers = [start_worker(scratch, name, s3=args.s3) for name in names]
    try:
        photos = one_megapixel_photos(max(args.uploads, args.throughput) + 1)
        warm_up_workers(scratch, names)
        warm_up(site, photos[-1])
        time_uploads(site, photos, args.uploads)
        time_throughput(site, photos, args.throughput)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=60)
        if redis_server:
            stop([redis_server])
        if s3_server:
            s3_server.stop()
    if args.gallery_photos:
        fill_gallery(site, args.gallery_photos)
        time_gallery(site, args.gallery_requests)
    if redis_server is None:
        redis.Redis.from_url(settings.REDIS_URL).flushdb()
    return 0


if __name__ == "__main__":
    sys.exit(main())
