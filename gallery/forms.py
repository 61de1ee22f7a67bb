"""Forms: each one turns raw input into clean values or a message for a person."""

from __future__ import annotations

import uuid

from django import forms
from django.conf import settings

from ml.images import InvalidImage
from ml.inference import MAX_WORKING_SIZE, MIN_WORKING_SIZE

from . import colour_controls, imaging


def megabytes(n: int) -> str:
    """Bytes in the units the pages use (Django's filesizeformat: a megabyte is 1024² bytes)."""
    if n >= 1024**3:
        return f"{n / 1024**3:.1f} GB"
    return f"{n / 1024**2:.1f} MB"


def sizes(n: int, limit: int) -> tuple[str, str]:
    """``n`` and ``limit`` for a message; in bytes when rounding would show the two alike."""
    shown = megabytes(n), megabytes(limit)
    return shown if shown[0] != shown[1] else (f"{n:,} bytes", f"{limit:,} bytes")


class PhotoFileForm(forms.Form):
    """One uploaded file.  A batch is checked one file at a time so that one bad file does not
    turn away the others; on success ``image`` holds the decoded, EXIF-oriented RGB pixels."""

    file = forms.FileField(allow_empty_file=True)  # an empty file gets ml.images' own message

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.COLORSITE_MAX_UPLOAD_BYTES
        # The byte cap comes first: the upload-memory settings only decide when Django spills
        # a file to disk, they do not refuse it.
        if upload.size > limit:
            shown_size, shown_limit = sizes(upload.size, limit)
            raise forms.ValidationError(f"the file is {shown_size}; the limit is {shown_limit}")
        try:
            self.image, self.source_format = imaging.read_upload(upload, max_pixels=settings.COLORSITE_MAX_PIXELS)
        except InvalidImage as exc:
            raise forms.ValidationError(str(exc)) from None
        return upload

    def error_message(self) -> str:
        return "; ".join(str(error) for error in self.errors.get("file", ["no file was sent"]))


class RecolourForm(forms.Form):
    """The re-colour choices (gallery.colour_controls); a form without a strength asks for "natural"."""

    working_size = forms.IntegerField(
        min_value=MIN_WORKING_SIZE, max_value=MAX_WORKING_SIZE, help_text=colour_controls.WORKING_SIZE_HELP
    )
    strength = forms.ChoiceField(choices=colour_controls.STRENGTH_CHOICES, required=False)

    def clean_strength(self) -> str:
        return self.cleaned_data.get("strength") or colour_controls.NATURAL

    def error_message(self) -> str:
        return "; ".join(str(error) for errors in self.errors.values() for error in errors)


class VisibilityForm(forms.Form):
    is_public = forms.BooleanField(required=False)


class UUIDListField(forms.Field):
    """Several ids under one name (``ids=a&ids=b``); values that are not UUIDs are dropped like unknown ids."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[uuid.UUID]:
        ids = []
        for item in value or []:
            try:
                ids.append(uuid.UUID(str(item)))
            except ValueError:
                continue
        return list(dict.fromkeys(ids))


class BatchForm(forms.Form):
    """What the gallery's batch bar asks for: an action on the ticked photos (``ids``).

    Ids are only parsed here; which of them the person owns is the view's question (somebody
    else's id is dropped like an unknown one, so ids cannot be probed).
    """

    DOWNLOAD, DELETE, PUBLIC, PRIVATE = "download", "delete", "public", "private"
    MAX_PHOTOS = 500

    action = forms.ChoiceField(
        choices=[(DOWNLOAD, "download"), (DELETE, "delete"), (PUBLIC, "make public"), (PRIVATE, "make private")],
        error_messages={"required": "Choose what to do with the ticked photos.", "invalid_choice": "Unknown action."},
    )
    what = forms.ChoiceField(
        choices=[("result", "coloured"), ("original", "originals"), ("both", "both")],
        required=False,
        error_messages={"invalid_choice": "Download the coloured photos, the originals or both."},
    )
    ids = UUIDListField(required=False)
    page = forms.IntegerField(min_value=1, required=False)  # the gallery page to go back to

    def clean_ids(self):
        ids = self.cleaned_data["ids"]
        if not ids:
            raise forms.ValidationError("Tick one or more photos first.")
        if len(ids) > self.MAX_PHOTOS:
            raise forms.ValidationError(f"Choose at most {self.MAX_PHOTOS} photos at once.")
        return ids

    def error_message(self) -> str:
        return " ".join(str(error) for errors in self.errors.values() for error in errors)
