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
    the plain token is shown once, when it is issued.  One per user: issuing a new one revokes
    the old.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_token")
    key_hash = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(default=timezone.now)

    @classmethod
    def issue(cls, user) -> str:
        key = secrets.token_urlsafe(32)
        cls.objects.update_or_create(user=user, defaults={"key_hash": _sha256(key), "created": timezone.now()})
        return key

    @classmethod
    def user_for(cls, key: str):
        """The active user a token belongs to, or None."""
        token = cls.objects.select_related("user").filter(key_hash=_sha256(key), user__is_active=True).first()
        return token.user if token else None


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
