"""The front page a visitor meets at /: one sentence, a moving before/after example, and the way in.

The examples are the bundled samples the active model coloured (gallery.samples); before the
worker has made them, the newest public photos stand in, and with neither the page still says
what the site does and how to start.
"""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.urls import reverse

from . import samples
from .models import Photo, file_version

PUBLIC_SHOWN = 8


def context() -> dict:
    public = list(
        Photo.objects.filter(is_public=True, status=Photo.DONE)
        .select_related("owner")
        .for_listing("owner__username")[:PUBLIC_SHOWN]
    )
    return {"examples": sample_examples() or public_examples(public), "public_photos": public}


def sample_examples() -> list[dict]:
    index = samples.current()
    examples = []
    for entry in (index or {}).get("samples", []):
        files = entry.get("files", {})
        if not all(files.get(kind) for kind in samples.KINDS):
            continue
        urls = {
            kind: reverse("gallery-sample", args=[entry["name"], kind]) + f"?v={file_version(files[kind])}"
            for kind in samples.KINDS
        }
        caption = f"{entry['title']} (photo: {entry['credit']}), coloured by our model"
        examples.append(
            _example(entry["title"], caption, urls["grey"], urls["colour"], entry["width"], entry["height"])
        )
    return examples


def public_examples(photos: list[Photo]) -> list[dict]:
    examples = []
    for photo in photos[:3]:
        urls = photo.to_dict()["urls"]
        if urls.get("before") and urls.get("after"):
            caption = f"{photo.name} by {photo.owner.username}, coloured by our model"
            examples.append(_example(photo.name, caption, urls["before"], urls["after"], photo.width, photo.height))
    return examples


def _example(title: str, caption: str, before: str, after: str, width: int, height: int) -> dict:
    return {"title": title, "caption": caption, "before": before, "after": after, "width": width, "height": height}


def serve_sample(name: str, kind: str) -> FileResponse:
    stored = samples.stored_file(name, kind) if kind in samples.KINDS else None
    if stored is None:
        raise Http404("no such sample")
    try:
        opened = default_storage.open(stored, "rb")
    except FileNotFoundError:
        raise Http404("the sample is missing") from None
    response = FileResponse(opened, content_type="image/jpeg")
    # every colouring stores the samples under new names (and the page links them with ?v=), so they cache for good
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    return response
