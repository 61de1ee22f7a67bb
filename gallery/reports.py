"""What the staff pages show of a version's stored test-split summaries: tables as plain rows.

Pure functions over ModelVersion.summary / photos_summary (nothing is computed from a model):
the report beside grey for one test split, the photos split's per-source-set table, and a
ready version's figures against the active version's on both splits, which an admin reads
before activating it.  Every value leaves here formatted; a figure an older report lacks
shows as "–".
"""

from __future__ import annotations

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
    """One row per source set of a split, by name: photos, PSNR model and grey, share beating grey."""
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
                "beats_grey": show(part.get("beats_grey"), "{:.0%}"),
                "loses": isinstance(model.get("psnr"), (int, float))
                and isinstance(grey.get("psnr"), (int, float))
                and model["psnr"] < grey["psnr"],
            }
        )
    return rows


def _figure(summary: dict, key: str):
    value = summary.get(key) if key == "beats_grey" else summary.get("model", {}).get(key)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def comparison(candidate: ModelVersion, active: ModelVersion) -> list[dict]:
    """The candidate's figures against the active version's on each test split, with the difference.

    ``verdict`` is "better", "worse" or "" (equal, unknown, or a figure with no better direction),
    so the page can colour it.
    """
    rows = []
    for collection in ModelVersion.COLLECTIONS:
        mine, theirs = candidate.summary_of(collection), active.summary_of(collection)
        for key, label, fmt, higher in COMPARED:
            a, b = _figure(mine, key), _figure(theirs, key)
            difference, verdict = MISSING, ""
            if a is not None and b is not None:
                difference = ("+" if a - b >= 0 else "") + fmt.format(a - b)
                if higher is not None and a != b:
                    verdict = "better" if (a > b) == higher else "worse"
            rows.append(
                {
                    "collection": collection,
                    "set": SET_TITLES[collection],
                    "key": key,
                    "label": label,
                    "candidate": show(a, fmt),
                    "active": show(b, fmt),
                    "difference": difference,
                    "verdict": verdict,
                }
            )
    return rows
