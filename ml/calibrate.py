"""Choosing the classification decode on the val splits, and recording validation metrics.

The network gives a distribution over ab bins per cell; how that becomes one
colour is the annealed mean (:func:`ml.bins.annealed_mean`) with two knobs:
the temperature T and α, how much of the class rebalancing is undone.  Both
trade accuracy for vividness, so they are chosen on held-out val photos of
both collections together (never on test): ``python -m ml calibrate MODEL``,
also run at the end of training.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import color, metrics
from . import data as _dataset

TEMPERATURES = (0.38, 0.55, 0.7, 1.0)
CORRECTIONS = (0.0, 0.1, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.75, 1.0)


def validation_rows(colorizer, rgb) -> list[dict]:
    return [metrics.score(colorizer.colorize_array(x), x) for x in rgb]


def choose_decoding(colorizer, rgb, max_delta_cf: float) -> tuple[dict, list[dict]]:
    """Pick the decode (rebalancing correction α and temperature T) on the validation photos.

    Both knobs trade accuracy for vividness: lower α keeps more of the class
    rebalancing, lower T moves the annealed mean towards the mode.  We take the
    pair with the best PSNR among those whose colourfulness gap |mean CF pred -
    mean CF true| stays within ``max_delta_cf`` (desaturation is the failure this
    family exists to fix); if none does, the pair with the smallest gap.  Only
    PSNR and colourfulness are computed here, so the 48 pairs stay affordable.
    """
    lightness = [color.fast_rgb_to_l(x) for x in rgb]
    grids = [colorizer.grid_for(l) for l in lightness]  # the network runs once; only the decode varies
    true_cf = float(np.mean([metrics.colourfulness(x) for x in rgb]))
    table = []
    for correction in CORRECTIONS:
        for t in TEMPERATURES:
            psnr, cf = [], []
            for x, l, (grid, small) in zip(rgb, lightness, grids):
                ab = colorizer.ab_from_grid(grid, small, l.shape, temperature=t, correction=correction)
                y = color.fast_merge_l_ab(l, ab)
                psnr.append(metrics.psnr(y, x))
                cf.append(metrics.colourfulness(y))
            table.append(
                {
                    "correction": correction,
                    "temperature": t,
                    "psnr": float(np.mean(psnr)),
                    "colourfulness": float(np.mean(cf)),
                    "delta_colourfulness": abs(float(np.mean(cf)) - true_cf),
                }
            )
    ok = [r for r in table if r["delta_colourfulness"] <= max_delta_cf]
    best = max(ok, key=lambda r: r["psnr"]) if ok else min(table, key=lambda r: r["delta_colourfulness"])
    return {"correction": best["correction"], "temperature": best["temperature"]}, table


def calibrate(
    model_dir: str | Path,
    *,
    data: str | None = None,
    photos: str | None = None,
    collections: tuple[str, ...] = _dataset.DATASETS,
    max_delta_cf: float = 6.0,
    val_examples: int | None = None,
) -> dict:
    """Choose the decode (classification) on the val splits of ``collections`` together; record val metrics.

    The photos' val crops and the landscape val photos are pooled, so one decode
    serves both kinds of picture; ``model.json`` gets the choice, the whole search
    table, and the validation summary of each collection.
    """
    from .inference import Colorizer

    model_dir = Path(model_dir)
    info = json.loads((model_dir / "model.json").read_text())
    colorizer = Colorizer(model_dir)
    paths = {"landscape": data, "photos": photos}
    val = {
        name: _dataset.load_rgb(_dataset.split_files(_dataset.dataset_root(paths[name], name), "val", val_examples))
        for name in collections
    }
    pooled = [x for images in val.values() for x in images]
    if info["family"] == "classification":
        decoding, info["decode_search"] = choose_decoding(colorizer, pooled, max_delta_cf)
        info.update(decoding, max_delta_colourfulness=max_delta_cf, calibrated_on=list(collections))
        info.pop("temperature_search", None)
        colorizer.temperature, colorizer.correction = decoding["temperature"], decoding["correction"]
    rows = {name: validation_rows(colorizer, images) for name, images in val.items()}
    info["validation_by_collection"] = {name: metrics.summarise(r) for name, r in rows.items()}
    info["validation"] = metrics.summarise([r for collection in rows.values() for r in collection])
    (model_dir / "model.json").write_text(json.dumps(info, indent=1))
    return info
