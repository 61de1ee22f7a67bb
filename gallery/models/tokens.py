"""API tokens: how a script signs in to the JSON API as a person."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiToken(models.Model):
    """A secret that lets a script use the JSON API as its owner (``Authorization: Bearer <token>``).

    Only a SHA-256 of the token is stored, so a leaked database does not leak working tokens;
    the plain token is shown once, when it is issued.  A person may hold several, each named
    for the script or machine that uses it, so one can be revoked without stopping the others.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="what the token is for, chosen by its owner")
    key_hash = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self):
        return self.name

    @classmethod
    def issue(cls, user, name: str = "API token") -> str:
        """Make a new token for ``user`` and return its plain text (the only time it exists)."""
        key = secrets.token_urlsafe(32)
        cls.objects.create(user=user, name=name, key_hash=_sha256(key))
        return key

    @classmethod
    def user_for(cls, key: str):
        """The active user a token belongs to, or None."""
        token = cls.objects.select_related("user").filter(key_hash=_sha256(key), user__is_active=True).first()
        return token.user if token else None


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
