"""Best and worst held-out photos of a model, from its evaluation report.

The ranking reads the per-image rows that :func:`ml.evaluate.evaluate` stored,
so nothing is recomputed; :func:`render_triptychs` draws each chosen photo once
as grey input | prediction | target (like the figures of the student project this engine grew from), for the
staff pages to serve as plain files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from . import color
from . import data as _dataset  # `data` is a keyword below
from .inference import Colorizer

# metric -> (how to read it from a row, True when higher is better)
RANKINGS = {
    "rmse_ab": (lambda m: m["rmse_ab"], False),
    "psnr": (lambda m: m["psnr"], True),
    "colourfulness_gap": (lambda m: abs(m["colourfulness"] - m["colourfulness_true"]), False),
}


def rank(rows: list[dict], metric: str = "rmse_ab", n: int = 10) -> tuple[list[dict], list[dict]]:
    """(best n, worst n) rows of an evaluation report, best first and worst first."""
    if metric not in RANKINGS:
        raise ValueError(f"metric must be one of {sorted(RANKINGS)}, got {metric!r}")
    key, higher_is_better = RANKINGS[metric]
    ordered = sorted(rows, key=lambda r: key(r["model"]), reverse=higher_is_better)
    return ordered[:n], ordered[::-1][:n]


def triptych(rgb: np.ndarray, predicted: np.ndarray, gap: int = 4) -> Image.Image:
    """grey input | prediction | target, side by side on white."""
    h, w = rgb.shape[:2]
    canvas = Image.new("RGB", (3 * w + 2 * gap, h), "white")
    for i, panel in enumerate((color.grey_rgb(rgb), predicted, rgb)):
        canvas.paste(Image.fromarray(panel), (i * (w + gap), 0))
    return canvas


def render_triptychs(
    model_dir: str | Path,
    files: list[str],
    out_dir: str | Path,
    *,
    data: str | None = None,
    colorizer: Colorizer | None = None,
    collection: str = "landscape",
) -> dict[str, Path]:
    """Write ``<file stem>.jpg`` triptychs for the named test photos of ``collection``; returns file -> path.

    ``files`` are the report rows' file names; where each lives is read from the
    collection's test split (landscape: ``color/``, photos: ``test/``), so a
    name that is not a test photo of that collection raises ``ValueError``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    test_paths = {path.name: path for path in _dataset.split_files(_dataset.dataset_root(data, collection), "test")}
    unknown = sorted(set(files) - set(test_paths))
    if unknown:
        raise ValueError(f"not test photos of the {collection} collection: {unknown[:5]}")
    colorizer = colorizer or Colorizer(model_dir)
    written = {}
    for name in files:
        with Image.open(test_paths[name]) as im:
            rgb = np.asarray(im.convert("RGB"))
        target = out / f"{Path(name).stem}.jpg"
        triptych(rgb, colorizer.colorize_array(rgb)).save(target, quality=90)
        written[name] = target
    return written
