"""Every answer under /api/ is JSON: ``{"error": "…"}`` with the right status, whatever produced it.

The API's views answer their own errors in JSON, but many answers come from elsewhere: Django's
404 page for an unknown photo id (the debug page under ``make run``), the empty 405 of
``require_GET``, the CSRF middleware's 403 page, the "Bad Request (400)" for a request Django
refuses to parse (more than DATA_UPLOAD_MAX_NUMBER_FILES files), a 500.  A script must be able
to read every one of them the same way, so this middleware turns any such answer under /api/
into the same shape, keeping its status and headers (Allow, Retry-After).

It parses an API POST's body itself, before anything else touches it, so that a body Django
refuses (too many files or fields, too much data) is a 413 rather than the 400 Django would make
of it.  The words come from STATUS_MESSAGES: fixed sentences, never an exception's text.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import (
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import HttpResponse, JsonResponse, UnreadablePostError

from .middleware import API_PREFIX

TOO_LARGE = (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)


def status_messages() -> dict[int, str]:
    """The sentence for each status (a function: the file limit is a setting the tests change)."""
    return {
        400: 'the request could not be understood: send multipart/form-data with the files in the field "file"',
        401: "authenticate with an API token or a session",
        403: "not allowed: with a session, a POST needs the csrftoken cookie's value in an X-CSRFToken header "
        "(or authenticate with an API token)",
        404: "not found: there is no such photo for you here, or no such address in the API",
        405: "this method is not allowed here",
        413: f"the request is too large: send at most {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files at once",
        429: "too many requests: wait a while, then try again",
        500: "the server could not answer this request; the error is in its log",
    }


def error(status: int, message: str | None = None) -> JsonResponse:
    messages = status_messages()
    fallback = messages[500] if status >= 500 else messages[400]
    return JsonResponse({"error": message or messages.get(status, fallback)}, status=status)


class ApiErrorMiddleware:
    """Placed after CommonMiddleware (which may still turn a 404 into a redirect to the slashed
    URL) and before CsrfViewMiddleware (whose refusals it rewrites, and which reads the body)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        if request.method == "POST":
            try:
                request.POST  # noqa: B018 (parses the body and its files now, see the module's docstring)
            except TOO_LARGE:
                return error(413)
            except (SuspiciousOperation, UnreadablePostError):
                return error(400)
        response = self.get_response(request)
        if response.status_code < 400 or response.get("Content-Type", "").startswith("application/json"):
            return response
        return as_json(response)


def as_json(response: HttpResponse) -> JsonResponse:
    """The same status and headers (Allow, Retry-After …) with the API's JSON body."""
    message = None
    if response.status_code == 405 and response.has_header("Allow"):
        message = f"this method is not allowed here; use {response['Allow']}"
    answer = error(response.status_code, message)
    for header, value in response.items():
        if header.lower() not in ("content-type", "content-length"):
            answer[header] = value
    answer.cookies = response.cookies
    return answer
