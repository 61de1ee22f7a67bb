"""Pages: thin function views.  Access helper -> form -> one model method -> redirect or render."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ml.inference import DEFAULT_WORKING_SIZE

from . import colour_controls, front, quota, work_budget
from .forms import RecolourForm, VisibilityForm
from .limits import Allowance
from .models import WORKING_SIZE_CHOICES, Photo
from .photo_io import NO_FILES, WAITING_FOR_QUEUE, own_colouring, own_photo, serve_file, store_uploads, visible_photo
from .query_forms import FileQuery, PageQuery


def index(request):
    """Logged-in people go on to their upload page; a visitor gets the front page (gallery.front)."""
    if request.user.is_authenticated:
        return redirect("gallery-upload")
    return render(request, "gallery/front.html", front.context())


@require_GET
def sample_file(request, name, kind):
    """One of the front page's sample pictures (public by nature: they are published sample photos)."""
    return front.serve_sample(name, kind)


@require_GET
def favicon(request):
    """Browsers ask for /favicon.ico whatever the page says; send them to the static icon."""
    return redirect(static("gallery/favicon.svg"))


@login_required
@require_http_methods(["GET", "POST"])
def upload(request):
    """The upload page; a POST is the no-JavaScript fallback (the page's script uses the API)."""
    if request.method == "POST":
        photos, rejected, _ = store_uploads(request)
        if not photos and not rejected:
            messages.error(request, NO_FILES)
        for name, message in rejected:
            messages.error(request, f"{name}: {message}")
        if photos:
            messages.success(request, f"{len(photos)} photo(s) queued for colouring.")
        if any(photo.waiting_for_queue for photo in photos):
            messages.warning(request, WAITING_FOR_QUEUE)
        return redirect("gallery-upload")
    recent = Photo.objects.filter(owner=request.user).for_listing()[:12]
    return render(
        request,
        "gallery/upload.html",
        {
            "recent": recent,
            "max_bytes": settings.COLORSITE_MAX_UPLOAD_BYTES,
            "max_megapixels": settings.COLORSITE_MAX_PIXELS // 1_000_000,
            "allowance": Allowance(request.user),
            "quota_line": quota.usage_line(request.user.pk),
        },
    )


@login_required
@require_GET
def photo_list(request):
    photos = Photo.objects.filter(owner=request.user).for_listing()
    page = Paginator(photos, settings.COLORSITE_PAGE_SIZE).get_page(PageQuery.values(request)["page"])
    return render(request, "gallery/list.html", {"page": page, "title": "My photos", "public": False})


@require_GET
def public_list(request):
    photos = Photo.objects.filter(is_public=True).select_related("owner").for_listing("owner__username")
    page = Paginator(photos, settings.COLORSITE_PAGE_SIZE).get_page(PageQuery.values(request)["page"])
    return render(request, "gallery/list.html", {"page": page, "title": "Public gallery", "public": True})


@require_GET
def photo_detail(request, photo_id):
    photo = visible_photo(request, photo_id)
    is_owner = photo.owner_id == request.user.id
    sizes = sorted({*WORKING_SIZE_CHOICES, photo.working_size})
    return render(
        request,
        "gallery/detail.html",
        {
            "photo": photo,
            "urls": photo.to_dict()["urls"],
            "full_urls": {"after": photo.file_url("result"), "original": photo.file_url("original")},
            "is_owner": is_owner,
            "working_sizes": [(size, colour_controls.size_label(size, DEFAULT_WORKING_SIZE)) for size in sizes],
            "working_size_help": colour_controls.WORKING_SIZE_HELP,
            "strengths": [
                (value, label, colour_controls.STRENGTH_HELP[value])
                for value, label in colour_controls.STRENGTH_CHOICES
            ],
            "history": photo.colourings.select_related("photo") if is_owner else (),
        },
    )


@require_GET
def photo_file(request, photo_id, kind):
    """One of a photo's files, for its owner, or for anybody once it is public.

    Media is never served from a public folder: a private photo's files are reachable only here.
    """
    photo = visible_photo(request, photo_id)
    return serve_file(request, photo, kind, download=FileQuery.values(request)["download"] == "1")


@login_required
@require_POST
def photo_delete(request, photo_id):
    photo = own_photo(request, photo_id)
    photo.delete_with_files()
    messages.success(request, f"Deleted {photo.name}.")
    return redirect("gallery-list")


@login_required
@require_POST
def photo_recolour(request, photo_id):
    photo = own_photo(request, photo_id)
    form = RecolourForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.error_message())
        return redirect(photo)
    working_size, strength = form.cleaned_data["working_size"], form.cleaned_data["strength"]
    refused = work_budget.charge_recolour(photo, working_size)
    if refused:
        messages.error(request, f"Not re-coloured: {refused.message}.")
    elif photo.recolour(working_size, strength):
        messages.success(request, f"Re-colouring at working size {photo.working_size} with {photo.strength} colour.")
    else:
        work_budget.give_back(photo.owner_id, work_budget.cost(photo.width * photo.height, working_size))
        messages.error(request, "This photo is still being coloured; try again when it is done.")
    return redirect(photo)


@login_required
@require_POST
def photo_visibility(request, photo_id):
    photo = own_photo(request, photo_id)
    form = VisibilityForm(request.POST)
    form.is_valid()  # a missing box means "private": the form cannot be invalid
    photo.set_public(form.cleaned_data["is_public"])
    messages.success(request, "The photo is public now." if photo.is_public else "The photo is private now.")
    return redirect(photo)


# -- the kept results of a photo (gallery.models.colourings), for its owner only ----------------------------


@login_required
@require_GET
def colouring_file(request, photo_id, colouring_id, kind):
    colouring = own_colouring(request, photo_id, colouring_id)
    return serve_file(request, colouring, kind, download=FileQuery.values(request)["download"] == "1")


@login_required
@require_POST
def colouring_current(request, photo_id, colouring_id):
    colouring = own_colouring(request, photo_id, colouring_id)
    if colouring.make_current():
        messages.success(
            request, f"Showing the result at working size {colouring.working_size} with {colouring.strength} colour."
        )
    else:
        messages.error(request, "This photo is being coloured; choose a result again when it is done.")
    return redirect(colouring.photo)


@login_required
@require_POST
def colouring_delete(request, photo_id, colouring_id):
    colouring = own_colouring(request, photo_id, colouring_id)
    if colouring.delete_with_files():
        messages.success(request, "Deleted that result; its storage is free again.")
    else:
        messages.error(request, "That result is the one shown now: choose another one first, or delete the photo.")
    return redirect(colouring.photo)
