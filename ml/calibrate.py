"""Choosing the classification decode on the val splits, and recording validation metrics.

The network gives a distribution over ab bins per cell; how that becomes one
colour is the annealed mean (:func:`ml.bins.annealed_mean`) with two knobs,
the temperature T and α (how much of the class rebalancing is undone), and then
a chroma scale s · (c / c_ref)^γ, c being how sure the network is of the photo
(:meth:`ml.inference.Colorizer.confidence_factor`).  All four trade accuracy for vividness, so they
are chosen on held-out val photos of both collections (never on test):
``python -m ml calibrate MODEL``, also run at the end of training.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np

from . import bins, color, metrics
from . import data as _dataset

TEMPERATURES = (0.38, 0.55, 0.75, 1.0)
CORRECTIONS = (0.0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
SATURATIONS = (1.0, 1.1, 1.2, 1.3, 1.45, 1.6)
CONFIDENCE_GAMMAS = (0.0, 0.25, 0.5)
# What model.json records of the choice (and Colorizer reads back): α, T, s, γ.
DECODE_KNOBS = ("correction", "temperature", "saturation", "confidence_gamma")
# The colourfulness gap allowed on each collection.  On the val splits of the lite0 model a gap
# of 6 (pooled) cost about 0.8 dB of PSNR on everyday photos and left 40 % of them worse than
# grey; 10 on each collection keeps their colourfulness near 33 (truth about 41) and landscape
# skies and fields clearly coloured, and lets the decode be accurate where the network is unsure.
MAX_DELTA_CF = 10.0
# Landscape is held to issue 8's bar, 6: skies, fields and foliage are what the network is surest
# of, and the confidence knob gives them that colour for 0.19 dB of everyday-photo PSNR on run 9's
# val photos (one scale for all paid 0.44 dB; docs/training.md, "Colour that follows the network's
# confidence").
MAX_DELTA_CF_LANDSCAPE = 6.0
# How far below the best mean PSNR a decode may fall and still be chosen for making fewer photos
# worse than grey.  Mean PSNR is ruled by a few photos coloured very well or very badly; what a
# person notices is whether their photo got worse.  On the val splits of the shipped model the decodes
# within 0.15-0.4 dB of the best all lead to the same choice, which leaves 73 % of everyday val photos
# better than grey instead of 66 % for 0.2 dB of landscape PSNR (see models/default/README.md).
PSNR_TOLERANCE = 0.25
# Issue 8's floor for each source set (a file-name prefix of the everyday photos; landscape is one):
# its mean PSNR at most this far below grey's.  In the band above, decodes that hold every source
# set of the val photos to it come first: a mean over all photos can hide one kind of picture made
# worse than grey (clothing on run 7's val photos: -0.26 dB).
SOURCE_FLOOR = -0.1


def validation_rows(colorizer, rgb) -> list[dict]:
    return [metrics.score(colorizer.colorize_array(x), x) for x in rgb]


def _decode_table(colorizer, rgb, sources: list[str]) -> dict[tuple[float, float, float, float], dict[str, Any]]:
    """(α, T, s, γ) -> mean PSNR, mean colourfulness, share beating grey over ``rgb``, and by source set
    (``sources``, one name per photo) the mean PSNR above grey's.

    The network runs once per photo and the annealed mean once per (α, T): the chroma scale
    s · (c / c_ref)^γ scales the decoded ab linearly, so it is applied after the stretch to full size.
    """
    rows: dict[tuple[float, float, float, float], list[tuple[float, float, float, float]]] = {}
    for x in rgb:
        l = color.fast_rgb_to_l(x)
        grey = metrics.psnr(color.grey_rgb(x), x)
        grid, small = colorizer.grid_for(l)
        factors = {gamma: colorizer.confidence_factor(grid, gamma) for gamma in CONFIDENCE_GAMMAS}
        for correction, temperature in itertools.product(CORRECTIONS, TEMPERATURES):
            ab = colorizer.ab_from_grid(
                grid,
                small,
                l.shape,
                temperature=temperature,
                correction=correction,
                saturation=1.0,
                confidence_gamma=0.0,
            )
            for saturation, gamma in itertools.product(SATURATIONS, CONFIDENCE_GAMMAS):
                y = color.fast_merge_l_ab(l, ab * np.float32(saturation * factors[gamma]))
                psnr = metrics.psnr(y, x)
                rows.setdefault((correction, temperature, saturation, gamma), []).append(
                    (psnr, metrics.colourfulness(y), float(psnr > grey), psnr - grey)
                )
    masks = {name: np.asarray([s == name for s in sources]) for name in sorted(set(sources))}
    table = {}
    for knobs, values in rows.items():
        psnr, colourfulness, beats_grey, gain = np.asarray(values, np.float64).T
        table[knobs] = {
            "psnr": float(psnr.mean()),
            "colourfulness": float(colourfulness.mean()),
            "beats_grey": float(beats_grey.mean()),
            "vs_grey_by_source": {name: float(gain[mask].mean()) for name, mask in masks.items()},
        }
    return table


def colour_limits(collections, max_delta_cf: float = MAX_DELTA_CF, landscape: float = MAX_DELTA_CF_LANDSCAPE) -> dict:
    """The colourfulness gap each collection may keep: ``landscape`` for landscapes, ``max_delta_cf`` for the rest."""
    return {name: landscape if name == "landscape" else max_delta_cf for name in collections}


def confidence_reference(colorizer, collections: dict[str, list]) -> float:
    """c_ref of :meth:`ml.inference.Colorizer.confidence_factor`: the median confidence of the val photos."""
    grids = (colorizer.grid_for(color.fast_rgb_to_l(x))[0] for rgb in collections.values() for x in rgb)
    return float(np.median([bins.confidence(grid, colorizer.weights) for grid in grids]))


def choose_decoding(
    colorizer,
    collections: dict[str, list],
    limits: dict[str, float],
    sources: dict[str, list[str]],
    psnr_tolerance: float = PSNR_TOLERANCE,
) -> tuple[dict, list[dict]]:
    """Pick the decode (rebalancing correction α, temperature T, saturation s, confidence power γ) on the val photos.

    The knobs trade accuracy for vividness: lower α keeps more of the class
    rebalancing, lower T moves the annealed mean towards the mode, s scales the
    chroma, and γ gives photos the network is sure of more of it.  A decode qualifies when
    its colourfulness gap |mean CF pred - mean CF true| stays within ``limits`` (one per
    collection: desaturation is the failure this family exists to fix).  Of those within
    ``psnr_tolerance`` dB of the best PSNR (each collection's mean, averaged, so each kind of
    picture counts the same) we take the one that leaves the most photos better than grey (each
    collection's share, averaged), putting first those that keep every source set (``sources``:
    a name per photo of each collection) within ``SOURCE_FLOOR`` of grey.  If no decode qualifies,
    the one that overshoots its limits the least.  ``colorizer.confidence_reference`` must be set.
    """
    tables = {name: _decode_table(colorizer, rgb, sources[name]) for name, rgb in collections.items()}
    true_cf = {name: float(np.mean([metrics.colourfulness(x) for x in rgb])) for name, rgb in collections.items()}
    rows: list[dict[str, Any]] = []
    for knobs in itertools.product(CORRECTIONS, TEMPERATURES, SATURATIONS, CONFIDENCE_GAMMAS):
        by_collection = {
            name: {**table[knobs], "delta_colourfulness": abs(table[knobs]["colourfulness"] - true_cf[name])}
            for name, table in tables.items()
        }
        rows.append(
            {
                "correction": knobs[0],
                "temperature": knobs[1],
                "saturation": knobs[2],
                "confidence_gamma": knobs[3],
                "psnr": float(np.mean([c["psnr"] for c in by_collection.values()])),
                "beats_grey": float(np.mean([c["beats_grey"] for c in by_collection.values()])),
                "delta_colourfulness": max(c["delta_colourfulness"] for c in by_collection.values()),
                "colour_excess": max(c["delta_colourfulness"] - limits[name] for name, c in by_collection.items()),
                "worst_source_vs_grey": min(v for c in by_collection.values() for v in c["vs_grey_by_source"].values()),
                "by_collection": by_collection,
            }
        )
    best = pick(rows, psnr_tolerance)
    return {k: best[k] for k in DECODE_KNOBS}, rows


def pick(rows: list[dict], psnr_tolerance: float = PSNR_TOLERANCE) -> dict:
    """The rule of :func:`choose_decoding` on its table rows (``psnr``, ``beats_grey``, ``colour_excess``:
    how far the worst collection's colourfulness gap lies beyond its limit, ``worst_source_vs_grey``)."""
    ok = [r for r in rows if r["colour_excess"] <= 0]
    if not ok:
        return min(rows, key=lambda r: r["colour_excess"])
    best_psnr = max(r["psnr"] for r in ok)
    near = [r for r in ok if r["psnr"] >= best_psnr - psnr_tolerance]
    return max(near, key=lambda r: (r["worst_source_vs_grey"] >= SOURCE_FLOOR, r["beats_grey"], r["psnr"]))


def calibrate(
    model_dir: str | Path,
    *,
    data: str | None = None,
    photos: str | None = None,
    collections: tuple[str, ...] = _dataset.DATASETS,
    max_delta_cf: float = MAX_DELTA_CF,
    max_delta_cf_landscape: float = MAX_DELTA_CF_LANDSCAPE,
    val_examples: int | None = None,
) -> dict:
    """Choose the decode (classification) on the val splits of ``collections`` together; record val metrics.

    Both collections' val photos judge each decode (see :func:`choose_decoding`), so one decode
    serves both kinds of picture; ``model.json`` gets the choice, the whole search
    table, and the validation summary of each collection.
    """
    from .inference import Colorizer

    model_dir = Path(model_dir)
    info = json.loads((model_dir / "model.json").read_text())
    colorizer = Colorizer(model_dir)
    paths = {"landscape": data, "photos": photos}
    files = {
        name: _dataset.split_files(_dataset.dataset_root(paths[name], name), "val", val_examples)
        for name in collections
    }
    val = {name: _dataset.load_rgb(names) for name, names in files.items()}
    if info["family"] == "classification":
        sources = {name: [_dataset.source_of(f) for f in names] for name, names in files.items()}
        limits = colour_limits(collections, max_delta_cf, max_delta_cf_landscape)
        colorizer.confidence_reference = info["confidence_reference"] = confidence_reference(colorizer, val)
        decoding, info["decode_search"] = choose_decoding(colorizer, val, limits, sources)
        info.update(decoding, max_delta_colourfulness=limits, calibrated_on=list(collections))
        info.pop("temperature_search", None)
        for knob, value in decoding.items():
            setattr(colorizer, knob, value)
    rows = {name: validation_rows(colorizer, images) for name, images in val.items()}
    info["validation_by_collection"] = {name: metrics.summarise(r) for name, r in rows.items()}
    info["validation"] = metrics.summarise([r for collection in rows.values() for r in collection])
    (model_dir / "model.json").write_text(json.dumps(info, indent=1))
    return info
