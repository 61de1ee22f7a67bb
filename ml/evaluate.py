"""Scoring a model on the held-out test splits of both collections, beside the grey baseline.

Each test photo is coloured at its native size from its own L, exactly as the
site would colour an upload, and scored with :mod:`ml.metrics`.  The grey
baseline (the same L with ab = 0) is scored on the same photos, so every figure
has its trivial reference next to it.  Each collection gets its own report in
the model folder (``evaluation.json`` for landscape, the dashboard's headline,
and ``evaluation_photos.json``), with the share of photos that beat grey on
PSNR and a breakdown by source set (the file-name prefix: faces, pets, rooms …).
The reports keep the per-image rows: the staff leaderboards are built from them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from . import color, metrics
from . import data as _dataset  # `data` is a keyword of evaluate()
from .calibrate import DECODE_KNOBS
from .inference import DEFAULT_WORKING_SIZE, Colorizer, read_model_info

REPORT_NAME = "evaluation.json"  # landscape: the name the first engine used, kept for old model folders
REPORT_NAMES = {"landscape": REPORT_NAME, "photos": "evaluation_photos.json"}
COLUMNS = (
    ("rmse_ab", "RMSE_ab", "{:.2f}"),
    ("psnr", "PSNR dB", "{:.2f}"),
    ("ssim", "SSIM", "{:.3f}"),
    ("auc", "AuC", "{:.3f}"),
    ("colourfulness", "CF", "{:.2f}"),
    ("colourfulness_true", "CF true", "{:.2f}"),
    ("delta_colourfulness", "ΔCF", "{:.2f}"),
)


def evaluate(
    model_dir: str | Path,
    *,
    data: str | None = None,
    max_examples: int | None = None,
    working_size: int = DEFAULT_WORKING_SIZE,
    out: str | Path | None = None,
    progress=None,
    collection: str = "landscape",
) -> dict:
    """Score ``model_dir`` on one collection's test split; writes and returns the report.

    ``data`` is that collection's folder (default: its environment variable or
    ../shared/datasets).  ``progress(done, total)`` is called every 25 photos.
    """
    started = time.time()
    root = _dataset.dataset_root(data, collection)
    paths = _dataset.split_files(root, "test", max_examples)
    images = _dataset.load_rgb(paths)
    colorizer = Colorizer(model_dir, working_size=working_size)
    rows = []
    for i, (path, rgb) in enumerate(zip(paths, images)):
        predicted = colorizer.colorize_array(rgb)
        rows.append(
            {
                "file": path.name,
                "source": _dataset.source_of(path),
                "model": metrics.score(predicted, rgb),
                "grey": metrics.score(color.grey_rgb(rgb), rgb),
            }
        )
        if progress and (i + 1) % 25 == 0:
            progress(i + 1, len(paths))
    report = {
        "model_dir": str(model_dir),
        "model": {k: v for k, v in read_model_info(model_dir).items() if k not in ("bins", "decode_search")},
        "decoding": (
            {
                **{knob: getattr(colorizer, knob) for knob in DECODE_KNOBS},
                "confidence_reference": colorizer.confidence_reference,
            }
            if colorizer.family == "classification"
            else None
        ),
        "collection": collection,
        "split": "test",
        "images": len(rows),
        "working_size": working_size,
        **compare_with_grey(rows),
        "by_source": by_source(rows),
        "rows": rows,
        "seconds": round(time.time() - started, 1),
    }
    target = Path(out) if out else Path(model_dir) / REPORT_NAMES[collection]
    target.write_text(json.dumps(report, indent=1))
    return report


def compare_with_grey(rows: list[dict]) -> dict:
    """Summaries of model and grey over ``rows``, the share of photos where the model's PSNR is higher,
    and the mean PSNR gain over grey with its standard error.

    The standard error says how far a small source set's gain could move on another draw of
    photos: a set of 80 whose gain is -0.36 ± 0.22 dB is not the same news as -0.36 ± 0.05.
    """
    gain = np.asarray([r["model"]["psnr"] - r["grey"]["psnr"] for r in rows], np.float64)
    gain = gain[np.isfinite(gain)]  # a photo that is already grey scores an infinite PSNR
    return {
        "summary": {
            "model": metrics.summarise([r["model"] for r in rows]),
            "grey": metrics.summarise([r["grey"] for r in rows]),
        },
        "beats_grey": sum(r["model"]["psnr"] > r["grey"]["psnr"] for r in rows) / len(rows),
        "psnr_vs_grey": float(gain.mean()) if gain.size else None,
        "psnr_vs_grey_se": float(gain.std(ddof=1) / np.sqrt(gain.size)) if gain.size > 1 else None,
    }


def by_source(rows: list[dict]) -> dict[str, dict]:
    """:func:`compare_with_grey` for each source set, by name."""
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row.get("source", "landscape"), []).append(row)
    return {name: {"images": len(group), **compare_with_grey(group)} for name, group in sorted(groups.items())}


def format_table(report: dict) -> str:
    """The summary as a Markdown table: model and grey baseline side by side."""
    head = "| | " + " | ".join(label for _, label, _ in COLUMNS) + " |"
    lines = [
        f"{report.get('collection', 'landscape')} test split, {report['images']} photos at native size "
        f"(family {report['model'].get('family')}, working size {report['working_size']})",
        "",
        head,
        "|" + "---|" * (len(COLUMNS) + 1),
    ]
    for name in ("model", "grey"):
        s = report["summary"][name]
        lines.append(f"| {name} | " + " | ".join(fmt.format(s[key]) for key, _, fmt in COLUMNS) + " |")
    if "beats_grey" in report:
        lines.append(f"\nThe model beats grey on PSNR for {100 * report['beats_grey']:.0f} % of the photos.")
    sources = report.get("by_source", {})
    if len(sources) > 1:
        lines += [
            "",
            "| source set | photos | PSNR model | PSNR grey | model − grey (± s.e.) "
            "| beats grey | CF model | CF true |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, part in sources.items():
            m, g = part["summary"]["model"], part["summary"]["grey"]
            lines.append(
                f"| {name} | {part['images']} | {m['psnr']:.2f} | {g['psnr']:.2f} | {gain_text(part)} | "
                f"{100 * part['beats_grey']:.0f} % | {m['colourfulness']:.1f} | {m['colourfulness_true']:.1f} |"
            )
    return "\n".join(lines)


def gain_text(part: dict) -> str:
    """ "+0.61 ± 0.25" from a :func:`compare_with_grey` result; "–" for a report written before the gain was."""
    gain, se = part.get("psnr_vs_grey"), part.get("psnr_vs_grey_se")
    if gain is None:
        return "–"
    return f"{gain:+.2f}" + (f" ± {se:.2f}" if se is not None else "")
