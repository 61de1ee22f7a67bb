"""The gallery's models, one module per aggregate.

* photos.py: Photo and its queryset: what people upload, its files and how far its colouring has come.
* tokens.py: ApiToken: how a script signs in to the JSON API.
* shares.py: ShareLink: the unlisted link that shows one photo to whoever holds it.
* versions.py: ModelVersion: every colouring model the site knows, and which one is active.
* usage.py: Usage: per-person counters for the storage quota and the hourly work budget.

Behaviour that spans rows lives beside them: training runs in gallery.training_runs, recovery
from faults in gallery.recovery, sending work to the workers in gallery.enqueue.
"""

from .photos import WORKING_SIZE_CHOICES, Photo, PhotoQuerySet, file_version
from .shares import ShareLink
from .tokens import ApiToken
from .usage import Usage
from .versions import ModelVersion

__all__ = [
    "WORKING_SIZE_CHOICES",
    "ApiToken",
    "ModelVersion",
    "Photo",
    "PhotoQuerySet",
    "ShareLink",
    "Usage",
    "file_version",
]
