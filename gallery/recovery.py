"""Recovery: how a photo or a training run that a fault left behind gets going again, in one place.

| failure | who notices | what happens | which test proves it (tests/…) |
|---|---|---|---|
| Redis down while a photo is uploaded | enqueue.send_colouring (the publish raises) | the photo is kept queued, the page says it waits; ``resend_lost`` sends it when Redis answers | test_reliability_recovery::test_an_upload_while_redis_is_down_waits_and_the_page_says_so, ::test_the_sweep_resends_only_queued_photos_that_were_never_sent; test_reliability_faults::test_uploads_while_redis_is_down_are_coloured_once_it_is_back (real) |
| Redis restarted empty (the messages lost) | the sweep: a queued photo without its ``sent`` mark | ``resend_lost`` sends it again; Photo.claim lets one run through | test_reliability_recovery::test_after_redis_lost_its_data_the_sweep_resends_every_queued_photo |
| a pool process killed mid-photo (SIGKILL, out of memory) | the worker's main process (task_failure with WorkerLostError: tasks.take_back_from_lost_process) | ``requeue_after_lost_worker``: queued again at once; failed after LOST_WORKER_LIMIT deaths in a day | test_reliability_recovery::test_a_photo_whose_pool_process_died_is_queued_again_at_once, ::test_a_photo_that_keeps_killing_its_worker_ends_failed, ::test_the_main_process_hears_of_a_lost_pool_process; test_reliability_faults::test_a_worker_killed_mid_photo_loses_nothing_and_colours_nothing_twice (real) |
| a whole worker killed, restarted under the same node name | the starting worker (worker_ready: tasks.sweep_on_start -> ``on_worker_start``) | ``requeue_left_by``: its photos whose process is gone are queued again at once | test_reliability_recovery::test_a_restarted_worker_takes_back_what_it_left_running; test_reliability_faults::test_a_worker_killed_mid_photo_loses_nothing_and_colours_nothing_twice (real) |
| a worker that never comes back | the periodic sweep (celery beat), and every starting worker | ``requeue_abandoned``: photos running for longer than ``lost_after()`` are queued again | test_site_tasks::test_photos_abandoned_by_a_dead_worker_are_requeued_once |
| a redelivered message finds its photo still running | Photo.claim | a photo running for longer than ``lost_after()`` is claimed again | test_site_tasks::test_a_photo_abandoned_by_a_dead_worker_can_be_claimed_again |
| Redis down when a worker starts | ``on_worker_start`` | the photos wait for the next periodic sweep; the worker starts anyway | test_reliability_recovery::test_a_worker_starting_while_redis_is_down_carries_on |
| storage fails while a result is written | tasks.colorize_photo (OSError) | what the run wrote is removed, the photo given back and retried with backoff; failed after the last retry | test_reliability_recovery::test_storage_failing_on_the_last_try_ends_failed_without_files; test_reliability_faults::test_storage_failing_mid_write_shows_no_half_file_and_retries (real) |
| a photo failed for a transient reason (storage, model file, broker) | the periodic sweep: failed photos whose ``retry_after`` has come | ``retry_transient_failures``: queued again, after waits that double, at most COLORSITE_AUTO_RETRIES times (gallery.auto_retry); an undecodable photo is never retried | test_reliability_recovery::test_photos_failed_by_a_storage_fault_are_retried_by_the_sweep_once_it_is_back, ::test_automatic_retries_are_bounded_and_each_waits_longer, ::test_an_undecodable_photo_stays_failed |
| the process training a version dies | the training worker's main process (tasks.fail_run_of_lost_process) | training_runs.fail_lost: the run ends failed, its folder removed | test_staff_versions::test_a_run_whose_process_died_is_marked_failed_at_once; test_reliability_training::test_a_crashed_training_run_fails_alone_and_the_worker_keeps_serving (real) |
| a photo held back for fairness whose owner's photos ended without the worker releasing it (deleted, failed by a recovery path, a crash) | the sweep | ``fair_queue.release_all``: the oldest waiting photos of everybody with room are sent | test_fair_use_queue::test_the_sweep_releases_what_a_deletion_left_waiting |
| the whole training worker dies | a starting worker (``on_worker_start``) | training_runs.fail_abandoned: runs without a heartbeat for COLORSITE_TRAINING_STALE_AFTER end failed | test_staff_versions::test_a_run_whose_worker_died_is_marked_failed |

**Lost** has one definition, ``gallery.enqueue.lost_after()``: the hard time limit plus a margin.
A photo running longer than that has a dead worker (the hard limit would have killed a live
one), and a sent mark lasts that long.  Every path here ends in the same step, ``_take_back``:
lock the row if it is still running as the caller found it, delete what the dead run wrote, and
queue the photo again; the lock (or a conditional UPDATE) makes two workers doing this at once
take a photo back once between them.  The one start-up path is ``on_worker_start``.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from . import broker, enqueue, failures, fair_queue, training_runs
from .models import Photo

log = logging.getLogger(__name__)

# A photo whose worker process dies this many times in a day is failed rather than queued again.
LOST_WORKER_LIMIT = 3


def on_worker_start(node: str | None) -> None:
    """A starting worker takes back what its own previous run left running, then sweeps.

    Without this, photos a killed worker was colouring would wait for the time limit, photos
    uploaded while Redis was down would wait for the first periodic sweep, and a training run
    whose worker died would stay "training".
    """
    count = requeue_left_by(node) if node else 0
    if count:
        log.warning("requeued %d photo(s) this worker (%s) was colouring when it was stopped", count, node)
    count = training_runs.fail_abandoned()
    if count:
        log.warning("marked failed %d training run(s) whose worker stopped mid-way", count)
    try:
        sweep()
    except broker.ERRORS:
        log.warning("Redis is not answering; the periodic sweep will send the queued photos", exc_info=True)


def sweep() -> None:
    """Take back photos a dead worker left running, and re-send queued photos whose message was lost.

    Both halves are conditional per photo, so sweeps on several machines at once send each photo
    once between them.  Raises if Redis is down (the periodic task simply runs again).
    """
    abandoned = requeue_abandoned()
    resent = resend_lost()
    retried = retry_transient_failures()
    # Photos held back for fairness whose owner has room again (an end the worker did not report), and
    # automatic retries that fair_queue.admit held back just now because their owner was at the cap.
    fair_queue.release_all()
    if abandoned or resent or retried:
        log.warning(
            "sweep: requeued %d photo(s) left running by a dead worker, re-sent %d queued photo(s) "
            "whose message was lost, retried %d photo(s) that failed for a transient reason",
            abandoned,
            resent,
            retried,
        )


def resend_lost() -> int:
    """Send again every queued photo whose message may be lost; returns how many were sent.

    Each send leaves a mark in Redis that lasts as long as a photo may take (broker.mark_sent).
    A queued photo without a mark has no message on its way: Redis was down when it was
    uploaded, or restarted without its data (and the marks went with the messages).  Sending
    one twice is harmless: claim lets one run through.
    """
    queued = list(Photo.objects.filter(status=Photo.QUEUED).values_list("pk", flat=True))
    unmarked = broker.mark_unmarked(queued, enqueue.lost_after())
    for pk in unmarked:
        enqueue.resend_colouring(pk)
    return len(unmarked)


def retry_transient_failures() -> int:
    """Queue again the failed photos whose automatic retry is due (gallery.auto_retry); returns how many.

    Time, not a probe, decides: a retry whose cause has not cleared fails again cheaply and waits
    twice as long, and the number of tries is bounded.  Each photo is taken by a conditional
    UPDATE, so two sweeps at once queue it once.
    """
    now = timezone.now()
    due = Photo.objects.filter(status=Photo.FAILED, retry_after__lte=now).values_list("pk", flat=True)
    return sum(Photo.retry_transient(pk, now) for pk in list(due))


def requeue_abandoned() -> int:
    """Queue again the photos running for longer than ``lost_after()``: their worker is dead.

    A worker process killed mid-photo (out of memory, the hard time limit) has its message
    acknowledged by Celery, so no redelivery will come and the photo would stay "colouring"
    forever.  This covers workers that never come back.
    """
    stale = timezone.now() - timedelta(seconds=enqueue.lost_after())
    count = 0
    for pk in Photo.objects.filter(status=Photo.RUNNING, started__lt=stale).values_list("pk", flat=True):
        with transaction.atomic():
            count += _take_back(pk, started__lt=stale) is not None
    return count


def requeue_left_by(node: str) -> int:
    """Queue again the photos this worker node left running when it was killed; returns how many.

    A node name (``w1@host``) belongs to one running worker at a time, so a worker starting
    under it finds anything still running under that name abandoned, unless the process that
    took it is somehow still alive on this machine.  Found at once, rather than after the time
    limit (requeue_abandoned).
    """
    count = 0
    running = Photo.objects.filter(status=Photo.RUNNING, worker__startswith=f"{node}:")
    for pk, worker in running.values_list("pk", "worker"):
        if _process_alive(worker.rsplit(":", 1)[-1]):
            continue
        with transaction.atomic():
            count += _take_back(pk, worker=worker) is not None
    return count


def requeue_after_lost_worker(pk, node: str) -> str | None:
    """A worker process of ``node`` died while colouring this photo: queue it again now.

    Called by the worker's main process when its pool process is killed (SIGKILL, out of
    memory), so the photo does not wait for the time limit.  A photo whose worker dies
    LOST_WORKER_LIMIT times in a day is failed instead (it may need more memory than a worker
    has), so one photo cannot kill workers forever.  Returns the new status, or None if the
    photo was not left running by that node.
    """
    with transaction.atomic():
        photo = _lock_running(pk, worker__startswith=f"{node}:")
        if photo is None:
            return None
        deaths = _count_death(pk)
        if deaths >= LOST_WORKER_LIMIT:
            photo.remove_stray_files()
            log.error("photo %s: the worker colouring it stopped %d times; failed", pk, deaths)
            photo.fail(failures.WORKER_LOST)
            return Photo.FAILED
        _take_back(pk, photo=photo)
    return Photo.QUEUED


def _lock_running(pk, **running) -> Photo | None:
    """The photo, locked for this transaction, if it is still running as ``running`` says; else None."""
    return Photo.objects.select_for_update().filter(pk=pk, status=Photo.RUNNING, **running).first()


def _take_back(pk, photo: Photo | None = None, **running) -> Photo | None:
    """Inside a transaction: lock the photo if it is still running as ``running`` says (or take the
    one the caller locked), delete what its dead run wrote, and queue it again."""
    photo = photo or _lock_running(pk, **running)
    if photo is None:
        return None
    photo.remove_stray_files()
    Photo.objects.filter(pk=pk).update(status=Photo.QUEUED, started=None)
    enqueue.colouring(photo)
    return photo


def _count_death(pk) -> int:
    """How often a worker died colouring this photo in the last day, this time included."""
    try:
        deaths = broker.client().incr(broker.key("lost", pk))
        broker.client().expire(broker.key("lost", pk), 24 * 3600)
    except broker.ERRORS:
        return 1
    return int(deaths)


def _process_alive(pid: str) -> bool:
    """Whether a worker process with this id still runs on this machine.

    A zombie does not count (a killed worker's pool processes can linger as zombies when nothing
    reaps them), nor does a process that is not a Celery worker (the id was reused).
    """
    try:
        stat = Path(f"/proc/{int(pid)}/stat").read_text()
        cmdline = Path(f"/proc/{int(pid)}/cmdline").read_bytes()
    except ValueError:
        return False
    except FileNotFoundError:
        if Path("/proc/self/stat").exists():
            return False
        try:  # no /proc on this system: ask the kernel
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True
    except OSError:
        return True
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X") and b"celery" in cmdline
