"""The Celery app: configured from Django settings (CELERY_* names), tasks found in each app's tasks.py.

Start a worker with ``celery -A colorsite worker --concurrency 1``.  The colouring
model is loaded lazily inside the first task a worker process runs (see
gallery.tasks.get_colorizer), never here and never in the parent before fork.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "colorsite.settings")

app = Celery("colorsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
