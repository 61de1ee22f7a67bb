"""Scoring a model on the held-out test split, beside the grey baseline.

Each test photo is coloured at its native size from its own L, exactly as the
site would colour an upload, and scored with :mod:`ml.metrics`.  The grey
baseline (the same L with ab = 0) is scored on the same photos, so every figure
has its trivial reference next to it.  The JSON report keeps the per-image rows:
the staff leaderboards are built from them.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from . import color, metrics
from . import data as _dataset  # `data` is a keyword of evaluate()
from .inference import DEFAULT_WORKING_SIZE, Colorizer, read_model_info

REPORT_NAME = "evaluation.json"
COLUMNS = (("rmse_ab", "RMSE_ab", "{:.2f}"), ("psnr", "PSNR dB", "{:.2f}"), ("ssim", "SSIM", "{:.3f}"),
           ("auc", "AuC", "{:.3f}"), ("colourfulness", "CF", "{:.2f}"),
           ("colourfulness_true", "CF true", "{:.2f}"), ("delta_colourfulness", "ΔCF", "{:.2f}"))


def evaluate(model_dir: str | Path, *, data: str | None = None, max_examples: int | None = None,
             working_size: int = DEFAULT_WORKING_SIZE, out: str | Path | None = None,
             progress=None) -> dict:
    """Score ``model_dir`` on the test split; writes and returns the report.

    ``progress(done, total)`` is called every 25 photos, for progress bars.
    """
    started = time.time()
    root = _dataset.dataset_root(data)
    paths = _dataset.split_files(root, "test", max_examples)
    images = _dataset.load_rgb(paths)
    colorizer = Colorizer(model_dir, working_size=working_size)
    rows = []
    for i, (path, rgb) in enumerate(zip(paths, images)):
        predicted = colorizer.colorize_array(rgb)
        rows.append({"file": path.name, "model": metrics.score(predicted, rgb),
                     "grey": metrics.score(color.grey_rgb(rgb), rgb)})
        if progress and (i + 1) % 25 == 0:
            progress(i + 1, len(paths))
    report = {
        "model_dir": str(model_dir),
        "model": {k: v for k, v in read_model_info(model_dir).items() if k not in ("bins", "decode_search")},
        "decoding": ({"temperature": colorizer.temperature, "correction": colorizer.correction}
                     if colorizer.family == "classification" else None),
        "split": "test",
        "images": len(rows),
        "working_size": working_size,
        "summary": {"model": metrics.summarise([r["model"] for r in rows]),
                    "grey": metrics.summarise([r["grey"] for r in rows])},
        "rows": rows,
        "seconds": round(time.time() - started, 1),
    }
    target = Path(out) if out else Path(model_dir) / REPORT_NAME
    target.write_text(json.dumps(report, indent=1))
    return report


def format_table(report: dict) -> str:
    """The summary as a Markdown table: model and grey baseline side by side."""
    head = "| | " + " | ".join(label for _, label, _ in COLUMNS) + " |"
    lines = [f"Test split, {report['images']} photos at native size "
             f"(family {report['model'].get('family')}, working size {report['working_size']})", "",
             head, "|" + "---|" * (len(COLUMNS) + 1)]
    for name in ("model", "grey"):
        s = report["summary"][name]
        lines.append(f"| {name} | " + " | ".join(fmt.format(s[key]) for key, _, fmt in COLUMNS) + " |")
    return "\n".join(lines)

