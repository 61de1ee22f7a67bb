"""Why a photo or a training run failed, in the few fixed sentences a person is ever shown.

A failure reason is read by the photo's owner (its page, the gallery, the JSON API) or by the
staff (a training run on the dashboard).  It is never built from an exception's text: that
text can carry a server path (``[Errno 30] Read-only file system: '/srv/media/photos/…'``), a
library's internals or a stack frame.  The code that fails logs the exception with the photo's
(or run's) id and records one of the Failures below; the row keeps the code beside the sentence,
so a script, or the sweep, can tell the failures apart without parsing text.

``transient`` marks a cause that can clear by itself (storage, the model file, the broker, an
original the storage cannot find right now): Photo.fail gives such a photo a time for its next
automatic try, and the sweep queues it again then (gallery.auto_retry).  The others (a file that
cannot be decoded, a colouring past the time limit, a photo that kept killing its worker) stay
failed until the owner re-colours it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Failure:
    code: str  # stable, for scripts and the sweep: stored in Photo.failure_code
    reason: str  # the sentence a person reads: stored in failure_reason
    transient: bool = False


# -- photos (Photo.fail) ---------------------------------------------------------------------------------

MODEL_UNAVAILABLE = Failure(
    "model-unavailable",
    "colouring is not possible right now: the site's colouring model could not be loaded. "
    "The site's staff can see why; re-colour this photo once it is fixed",
    transient=True,
)
STORAGE_FAILED = Failure(
    "storage-failed",
    "the coloured photo could not be stored: the server's storage failed. Re-colour it later",
    transient=True,
)
ORIGINAL_MISSING = Failure(
    "original-missing",
    "the stored original could not be found in the server's storage. Re-colour it later, or upload it again",
    transient=True,
)
BROKER_LOST = Failure(
    "broker-lost",
    "colouring was interrupted: the site lost touch with its work queue. Re-colour it later",
    transient=True,
)
ORIGINAL_UNREADABLE = Failure(
    "original-unreadable",
    "the stored original cannot be read as an image; please upload the photo again",
)
TIMED_OUT = Failure(
    "timed-out",
    "colouring took longer than the time limit allows; re-colour it with a smaller working size",
)
WORKER_LOST = Failure(
    "worker-lost",
    "the worker colouring this photo stopped unexpectedly several times; it may be too large for the workers' memory",
)
RESULT_OVER_QUOTA = Failure(
    "over-quota",
    "the coloured photo would take you over your storage quota; delete some photos to make room, then re-colour it",
)
UNEXPECTED = Failure(
    "unexpected",
    "colouring failed unexpectedly; the site's staff can see why. Re-colour it to try again",
)

PHOTO_FAILURES = {
    f.code: f
    for f in (
        MODEL_UNAVAILABLE,
        STORAGE_FAILED,
        ORIGINAL_MISSING,
        BROKER_LOST,
        ORIGINAL_UNREADABLE,
        TIMED_OUT,
        WORKER_LOST,
        RESULT_OVER_QUOTA,
        UNEXPECTED,
    )
}

# -- training runs (gallery.training_runs; shown to the staff) ---------------------------------------------

TRAINING_CANCELLED = Failure("cancelled", "cancelled by an admin")
TRAINING_CANCELLED_EARLY = Failure("cancelled-early", "cancelled before it started")
TRAINING_TIMED_OUT = Failure(
    "training-timed-out", "training took longer than the time limit (COLORSITE_TRAINING_TIME_LIMIT)"
)
TRAINING_PROCESS_LOST = Failure(
    "training-process-lost",
    "the training process stopped (killed, out of memory, or past its hard time limit); "
    "the training worker's log says why",
)
TRAINING_ABANDONED = Failure("training-abandoned", "the training worker stopped without finishing")
TRAINING_FAILED = Failure("training-failed", "training failed unexpectedly; the training worker's log has the details")

TRAINING_FAILURES = {
    f.code: f
    for f in (
        TRAINING_CANCELLED,
        TRAINING_CANCELLED_EARLY,
        TRAINING_TIMED_OUT,
        TRAINING_PROCESS_LOST,
        TRAINING_ABANDONED,
        TRAINING_FAILED,
    )
}
