"""The activation guard: when switching the model every user's photos are coloured with needs a second look.

Activating a version asks for confirmation when, on either test split, its mean PSNR is below
the grey baseline's (ab = 0: the model would do better colouring nothing) or below the active
version's, or when it has no report on a split the active version was scored on.  PSNR is the
figure the README's results and the mission rank by; the page shows colourfulness and the share
of photos beating grey beside it so that a person can weigh a PSNR loss against livelier colour.
A rollback always asks: it is rare and just as consequential, and the version it brings back may
be worse than the one in use.

Pure functions over the stored summaries (ModelVersion.summary / photos_summary); the staff
views decide what to do with their answer.
"""

from __future__ import annotations

from .models import ModelVersion
from .reports import SET_TITLES, figure, show


def concerns(candidate: ModelVersion, active: ModelVersion | None) -> list[str]:
    """Why activating ``candidate`` in place of ``active`` needs a confirmation, in sentences; [] when it does not."""
    reasons = []
    for collection in ModelVersion.COLLECTIONS:
        where = SET_TITLES[collection].lower()
        mine = candidate.summary_of(collection)
        psnr = figure(mine, "psnr")
        grey = figure(mine, "psnr", "grey")
        active_psnr = None
        if active is not None and active.pk != candidate.pk:
            active_psnr = figure(active.summary_of(collection), "psnr")
        if psnr is None:
            if active is not None and active_psnr is not None:
                reasons.append(
                    f"{candidate.label} has no report on the {where}, where {active.label} was scored, "
                    "so nothing shows it is not worse there."
                )
            continue
        if grey is not None and psnr < grey:
            reasons.append(
                f"{candidate.label} is worse than grey on the {where}: "
                f"PSNR {show(psnr, '{:.2f}')} dB against grey's {show(grey, '{:.2f}')} dB."
            )
        if active is not None and active_psnr is not None and psnr < active_psnr:
            reasons.append(
                f"{candidate.label} is worse than the active version {active.label} on the {where}: "
                f"PSNR {show(psnr, '{:.2f}')} dB against {show(active_psnr, '{:.2f}')} dB."
            )
    return reasons
