"""The Redis behind Celery, for the few short-lived keys the site keeps there itself.

* ``<queue>:sent:<photo id>``: a colouring message for the photo was published recently
  (gallery.enqueue); the sweep (gallery.recovery) re-sends queued photos that have none.
* ``<queue>:lost:<photo id>``: how often a worker process died colouring the photo today.
* ``<queue>:uploads:<user id>``: when a person's recent uploads arrived (gallery.limits).

Keys start with the site's queue name (COLORSITE_QUEUE), like its messages, so two sites on
one Redis (or two test runs) never read each other's.  Every key expires by itself, and losing
them all (Redis restarted empty) is safe: the sweep then re-sends every queued photo, which is
right, since the messages were lost too.  Callers treat Redis errors as "Redis is down" and
carry on without it.
"""

from __future__ import annotations

import functools

import redis
from django.conf import settings

# What a Redis that is down, restarting, unreachable or too slow raises.  redis-py wraps most socket
# errors, but not all: under heavy load a connection that timed out during its handshake was seen
# to fail with "ValueError: I/O operation on closed file" (bench/load.py on PostgreSQL, 1 upload in
# 2000), which must not become a server error either.
ERRORS = (redis.RedisError, OSError, ValueError)


@functools.cache
def _client(url: str) -> redis.Redis:
    # Timeouts: a web request must not hang on a Redis that does not answer, yet a busy machine
    # must not make a healthy Redis look dead.
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)


def client() -> redis.Redis:
    return _client(settings.REDIS_URL)


def key(kind: str, ident) -> str:
    return f"{settings.CELERY_TASK_DEFAULT_QUEUE}:{kind}:{ident}"


def sent_key(photo_id) -> str:
    return key("sent", photo_id)


def mark_sent(photo_id, seconds: int) -> None:
    """Remember for ``seconds`` that a message for this photo is in the queue."""
    client().set(sent_key(photo_id), 1, ex=seconds)


def mark_unmarked(photo_ids, seconds: int) -> list:
    """Mark, for ``seconds``, each photo that has no mark yet; returns those (their message may be lost).

    SET NX makes two sweeps running at once re-send a photo once between them.  One round trip per
    500 photos.
    """
    unmarked = []
    for start in range(0, len(photo_ids), 500):
        chunk = photo_ids[start : start + 500]
        pipe = client().pipeline(transaction=False)
        for pk in chunk:
            pipe.set(sent_key(pk), 1, ex=seconds, nx=True)
        unmarked += [pk for pk, was_unmarked in zip(chunk, pipe.execute()) if was_unmarked]
    return unmarked
