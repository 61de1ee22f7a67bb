"""Share links: an unguessable address that shows one photo to whoever holds it (issue 11, item 9).

A photo is private (its owner only), public (listed in /public/), or — independently of both —
reachable through an *unlisted* link, ``/s/<key>/``, that its owner hands to people without an
account.  The key is ``secrets.token_urlsafe(32)``: 256 random bits, so it cannot be guessed or
walked.  It is kept as it is, not hashed like an API token: the owner must be able to see and copy
the link again from the photo's page, and the link grants far less than a token (looking at one
photo and downloading its files, never changing anything).  A photo has at most one link;
making a new one replaces it, and revoking deletes the row, so an old link answers 404 at once.
"""

from __future__ import annotations

import secrets

from django.db import models
from django.urls import reverse
from django.utils import timezone

from .stored_files import file_version

KEY_BYTES = 32  # token_urlsafe(32): 43 characters of [A-Za-z0-9_-], which the URL's slug converter accepts


class ShareLink(models.Model):
    photo = models.OneToOneField("Photo", on_delete=models.CASCADE, primary_key=True, related_name="share_link")
    key = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"share link of {self.photo_id}"

    @classmethod
    def renew(cls, photo) -> ShareLink:
        """Give ``photo`` a fresh link, replacing (and so revoking) the one it had."""
        link, _ = cls.objects.update_or_create(
            photo=photo, defaults={"key": secrets.token_urlsafe(KEY_BYTES), "created": timezone.now()}
        )
        return link

    @classmethod
    def revoke(cls, photo) -> bool:
        """Remove ``photo``'s link; False when it had none."""
        deleted, _ = cls.objects.filter(photo=photo).delete()
        return bool(deleted)

    def get_absolute_url(self):
        return reverse("gallery-share", args=[self.key])

    def file_url(self, kind: str, download: bool = False) -> str | None:
        """A photo file's URL through this link (the same kinds as Photo.file_url), or None when there is none yet.

        It names the photo's *current* file (the result its owner shows now, gallery.models.colourings)
        and carries its version tag as Photo.file_url does: the browser keeps it for good, and
        showing another result gives the page a new address.
        """
        file = self.photo.file_field(kind)
        if file is None:
            return None
        url = reverse("gallery-share-file", args=[self.key, kind]) + "?v=" + file_version(file.name)
        return url + "&download=1" if download else url
