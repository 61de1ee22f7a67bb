"""The gallery's batch bar: one POST with the ticked photos' ids and what to do with them (gallery.batches)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from . import batches, zip_stream
from .forms import BatchForm

NONE_OF_YOURS = "None of the ticked photos is here any more."


@login_required
@require_POST
def batch(request):
    form = BatchForm(request.POST)
    valid = form.is_valid()
    page = form.cleaned_data.get("page")
    back = reverse("gallery-list") + (f"?page={page}" if page and page > 1 else "")
    if not valid:
        messages.error(request, form.error_message())
        return redirect(back)
    action = form.cleaned_data["action"]
    photos = list(batches.chosen(request.user, form.cleaned_data["ids"]))
    if not photos:
        messages.error(request, NONE_OF_YOURS)
        return redirect(back)

    if action == BatchForm.DOWNLOAD:
        entries = batches.zip_entries(photos, form.cleaned_data["what"] or "result")
        if not entries:
            messages.error(request, "None of the ticked photos has a coloured image yet: wait until they are done.")
            return redirect(back)
        response = StreamingHttpResponse(zip_stream.stream(entries), content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="colorsite-{len(entries)}-files.zip"'
        response["Cache-Control"] = "private, no-store"
        return response
    if action == BatchForm.DELETE:
        messages.success(request, f"Deleted {batches.delete(photos)} photo(s).")
    else:
        is_public = action == BatchForm.PUBLIC
        count = batches.set_public(photos, is_public)
        messages.success(request, f"{count} photo(s) are {'public' if is_public else 'private'} now.")
    return redirect(back)
