"""The work budget: colouring work a person may ask for in an hour, counted per job, not per request.

Counting requests let one account at the hourly upload limit re-colour 20 photos at working
size 2048: one 0.15 s request for a 49-megapixel photo cost 36 s of a worker, and a 3 KB JPEG
whose header claims 7000×7000 cost 24 s.  So every job that reaches a worker, an upload or a
re-colour, is charged what it costs:

    cost = ceil(megapixels × working-size factor), at least 1 unit,
    factor = max(1, (working size / 256)²)

One unit is a megapixel at working size 256 (``UNIT_WORKING_SIZE``; the default working size
is smaller, 160, and costs the same): the full-size work (decoding, the
lightness merge, encoding) grows with the pixels, the network's with the square of the working
size.  An upload is charged by the pixels its header *declares*, read without decoding
(``declared_pixels``), so a small file that decodes to a huge image pays for the huge image,
and a refused file costs no decoding at all.

A person has COLORSITE_WORK_PER_HOUR units (0: no budget) in a window of an hour that begins
with their first job after the previous window ended.  The charge is one conditional UPDATE on
their Usage row (``work_used <= budget - cost``), so parallel requests cannot overspend it.  A
charge is given back (``give_back``) when the job does not go ahead after all (a file refused
for what it is, a re-colour of a photo still being coloured).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone
from PIL import Image

from ml.inference import DEFAULT_WORKING_SIZE

from .models.usage import Usage

WINDOW = timedelta(hours=1)
# The working size a unit is counted at.  Fixed, not the default working size, so that a change
# of default (256 -> 160 when the working size became the copy's shorter side) moves no budget.
UNIT_WORKING_SIZE = 256


def cost(pixels: int, working_size: int = DEFAULT_WORKING_SIZE) -> int:
    """Work units of colouring an image of ``pixels`` pixels at ``working_size``."""
    factor = max(1.0, (working_size / UNIT_WORKING_SIZE) ** 2)
    return max(1, math.ceil(pixels / 1e6 * factor))


def declared_pixels(fileobj) -> int | None:
    """Width × height as the file's header states them, without decoding a pixel; None if unreadable.

    Unreadable headers are not charged: the upload form refuses such files anyway.
    """
    try:
        fileobj.seek(0)
        with Image.open(fileobj) as image:
            width, height = image.size
    except Exception:  # Pillow raises many types for what is not an image (or a bomb's header)
        return None
    finally:
        fileobj.seek(0)
    return width * height


@dataclass
class Refusal:
    """Why a job was refused, for a person, and when to try again (seconds; 0: asking again will not help)."""

    message: str
    retry_after: int


def charge(user_id, units: int, *, what: str) -> Refusal | None:
    """Charge ``units`` to the person's budget of this hour; None when charged, else why not.

    ``what`` names the job for the message ("colouring this photo (12.0 megapixels …)").
    """
    budget = settings.COLORSITE_WORK_PER_HOUR
    if not budget:
        return None
    if units > budget:
        return Refusal(
            f"{what} needs {units} units of work, more than the {budget} units one person may use in an hour; "
            "choose a smaller working size",
            0,
        )
    now = timezone.now()
    Usage.ensure(user_id)
    # A new window once the last one has ended; conditional, so parallel requests open it once.
    Usage.objects.filter(user_id=user_id).filter(Q(work_window__isnull=True) | Q(work_window__lte=now - WINDOW)).update(
        work_window=now, work_used=0
    )
    if Usage.objects.filter(user_id=user_id, work_used__lte=budget - units).update(work_used=F("work_used") + units):
        return None
    used, window = Usage.objects.filter(user_id=user_id).values_list("work_used", "work_window").get()
    retry_after = max(1, math.ceil((window + WINDOW - now).total_seconds())) if window else 1
    minutes = max(1, math.ceil(retry_after / 60))
    return Refusal(
        f"{what} needs {units} units of work and you have {max(0, budget - used)} of your {budget} units "
        f"for this hour left; try again in {minutes} minute{'s' if minutes > 1 else ''}",
        retry_after,
    )


def give_back(user_id, units: int) -> None:
    """Undo a charge whose job did not go ahead."""
    if units and settings.COLORSITE_WORK_PER_HOUR:
        Usage.objects.filter(user_id=user_id).update(work_used=Greatest(F("work_used") - units, 0))


def describe(pixels: int, working_size: int = DEFAULT_WORKING_SIZE) -> str:
    """The job, as the refusal names it."""
    return f"colouring this photo ({pixels / 1e6:.1f} megapixels at working size {working_size})"


def charge_recolour(photo, working_size: int) -> Refusal | None:
    """Charge a re-colour of ``photo`` at ``working_size`` to its owner."""
    pixels = photo.width * photo.height
    return charge(photo.owner_id, cost(pixels, working_size), what=describe(pixels, working_size))
