"""Helpers shared by the engine's tests: paths, small real images, a tiny untrained model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
SHIPPED_MODEL = REPO / "models" / "default"


def landscape_root() -> Path:
    from ml.data import dataset_root

    return dataset_root()


def landscape_photo(index: int = 0) -> np.ndarray:
    """A real held-out landscape photo as uint8 RGB."""
    from ml.data import split_files

    with Image.open(split_files(landscape_root(), "test")[index]) as im:
        return np.asarray(im.convert("RGB"))


def write_tiny_model(folder: Path, family: str = "classification") -> Path:
    """An untrained, very small model folder in the shipped format (fast to build and run)."""
    from ml import bins
    from ml.models import build_model

    folder.mkdir(parents=True, exist_ok=True)
    info = {"family": family, "filters": 4, "depth": 1, "output_stride": 4}
    if family == "classification":
        rng = np.random.default_rng(0)
        hist = bins.grid_histogram(rng.normal(0, 25, (5000, 2)))
        centres, prior = bins.fit_bins(hist)
        info["bins"] = {
            "centres": centres.tolist(),
            "prior": prior.tolist(),
            "weights": bins.rebalance_weights(centres, prior).tolist(),
        }
        info["temperature"] = 0.38
        model = build_model(family=family, filters=4, depth=1, num_bins=len(centres))
    else:
        model = build_model(family=family, filters=4, depth=1)
    model.save(folder / "model.keras")
    (folder / "model.json").write_text(json.dumps(info))
    return folder
