"""Pages: thin function views.  Access helper -> form -> one model method -> redirect or render."""
from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .forms import PhotoFileForm, RecolourForm, SignupForm, VisibilityForm
from .limits import Allowance
from .models import DEFAULT_WORKING_SIZE, WORKING_SIZE_CHOICES, ApiToken, Photo, file_version

log = logging.getLogger(__name__)

# Shown when an upload was stored but its colouring could not be queued (Redis is down): it waits.
WAITING_FOR_QUEUE = ("Your photos are saved and waiting: the colouring queue cannot be reached right now. "
                     "They will be coloured automatically as soon as it is back; nothing needs to be sent again.")
STORAGE_FAILED = "the photo could not be saved: the server's storage failed; please send it again later"


def own_photo(request, photo_id) -> Photo:
    """The request user's photo, or 404 — also for somebody else's, so ids cannot be probed."""
    return get_object_or_404(Photo, pk=photo_id, owner=request.user)


def visible_photo(request, photo_id) -> Photo:
    """A photo the request user may look at: their own or a public one; otherwise 404."""
    return get_object_or_404(Photo.objects.visible_to(request.user), pk=photo_id)


def store_uploads(request) -> tuple[list[Photo], list[tuple[str, str]], Allowance]:
    """Check every file of the request on its own and store the good ones.

    Returns the new photos, (file name, message) for each file turned away, and the person's
    upload allowance (gallery.limits); one bad file never stops the others.  The limits are
    checked before a file is decoded.  Shared by the upload page and the JSON API.
    """
    photos, rejected = [], []
    allowance = Allowance(request.user)
    for upload in request.FILES.getlist("file"):
        refusal = allowance.refusal(upload.size)
        if refusal:
            rejected.append((upload.name, refusal))
            continue
        form = PhotoFileForm(files={"file": upload})
        if not form.is_valid():
            allowance.give_back(upload.size)
            rejected.append((upload.name, form.error_message()))
            continue
        try:
            photos.append(Photo.create_from_upload(request.user, upload.name, form.image, form.source_format,
                                                   upload.size))
        except OSError:
            log.exception("storing an upload of %s failed", request.user)
            allowance.give_back(upload.size)
            rejected.append((upload.name, STORAGE_FAILED))
    return photos, rejected, allowance


def index(request):
    return redirect("gallery-upload" if request.user.is_authenticated else "gallery-public")


@require_http_methods(["GET", "POST"])
def signup(request):
    if not settings.COLORSITE_OPEN_SIGNUP:
        raise Http404("sign-up is closed on this site")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        login(request, form.save())
        return redirect("gallery-upload")
    return render(request, "registration/signup.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def api_token(request):
    """Issue a token for the JSON API; it is shown once, and a new one revokes the old."""
    token = ApiToken.issue(request.user) if request.method == "POST" else None
    has_token = token is not None or ApiToken.objects.filter(user=request.user).exists()
    return render(request, "gallery/api_token.html", {"token": token, "has_token": has_token})


@login_required
@require_http_methods(["GET", "POST"])
def upload(request):
    """The upload page; a POST is the no-JavaScript fallback (the page's script uses the API)."""
    if request.method == "POST":
        photos, rejected, _ = store_uploads(request)
        for name, message in rejected:
            messages.error(request, f"{name}: {message}")
        if photos:
            messages.success(request, f"{len(photos)} photo(s) queued for colouring.")
        if any(photo.waiting_for_queue for photo in photos):
            messages.warning(request, WAITING_FOR_QUEUE)
        return redirect("gallery-upload")
    recent = Photo.objects.filter(owner=request.user).for_listing()[:12]
    return render(request, "gallery/upload.html", {"recent": recent, "max_bytes": settings.COLORSITE_MAX_UPLOAD_BYTES,
                                                   "max_megapixels": settings.COLORSITE_MAX_PIXELS // 1_000_000,
                                                   "allowance": Allowance(request.user)})


@login_required
@require_GET
def photo_list(request):
    photos = Photo.objects.filter(owner=request.user).for_listing()
    page = Paginator(photos, settings.COLORSITE_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "gallery/list.html", {"page": page, "title": "My photos", "public": False})


@require_GET
def public_list(request):
    photos = Photo.objects.filter(is_public=True).select_related("owner").for_listing("owner__username")
    page = Paginator(photos, settings.COLORSITE_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "gallery/list.html", {"page": page, "title": "Public gallery", "public": True})


@require_GET
def photo_detail(request, photo_id):
    photo = visible_photo(request, photo_id)
    return render(request, "gallery/detail.html", {
        "photo": photo, "urls": photo.to_dict()["urls"], "is_owner": photo.owner_id == request.user.id,
        "working_sizes": sorted({*WORKING_SIZE_CHOICES, photo.working_size}),
        "default_working_size": DEFAULT_WORKING_SIZE,
    })


@require_GET
def photo_file(request, photo_id, kind):
    """One of a photo's files, for its owner, or for anybody once it is public.

    Media is never served from a public folder: a private photo's files are reachable only here.
    """
    photo = visible_photo(request, photo_id)
    return serve_file(request, photo, kind, download=request.GET.get("download") == "1")


def serve_file(request, photo: Photo, kind: str, *, download: bool) -> FileResponse:
    file = photo.file_field(kind)
    if file is None:
        raise Http404("no such file for this photo")
    try:
        opened = file.open("rb")
    except FileNotFoundError:  # the storage lost it (a restored backup, a volume not mounted): not a 500
        log.error("photo %s names %s, which the storage does not have", photo.pk, file.name)
        raise Http404("the file is missing") from None
    response = FileResponse(opened, as_attachment=download,
                            filename=photo.download_name(kind) if download else "")
    # A versioned URL never changes content (a re-colour writes a new name), so it caches for good.
    fresh = request.GET.get("v") == file_version(file.name)
    response["Cache-Control"] = "private, max-age=31536000, immutable" if fresh else "private, no-cache"
    return response


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
        messages.error(request, "; ".join(form.errors["working_size"]))
    elif photo.recolour(form.cleaned_data["working_size"]):
        messages.success(request, f"Re-colouring at working size {photo.working_size}.")
    else:
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
