"""The gallery's models, one module per aggregate.

* photos.py: Photo and its queryset: what people upload, its files and how far its colouring has come.
* colourings.py: Colouring: each coloured result of a photo, kept when it is coloured again.
* stored_files.py: StoredFiles: a file of either reached by the name a page asks for, and its URL.
* tokens.py: ApiToken: how a script signs in to the JSON API.
* shares.py: ShareLink: the unlisted link that shows one photo to whoever holds it.
* versions.py: ModelVersion: every colouring model the site knows, and which one is active.
* usage.py: Usage: per-person counters for the storage quota and the hourly work budget.

Behaviour that spans rows lives beside them: training runs in gallery.training_runs, recovery
from faults in gallery.recovery, sending work to the workers in gallery.enqueue.
"""

from .colourings import Colouring
from .photos import WORKING_SIZE_CHOICES, Photo, PhotoQuerySet
from .shares import ShareLink
from .stored_files import file_version
from .tokens import ApiToken
from .usage import Usage
from .versions import ModelVersion

__all__ = [
    "WORKING_SIZE_CHOICES",
    "ApiToken",
    "Colouring",
    "ModelVersion",
    "Photo",
    "PhotoQuerySet",
    "ShareLink",
    "Usage",
    "file_version",
]
