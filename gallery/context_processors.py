"""Template context for every page."""

from .health import model_problem


def staff_alerts(request) -> dict:
    """For staff only: what keeps the site from colouring (shown at the top of every page, the dashboard too)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_staff:
        return {}
    return {"model_problem": model_problem()}
