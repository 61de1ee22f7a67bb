"""The colorsite Django project: settings, URLs and the Celery app."""

# Load the Celery app whenever Django starts so that `delay_on_commit` uses our configuration.
from .celery import app as celery_app

__all__ = ["celery_app"]
