"""Usage: one row per person, the counters that keep one account inside its share of the site.

Parallel requests must not slip past a limit together, so a limit is never "read, compare,
write": each is one conditional UPDATE on this row (``bytes_used <= quota - size``), which the
database applies to the row once at a time.  gallery.quota keeps the storage counter,
gallery.work_budget the colouring work of the current hour, and gallery.fair_queue locks the
row to admit one person's photos to the workers one request at a time.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models


class Usage(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="usage"
    )
    bytes_used = models.BigIntegerField(
        default=0, help_text="bytes of uploads and coloured results this person keeps (gallery.quota)"
    )
    work_window = models.DateTimeField(
        null=True, blank=True, help_text="when the current hour of the work budget began (gallery.work_budget)"
    )
    work_used = models.PositiveIntegerField(default=0, help_text="work units charged in that hour")

    def __str__(self):
        return f"usage of user {self.user_id}"

    @classmethod
    def ensure(cls, user_id) -> None:
        """Make sure the person's row exists (a person who has never uploaded has none yet).

        Not for an account deleted meanwhile (a worker finishing a photo of a deleted account):
        then there is no row, and the conditional UPDATEs on it change nothing.
        """
        if cls.objects.filter(user_id=user_id).exists():
            return
        if get_user_model().objects.filter(pk=user_id).exists():
            cls.objects.get_or_create(user_id=user_id)
