"""The JSON API: upload, status, list, download, delete, visibility — the pages' validation and ownership rules.

Authentication: a token from /account/api-token/ sent as ``Authorization: Bearer
<token>`` (gallery.middleware), or the site's session (then POSTs need the
csrftoken cookie's value in an X-CSRFToken header).  Errors are JSON with an
"error" key and a matching HTTP status; somebody else's private photo is 404.  Error answers
that do not come from these views (Django's 404 and 405, the CSRF check, a body too large to
parse, a 500) are put in the same shape by gallery.api_errors.
"""

from __future__ import annotations

import json
from functools import wraps

from django.conf import settings
from django.core.paginator import Paginator
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET, require_http_methods

from . import quota
from .models import Photo
from .photo_io import NO_FILES, WAITING_FOR_QUEUE, own_photo, serve_file, store_uploads, visible_photo
from .query_forms import PageQuery, StatusQuery


def api_login_required(view):
    """Like login_required, but a 401 with a JSON body instead of a redirect to the login page."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return JsonResponse({"error": "authenticate with an API token or a session"}, status=401)
        return view(request, *args, **kwargs)

    return wrapped


@api_login_required
@require_http_methods(["GET", "POST"])
def photos(request):
    """GET: the user's photos, newest first, paginated (?page=N).  POST: upload one or more
    files in the multipart field "file"; 201 when any was accepted, 429 (with Retry-After) when
    the hourly limit turned them away, else 400."""
    if request.method == "POST":
        accepted, rejected, allowance = store_uploads(request)
        body: dict[str, object] = {
            "photos": [p.to_dict() for p in accepted],
            "rejected": [{"name": name, "error": message} for name, message in rejected],
        }
        if not accepted and not rejected:
            body["error"] = f'{NO_FILES}; send them in the multipart field "file"'
        if any(p.waiting_for_queue for p in accepted):
            body["notice"] = WAITING_FOR_QUEUE
        if accepted:
            return JsonResponse(body, status=201)
        if allowance.rate_limited:  # 429 with Retry-After, so a script knows to wait rather than resend
            response = JsonResponse(dict(body, error=allowance.rate_limited), status=429)
            response["Retry-After"] = str(allowance.retry_after)
            return response
        return JsonResponse(body, status=400)
    paginator = Paginator(Photo.objects.filter(owner=request.user), settings.COLORSITE_PAGE_SIZE)
    page = paginator.get_page(PageQuery.values(request)["page"])
    return JsonResponse(
        {
            "count": paginator.count,
            "page": page.number,
            "pages": paginator.num_pages,
            "photos": [p.to_dict() for p in page],
        }
    )


@require_http_methods(["GET", "PATCH", "POST", "DELETE"])
def photo(request, photo_id):
    """GET: one photo's status and links (the owner's, or a public one).  DELETE: delete it with
    its files (204), as the page's Delete button does.  PATCH or POST with a JSON object
    ``{"is_public": true|false}``: change its visibility, answering the photo.  Changes are the
    owner's only: anybody else gets 404, as for a photo that does not exist."""
    if request.method == "GET":
        return JsonResponse(visible_photo(request, photo_id).to_dict())
    if not request.user.is_authenticated:
        return JsonResponse({"error": "authenticate with an API token or a session"}, status=401)
    photo = own_photo(request, photo_id)
    if request.method == "DELETE":
        photo.delete_with_files()
        return HttpResponse(status=204)
    if request.content_type != "application/json":  # a form's body is parsed (and gone) already
        return JsonResponse(
            {"error": f"the body must be JSON (Content-Type: application/json): {VISIBILITY_EXAMPLE}"}, status=400
        )
    is_public, problem = visibility_from_json(request.body)
    if problem:
        return JsonResponse({"error": problem}, status=400)
    photo.set_public(is_public)
    return JsonResponse(photo.to_dict())


VISIBILITY_EXAMPLE = 'send a JSON object such as {"is_public": true}'


def visibility_from_json(body: bytes) -> tuple[bool, str]:
    """``is_public`` from a JSON body, or a message saying what is wrong (never the parser's own words)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return False, f"the body is not JSON: {VISIBILITY_EXAMPLE}"
    if not isinstance(data, dict) or "is_public" not in data:
        return False, f'"is_public" is missing: {VISIBILITY_EXAMPLE}'
    if not isinstance(data["is_public"], bool):
        return False, f'"is_public" must be true or false: {VISIBILITY_EXAMPLE}'
    return data["is_public"], ""


@require_GET
def status(request):
    """Status of several photos at once (?ids=a,b,c): what the pages poll for live updates."""
    query = StatusQuery(request.GET)
    if not query.is_valid():
        return JsonResponse({"error": query.error_message()}, status=400)
    found = Photo.objects.visible_to(request.user).filter(pk__in=query.cleaned_data["ids"])
    return JsonResponse({"photos": [p.to_dict() for p in found]})


@require_GET
def download(request, photo_id, kind):
    """The coloured image ("result") or the stored original ("original") at full resolution."""
    if kind not in ("result", "original"):
        return JsonResponse({"error": 'download "result" or "original"'}, status=404)
    photo = visible_photo(request, photo_id)
    if not photo.file_field(kind):
        return JsonResponse({"error": f"no {kind} yet; the photo is {photo.get_status_display()}"}, status=404)
    return serve_file(request, photo, kind, download=True)


@api_login_required
@require_GET
def usage(request):
    """The bytes the user keeps against their quota (0: no quota), and the upload page's sentence about it."""
    return JsonResponse(
        {
            "used_bytes": quota.used(request.user.pk),
            "quota_bytes": settings.COLORSITE_QUOTA_BYTES,
            "line": quota.usage_line(request.user.pk),
        }
    )
