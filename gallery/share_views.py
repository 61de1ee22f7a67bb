"""Unlisted share links (gallery.models.shares): the page and files a link shows, and the owner's controls.

Whoever holds ``/s/<key>/`` sees that one photo's before/after and may download its coloured
image and its original; nothing else is reachable through the key (no other photo, no owner's
action).  An unknown or revoked key is 404 like a made-up photo id.  Every other way to a
private photo's files keeps its checks (gallery.photo_io.visible_photo).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from .models import ShareLink
from .photo_io import own_photo, serve_file
from .query_forms import FileQuery


def _link(key: str) -> ShareLink:
    return get_object_or_404(ShareLink.objects.select_related("photo", "photo__owner"), key=key)


def _unlisted(response):
    """Keep a shared page out of search engines and its key out of other sites' logs."""
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_GET
def share_page(request, key):
    link = _link(key)
    photo = link.photo
    urls = {
        "before": link.file_url("grey") or link.file_url("preview"),
        "after": link.file_url("result-preview"),
        "result": link.file_url("result", download=True),
        "original": link.file_url("original", download=True),
    }
    # the compare's "Zoom to 100 %" loads these: the current result and the original at full size
    full_urls = {"after": link.file_url("result"), "original": link.file_url("original")}
    return _unlisted(render(request, "gallery/share.html", {"photo": photo, "urls": urls, "full_urls": full_urls}))


@require_GET
def share_file(request, key, kind):
    """One of the shared photo's files; ?download=1 for an attachment (the page's download buttons)."""
    link = _link(key)
    return _unlisted(serve_file(request, link.photo, kind, download=FileQuery.values(request)["download"] == "1"))


@login_required
@require_POST
def share_create(request, photo_id):
    """Make the photo's share link, or a new one in place of the old (which stops working)."""
    photo = own_photo(request, photo_id)
    replaced = ShareLink.objects.filter(photo=photo).exists()
    ShareLink.renew(photo)
    messages.success(
        request,
        "A new share link replaces the old one, which no longer works."
        if replaced
        else "Anybody with the share link can now see this photo and download it.",
    )
    return redirect(photo)


@login_required
@require_POST
def share_revoke(request, photo_id):
    photo = own_photo(request, photo_id)
    if ShareLink.revoke(photo):
        messages.success(request, "The share link is revoked: it no longer works.")
    return redirect(photo)
