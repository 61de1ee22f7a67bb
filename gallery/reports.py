"""What the staff pages show of a version's stored test-split summaries: tables as plain rows.

Pure functions over ModelVersion.summary / photos_summary (nothing is computed from a model):
the report beside grey for one test split, the photos split's per-source-set table, and a
ready version's figures against the active version's on both splits, which an admin reads
before activating it.  Every value leaves here formatted; a figure an older report lacks
shows as "–".
"""

from __future__ import annotations

from ml.evaluate import gain_text

from .models import ModelVersion

MISSING = "–"
SET_TITLES = {"landscape": "Landscape test split", "photos": "Everyday-photos test split"}
# The report's figures in the order: (key in the summary, label, format).
REPORT_COLUMNS = (
    ("rmse_ab", "RMSE_ab", "{:.2f}"),
    ("psnr", "PSNR (dB)", "{:.2f}"),
    ("ssim", "SSIM", "{:.3f}"),
    ("colourfulness", "Colourfulness, prediction", "{:.2f}"),
    ("colourfulness_true", "Colourfulness, truth", "{:.2f}"),
    ("delta_colourfulness", "ΔCF", "{:.2f}"),
    ("auc", "AuC", "{:.3f}"),
)
# Against the active version: (key, label, format, True when higher is better; None: neither).
COMPARED = (
    ("psnr", "PSNR (dB)", "{:.2f}", True),
    ("rmse_ab", "RMSE_ab", "{:.2f}", False),
    ("auc", "AuC", "{:.3f}", True),
    ("colourfulness", "Colourfulness", "{:.2f}", None),
    ("delta_colourfulness", "ΔCF", "{:.2f}", False),
    ("beats_grey", "Photos beating grey on PSNR", "{:.0%}", True),
)


def show(value, fmt: str) -> str:
    return fmt.format(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else MISSING


def report_rows(summary: dict) -> list[tuple[str, str, str, str]]:
    """(key, label, model, grey baseline) for each figure of one test split's summary."""
    model, grey = summary.get("model", {}), summary.get("grey", {})
    rows = [(key, label, show(model.get(key), fmt), show(grey.get(key), fmt)) for key, label, fmt in REPORT_COLUMNS]
    if "beats_grey" in summary:
        rows.append(("beats_grey", "Photos beating grey on PSNR", show(summary["beats_grey"], "{:.0%}"), MISSING))
    return rows


def source_rows(summary: dict) -> list[dict]:
    """One row per source set of a split, by name: photos, PSNR model and grey, the gain over grey
    with its standard error, share beating grey."""
    rows = []
    # Sorted here: PostgreSQL's jsonb does not keep a dict's key order.
    for name, part in sorted(summary.get("by_source", {}).items()):
        model, grey = part.get("summary", {}).get("model", {}), part.get("summary", {}).get("grey", {})
        rows.append(
            {
                "source": name,
                "images": part.get("images"),
                "psnr_model": show(model.get("psnr"), "{:.2f}"),
                "psnr_grey": show(grey.get("psnr"), "{:.2f}"),
                "vs_grey": gain_text(part),
                "beats_grey": show(part.get("beats_grey"), "{:.0%}"),
                "loses": isinstance(model.get("psnr"), (int, float))
                and isinstance(grey.get("psnr"), (int, float))
                and model["psnr"] < grey["psnr"],
            }
        )
    return rows


def figure(summary: dict, key: str, side: str = "model"):
    """One number of a split's summary (``side`` "model" or "grey"; beats_grey is the split's own), or None."""
    value = summary.get(key) if key == "beats_grey" else summary.get(side, {}).get(key)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


# What the activation guard's page shows side by side: (key, label, format, True when higher is better).
GUARDED = (
    ("psnr", "PSNR (dB)", "{:.2f}", True),
    ("colourfulness", "Colourfulness", "{:.2f}", None),
    ("beats_grey", "Photos beating grey on PSNR", "{:.0%}", True),
)


def side_by_side(candidate: ModelVersion, active: ModelVersion | None) -> list[dict]:
    """The candidate, the active version and grey on each test split: PSNR, colourfulness, share beating grey.

    ``worse`` marks a candidate's figure below grey's or the active version's where higher is
    better (gallery.activation_guard asks for confirmation on PSNR); colourfulness carries the
    truth's in ``truth`` instead, since neither more nor less is better in itself.
    """
    rows = []
    for collection in ModelVersion.COLLECTIONS:
        mine = candidate.summary_of(collection)
        theirs = active.summary_of(collection) if active is not None else {}
        for key, label, fmt, higher in GUARDED:
            a, b = figure(mine, key), figure(theirs, key)
            grey = None if key == "beats_grey" else figure(mine, key, "grey")
            worse = bool(higher) and a is not None and any(x is not None and a < x for x in (b, grey))
            truth = show(figure(mine, "colourfulness_true"), fmt) if key == "colourfulness" else ""
            rows.append(_row(collection, key, label, fmt, a, b, grey=show(grey, fmt), truth=truth, worse=worse))
    return rows


def _row(collection: str, key: str, label: str, fmt: str, candidate, active, **more) -> dict:
    """One figure of one test split for two versions, formatted, as the staff pages' tables read it."""
    return {
        "collection": collection,
        "set": SET_TITLES[collection],
        "key": key,
        "label": label,
        "candidate": show(candidate, fmt),
        "active": show(active, fmt),
        **more,
    }


def comparison(candidate: ModelVersion, active: ModelVersion) -> list[dict]:
    """The candidate's figures against the active version's on each test split, with the difference.

    ``verdict`` is "better", "worse" or "" (equal, unknown, or a figure with no better direction),
    so the page can colour it.
    """
    rows = []
    for collection in ModelVersion.COLLECTIONS:
        mine, theirs = candidate.summary_of(collection), active.summary_of(collection)
        for key, label, fmt, higher in COMPARED:
            a, b = figure(mine, key), figure(theirs, key)
            difference, verdict = MISSING, ""
            if a is not None and b is not None:
                difference = ("+" if a - b >= 0 else "") + fmt.format(a - b)
                if higher is not None and a != b:
                    verdict = "better" if (a > b) == higher else "worse"
            rows.append(_row(collection, key, label, fmt, a, b, difference=difference, verdict=verdict))
    return rows
