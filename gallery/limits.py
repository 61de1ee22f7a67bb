"""Per-person upload limits: how many photos in any hour, how many bytes they keep, how much work they ask for.

They protect the workers and the disk from one account (a script in a loop, a leaked API
token) and say in plain words what was refused and why.  store_uploads (gallery.views) asks
an Allowance about each file before decoding it, so a refused file costs us nothing.

* **Rate**: photos accepted in the last hour, COLORSITE_UPLOADS_PER_HOUR.  Counted in Redis
  (a sorted set of arrival times per person), not from the Photo rows, so deleting photos does
  not make room to upload more; adding and counting happen in one MULTI, so parallel requests
  cannot slip past the limit together.  When Redis does not answer, uploads must still be
  accepted (they wait as queued), so the count falls back to the person's photos of the last hour.
* **Quota**: bytes a person keeps (uploads and results), COLORSITE_QUOTA_BYTES, reserved
  atomically per file by gallery.quota, so parallel requests cannot pass it together.  Deleting
  photos frees it at once.
* **Work**: each file is charged its colouring work by the pixels its header declares
  (gallery.work_budget), against COLORSITE_WORK_PER_HOUR; re-colours are charged there too.

A file refused after it was allowed (not an image, the storage failed) is given back to all three.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from . import broker, quota, work_budget
from .models import Photo

log = logging.getLogger(__name__)
WINDOW = 3600  # seconds


class Allowance:
    """What one person may still upload; ask ``refusal(upload)`` per file, ``give_back()`` if it is then refused."""

    def __init__(self, user):
        self.user = user
        self.per_hour = settings.COLORSITE_UPLOADS_PER_HOUR
        self.quota = settings.COLORSITE_QUOTA_BYTES
        self.work_per_hour = settings.COLORSITE_WORK_PER_HOUR
        self.rate_limited = ""  # why a file was refused for the rate or the work, if one was: the API answers 429
        self.retry_after = 0  # seconds until the rate limit or the work budget lets the next file through
        self._entry = None  # the rate counter's entry for the file being checked
        self._reserved = (0, 0)  # (bytes, work units) held for the file being checked

    @property
    def used_bytes(self) -> int:
        return quota.used(self.user.pk)

    def refusal(self, upload) -> str | None:
        """None when the uploaded file may be stored (its bytes, count and work are then held), else why not."""
        size = upload.size
        if not quota.reserve(self.user.pk, size):
            return quota.refusal_message(self.user.pk, size)
        if self.per_hour and not self._count_one():
            quota.release(self.user.pk, size)
            minutes = max(1, math.ceil(self.retry_after / 60))
            self.rate_limited = (
                f"you have uploaded {self.per_hour} photos in the last hour, the most allowed; "
                f"try again in {minutes} minute{'s' if minutes > 1 else ''}"
            )
            return self.rate_limited
        pixels = work_budget.declared_pixels(upload)  # None: not an image; the form says so, at no charge
        units = work_budget.cost(pixels) if pixels and pixels <= settings.COLORSITE_MAX_PIXELS else 0
        refused = work_budget.charge(self.user.pk, units, what=work_budget.describe(pixels or 0)) if units else None
        if refused:
            self._reserved = (size, 0)
            self.give_back()
            self.rate_limited, self.retry_after = refused.message, refused.retry_after or WINDOW
            return refused.message
        self._reserved = (size, units)
        return None

    def give_back(self) -> None:
        """The file just allowed was refused after all (not an image): it counts for none of the limits."""
        size, units = self._reserved
        quota.release(self.user.pk, size)
        work_budget.give_back(self.user.pk, units)
        self._reserved = (0, 0)
        if self._entry is not None:
            try:
                broker.client().zrem(broker.key("uploads", self.user.pk), self._entry)
            except broker.ERRORS:
                pass
            self._entry = None

    def _count_one(self) -> bool:
        """Count one more upload in the last hour if that stays within the limit; False when it would not."""
        now = time.time()
        key, entry = broker.key("uploads", self.user.pk), uuid.uuid4().hex
        try:
            pipe = broker.client().pipeline(transaction=True)
            pipe.zremrangebyscore(key, 0, now - WINDOW)
            pipe.zadd(key, {entry: now})
            pipe.zcard(key)
            pipe.zrange(key, 0, 0, withscores=True)
            pipe.expire(key, WINDOW + 60)
            _, _, count, oldest, _ = pipe.execute()
        except broker.ERRORS:
            log.warning("Redis did not answer the upload counter; counting the photos of the last hour", exc_info=True)
            return self._count_one_without_redis()
        if count <= self.per_hour:
            self._entry = entry
            return True
        try:
            broker.client().zrem(key, entry)
        except broker.ERRORS:
            pass  # it expires with the key
        self.retry_after = int(oldest[0][1] + WINDOW - now) + 1 if oldest else WINDOW
        return False

    def _count_one_without_redis(self) -> bool:
        """Redis is down: count the person's photos of the last hour instead (deleted ones escape this)."""
        self._entry = None
        since = timezone.now() - timedelta(seconds=WINDOW)
        recent = Photo.objects.filter(owner=self.user, created__gte=since)
        if recent.count() < self.per_hour:
            return True
        oldest = recent.order_by("created").values_list("created", flat=True).first()
        if oldest is None:  # deleted meanwhile
            return True
        self.retry_after = int((oldest - since).total_seconds()) + 1
        return False
