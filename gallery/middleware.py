"""Token authentication for the JSON API."""

from django.http import JsonResponse

from .models import ApiToken

API_PREFIX = "/api/"


class ApiTokenMiddleware:
    """Let scripts call the JSON API with ``Authorization: Bearer <token>`` instead of a session.

    Placed after AuthenticationMiddleware, and it acts before any view is resolved, so it also
    runs before CsrfViewMiddleware's check.  A token request is exempt from that check: CSRF
    abuses the cookies a browser sends by itself, and a bearer token is never sent by itself.
    Session requests to the API keep the CSRF check, like every form.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        header = request.headers.get("Authorization", "")
        if request.path.startswith(API_PREFIX) and header.startswith("Bearer "):
            user = ApiToken.user_for(header.removeprefix("Bearer ").strip())
            if user is None:
                return JsonResponse({"error": "the API token is not valid"}, status=401)
            request.user = user
            request._dont_enforce_csrf_checks = True
        return self.get_response(request)
