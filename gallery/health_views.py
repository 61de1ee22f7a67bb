"""GET /healthz: the site's health for load balancers and monitoring (gallery.health.site_health)."""

from __future__ import annotations

from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .health import site_health


@never_cache
@require_GET
def healthz(request) -> JsonResponse:
    """200 when the database, the broker, the storage and the active model are all fine, else 503.

    No login: a load balancer asks.  The answer holds booleans and fixed words only (no paths, no
    exception texts, no keys), so it tells an outsider nothing they could use.
    """
    health = site_health()
    return JsonResponse(health, status=200 if health["ok"] else 503)
