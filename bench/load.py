"""Load: many clients uploading at once to the running site, and nothing lost or coloured twice.

    python bench/load.py [--uploads 200] [--clients 20] [--workers 2] [--postgres] [--json FILE]

Starts the site as it is deployed, all on this machine: a redis-server of its own, gunicorn
serving colorsite.wsgi, and Celery worker processes (one of them running the sweep), on a
throw-away SQLite database (or a throw-away PostgreSQL database with --postgres) and media
folder.  Each client is a thread with a user and an API token of its own that POSTs its photos
one at a time to /api/photos/, as a script would.  Then it waits until every photo has ended.

Prints the upload response times (median, p99), the time from the first upload until the last
photo is done, and how many photos were lost (sent but not DONE) or coloured twice (more than
one successful colouring in the workers' logs).  Exits 1 if any was lost or coloured twice.
tests/test_load.py runs a small version of it in CI.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DATASET = BASE_DIR.parent / "shared" / "datasets" / "landscape" / "color"
COLOURED = re.compile(r"/\S+\] photo ([0-9a-f-]{36}) coloured by")  # Celery's log line, one per colouring


def grey_photos(count: int, longest_side: int) -> list[bytes]:
    """Grey 4:3 PNGs ``longest_side`` wide: real photos from the shared data set, enlarged, else generated ones."""
    import numpy as np
    from PIL import Image

    size = (longest_side, longest_side * 3 // 4)
    photos = []
    for i in range(count):
        path = DATASET / f"{i:04d}.jpg"
        if path.exists():
            image = Image.open(path).convert("L").resize(size, Image.Resampling.LANCZOS)
        else:
            rng = np.random.default_rng(i)
            image = Image.fromarray(rng.integers(0, 255, size[::-1], dtype=np.uint8), "L")
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, "PNG", compress_level=1)
        photos.append(buffer.getvalue())
    return photos


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def postgres_database(name: str, drop: bool = False) -> str:
    """Create (or drop) a database on the local PostgreSQL; returns its URL."""
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop:
            connection.execute(f'CREATE DATABASE "{name}"')
    return f"postgres://postgres@127.0.0.1:5432/{name}"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=200)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes (concurrency 1 each)")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn processes")
    parser.add_argument("--threads", type=int, default=8, help="threads per gunicorn process")
    parser.add_argument("--size", type=int, default=1000, help="longest side of the photos, in pixels")
    parser.add_argument("--postgres", action="store_true", help="a throw-away database on 127.0.0.1:5432")
    parser.add_argument("--model", default=None, help="model folder (default: COLORSITE_MODEL_DIR or models/default)")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds to wait for the last photo")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    if args.uploads < 1 or not 1 <= args.clients <= args.uploads:
        parser.error("need 1 <= clients <= uploads")
    return args


def make_site(args: argparse.Namespace, scratch: Path, database_url: str):
    """The LiveSite's settings, shared with this process (same database, media and Redis), and a migrated database."""
    sys.path.insert(0, str(BASE_DIR))
    from tests.live_site import LiveSite

    env = {
        "SECRET_KEY": "load-test-only",
        "DEBUG": "0",
        "SECURE_COOKIES": "0",
        "STATIC_MANIFEST": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url,
        "MEDIA_ROOT": str(scratch / "media"),
        "COLORSITE_QUEUE": f"colorsite-load-{os.getpid()}",
        "DJANGO_SETTINGS_MODULE": "colorsite.settings",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONUNBUFFERED": "1",
    }
    if args.model:
        env["COLORSITE_MODEL_DIR"] = str(Path(args.model).resolve())
    site = LiveSite(dict(os.environ, **env), scratch)
    os.environ.update(site.env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    return site


def start_site(site, args: argparse.Namespace) -> None:
    """redis-server, the Celery workers (the first runs the sweep), warmed up, then gunicorn."""
    site.start_redis()
    for i in range(args.workers):
        site.start_worker(f"w{i + 1}", beat=i == 0)
    site.workers.wait_ready()
    site.workers.warm_up()
    site.start_web(workers=args.web_workers, threads=args.threads)
    print(
        f"site: gunicorn {args.web_workers}x{args.threads} at 127.0.0.1:{site.port}, {args.workers} worker(s), "
        f"Redis at {site.redis_url}"
    )


def upload_all(site, tokens: list[str], photos: list[bytes], uploads: int) -> list[tuple[int, float, str | None]]:
    """Every client uploads its share at once, one photo at a time: (status, seconds, photo id) per upload."""
    clients = len(tokens)
    shares = [uploads // clients + (i < uploads % clients) for i in range(clients)]

    def client(i: int) -> list[tuple[int, float, str | None]]:
        done = []
        for n in range(shares[i]):
            number = sum(shares[:i]) + n
            try:
                status, body, seconds = site.upload(tokens[i], f"load{number}.png", photos[number % len(photos)])
                photo_id = body["photos"][0]["id"] if status == 201 else None
                if status != 201:
                    print(f"client {i}: upload {number} answered {status}: {str(body)[:300]}")
            except OSError as exc:
                status, seconds, photo_id = 0, float("nan"), None
                print(f"client {i}: upload {number} failed: {exc}")
            done.append((status, seconds, photo_id))
        return done

    with ThreadPoolExecutor(max_workers=clients) as pool:
        return [r for rs in pool.map(client, range(clients)) for r in rs]


def wait_final(ids: list[str], timeout: float) -> None:
    from gallery.models import Photo

    deadline = time.monotonic() + timeout
    while Photo.objects.filter(pk__in=ids, status__in=Photo.FINAL).count() < len(ids):
        if time.monotonic() > deadline:
            print(f"gave up waiting after {timeout:.0f} s")
            return
        time.sleep(0.5)


def tally(args, results, rows, unanswered: int, logs: str, started: float, uploaded: float) -> dict:
    """The figures: what was accepted, done, failed, lost, coloured twice, and how fast."""
    from gallery.models import Photo

    times = [seconds for status, seconds, _ in results if status == 201]
    done = [r for r in rows if r["status"] == Photo.DONE]
    coloured = Counter(COLOURED.findall(logs))
    last_done = max((r["finished"].timestamp() for r in done), default=float("nan"))
    return {
        "uploads": args.uploads,
        "clients": args.clients,
        "workers": args.workers,
        "accepted": sum(1 for _, _, photo_id in results if photo_id),
        "done": len(done),
        "failed": sum(r["status"] == Photo.FAILED for r in rows),
        "lost": args.uploads - len(done),
        "coloured_twice": sum(1 for r in rows if coloured[str(r["id"])] > 1),
        "claimed_more_than_once": sum(1 for r in rows if r["runs"] > 1),
        "stored_but_not_answered": unanswered,
        "errors": Counter(str(status) for status, _, _ in results if status != 201),
        "upload_median_s": statistics.median(times) if times else None,
        "upload_p99_s": percentile(times, 99) if times else None,
        "upload_max_s": max(times) if times else None,
        "uploading_s": uploaded - started,
        "last_done_s": last_done - started,
        "photos_per_s": len(done) / (last_done - started) if done else 0.0,
        "photo_size": f"{args.size}x{args.size * 3 // 4}",
        "database": "postgresql" if args.postgres else "sqlite",
    }


def report(figures: dict, rows: list[dict]) -> None:
    from gallery.models import Photo

    print(
        f"{figures['uploads']} uploads ({figures['photo_size']} grey PNG) from {figures['clients']} clients: "
        f"{figures['accepted']} accepted, "
        f"{figures['done']} DONE, {figures['failed']} failed, {figures['lost']} lost, "
        f"{figures['coloured_twice']} coloured twice"
    )
    if figures["upload_max_s"] is not None:
        print(
            f"upload response time: median {figures['upload_median_s'] * 1000:.0f} ms, "
            f"p99 {figures['upload_p99_s'] * 1000:.0f} ms (max {figures['upload_max_s'] * 1000:.0f} ms)"
        )
    print(
        f"all uploads answered after {figures['uploading_s']:.1f} s; the last photo was done "
        f"{figures['last_done_s']:.1f} s after the first upload ({figures['photos_per_s']:.2f} photos/s)"
    )
    failures = Counter(r["failure_reason"] for r in rows if r["status"] == Photo.FAILED)
    for reason, count in failures.most_common(3):
        print(f"  failed x{count}: {reason}")


def main() -> int:
    args = parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="colorsite-load-"))
    database_name = f"colorsite_load_{os.getpid()}"
    database_url = postgres_database(database_name) if args.postgres else f"sqlite:///{scratch / 'load.sqlite3'}"
    site = make_site(args, scratch, database_url)
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from gallery.models import ApiToken, Photo

    users = [get_user_model().objects.create_user(f"client{i}", password="x") for i in range(args.clients)]
    tokens = [ApiToken.issue(user) for user in users]
    photos = grey_photos(min(args.uploads, 40), args.size)
    print(f"model: {settings.COLORSITE_MODEL_DIR}")
    print(f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}; scratch: {scratch}")
    try:
        start_site(site, args)
        started = time.time()
        results = upload_all(site, tokens, photos, args.uploads)
        uploaded = time.time()
        ids = [photo_id for _, _, photo_id in results if photo_id]
        wait_final(ids, args.timeout)
        rows = list(Photo.objects.filter(pk__in=ids).values("id", "status", "runs", "finished", "failure_reason"))
        unanswered = Photo.objects.exclude(pk__in=ids).count()  # stored, but the client never heard of it
        logs = "".join(site.workers.log(name) for name in site.workers.processes)
    finally:
        site.stop()
        if args.postgres:
            from django.db import connections

            connections.close_all()
            postgres_database(database_name, drop=True)
    figures = tally(args, results, rows, unanswered, logs, started, uploaded)
    report(figures, rows)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    if figures["lost"] == 0 and figures["coloured_twice"] == 0:
        shutil.rmtree(scratch, ignore_errors=True)
        return 0
    print(f"logs and media kept in {scratch}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
