"""The gallery's models, one module per aggregate.

* photos.py: Photo (with its queryset) and ApiToken: what people upload and how scripts sign in.
* versions.py: ModelVersion: every colouring model the site knows, and which one is active.

Behaviour that spans rows lives beside them: training runs in gallery.training_runs, recovery
from faults in gallery.recovery, sending work to the workers in gallery.enqueue.
"""

from .photos import WORKING_SIZE_CHOICES, ApiToken, Photo, PhotoQuerySet, file_version
from .versions import ModelVersion

__all__ = ["WORKING_SIZE_CHOICES", "ApiToken", "ModelVersion", "Photo", "PhotoQuerySet", "file_version"]
