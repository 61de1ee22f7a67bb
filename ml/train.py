"""Training either family on the landscape train split, validating on val.

``python -m ml train --family classification --epochs 12 --out models/run``
writes into the output folder:

* ``model.keras`` + ``model.json``: the best epoch (lowest validation loss), ready for
  :class:`ml.inference.Colorizer`;
* ``train_log.json``: per-epoch loss, validation loss and validation colour metrics;
* ``backup/``: Keras' BackupAndRestore state, so rerunning the same command resumes.

Seeds are fixed; the same command runs on TensorFlow here and on JAX
(``KERAS_BACKEND=jax``) on a GPU machine.
"""
from __future__ import annotations

import json
import math
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import bins, color, metrics
from . import data as _dataset  # `data` is a keyword below
from .grid import OUTPUT_STRIDE
from .models import FAMILIES, RebalancedSoftCrossEntropy, build_model, parameter_count

TEMPERATURES = (0.38, 0.55, 0.7, 1.0)
CORRECTIONS = (0.0, 0.1, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.75, 1.0)


@dataclass
class TrainConfig:
    family: str = "classification"
    out: str = "models/run"
    data: str | None = None
    epochs: int = 12
    batch_size: int = 32
    learning_rate: float = 2e-3
    crop: int = 128
    filters: int = 32
    depth: int = 4
    max_examples: int | None = None
    val_examples: int | None = None
    patience: int = 4
    seed: int = 1
    age_probability: float = 0.0
    max_delta_colourfulness: float = 6.0
    cache_dir: str | None = ".cache/ml"
    init_from: str | None = None  # a model folder of the same family to continue from (fine-tuning)
    command: str = field(default_factory=lambda: "python -m ml " + shlex.join(sys.argv[1:]))

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, got {self.family!r}")
        if self.epochs < 1 or self.batch_size < 1 or self.learning_rate <= 0:
            raise ValueError("epochs, batch_size and learning_rate must be positive")
        if self.crop % 8 or not 16 <= self.crop <= 150:
            raise ValueError(f"crop must be a multiple of 8 in [16, 150], got {self.crop}")


class TrainingCancelled(Exception):
    """Raised by a progress callback to stop training cleanly."""


def class_table(rgb: np.ndarray) -> dict:
    """Bins, prior and rebalancing weights from the training photos' ab on the output grid."""
    hist = np.zeros(len(bins.grid_centres()))
    for i in range(0, len(rgb), 256):
        ab = color.rgb_to_lab(rgb[i:i + 256])[..., 1:]
        hist += bins.grid_histogram(_dataset.pool_ab(ab, OUTPUT_STRIDE))
    centres, prior = bins.fit_bins(hist)
    weights = bins.rebalance_weights(centres, prior)
    return {"centres": centres.tolist(), "prior": prior.tolist(), "weights": weights.tolist()}


def validation_rows(colorizer, rgb: np.ndarray) -> list[dict]:
    return [metrics.score(colorizer.colorize_array(x), x) for x in rgb]


def choose_decoding(colorizer, rgb: np.ndarray, max_delta_cf: float) -> tuple[dict, list[dict]]:
    """Pick the decode (rebalancing correction α and temperature T) on the validation photos.

    Both knobs trade accuracy for vividness: lower α keeps more of the class
    rebalancing, lower T moves the annealed mean towards the mode.  We take the
    pair with the best PSNR among those whose colourfulness gap |mean CF pred -
    mean CF true| stays within ``max_delta_cf`` (desaturation is the failure this
    family exists to fix); if none does, the pair with the smallest gap.  Only
    PSNR and colourfulness are computed here, so the 40 pairs stay affordable.
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
            table.append({"correction": correction, "temperature": t, "psnr": float(np.mean(psnr)),
                          "colourfulness": float(np.mean(cf)), "delta_colourfulness": abs(float(np.mean(cf)) - true_cf)})
    ok = [r for r in table if r["delta_colourfulness"] <= max_delta_cf]
    best = max(ok, key=lambda r: r["psnr"]) if ok else min(table, key=lambda r: r["delta_colourfulness"])
    return {"correction": best["correction"], "temperature": best["temperature"]}, table


def save_for_inference(model, path: Path) -> None:
    """Save the network without its optimizer state (which would triple the file)."""
    import keras

    keras.Model(model.inputs, model.outputs, name=model.name).save(path)


def _warm_start(config: TrainConfig) -> dict:
    """Weights, bins and history of the model folder ``config.init_from``, checked against ``config``."""
    import keras

    from . import models  # noqa: F401  registers the custom layers

    folder = Path(config.init_from)
    info = json.loads((folder / "model.json").read_text())
    if (info["family"], info["filters"], info["depth"]) != (config.family, config.filters, config.depth):
        raise ValueError(f"{folder} is a {info['family']} model with filters={info['filters']}, "
                         f"depth={info['depth']}; it cannot start a {config.family} run with "
                         f"filters={config.filters}, depth={config.depth}")
    model = keras.saving.load_model(folder / "model.keras", compile=False)
    return {"weights": model.get_weights(), "bins": info.get("bins"),
            "epochs_run": info.get("epochs_run", 0) + info.get("init_from", {}).get("epochs_run", 0)}


def train(config: TrainConfig, progress=None) -> dict:
    """Train, keep the best epoch, write the model folder; returns the model info.

    ``progress(event)`` is called with dicts (``{"stage": "epoch", "epoch": 3,
    "epochs": 12, "logs": {...}}`` and per-batch ``"batch"`` events); it may
    raise :class:`TrainingCancelled` to stop.
    """
    import keras

    keras.utils.set_random_seed(config.seed)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    report = progress or (lambda event: None)
    root = _dataset.dataset_root(config.data)
    cache = Path(config.cache_dir) if config.cache_dir else None
    report({"stage": "loading"})
    train_rgb = _dataset.load_training_split(root, "train", max_examples=config.max_examples, cache_dir=cache)
    val_rgb = _dataset.load_training_split(root, "val", max_examples=config.val_examples or config.max_examples,
                                       cache_dir=cache)

    info = {"family": config.family, "filters": config.filters, "depth": config.depth,
            "output_stride": OUTPUT_STRIDE, "config": asdict(config), "backend": keras.backend.backend(),
            "train_examples": len(train_rgb), "val_examples": len(val_rgb)}
    start = _warm_start(config) if config.init_from else None
    if config.family == "classification":
        table = start["bins"] if start else class_table(train_rgb)
        info["bins"] = table
        loss = RebalancedSoftCrossEntropy(table["centres"], table["weights"])
        model = build_model(family="classification", filters=config.filters, depth=config.depth,
                            num_bins=len(table["centres"]))
    else:
        loss = "mean_squared_error"
        model = build_model(family="regression", filters=config.filters, depth=config.depth)
    if start:
        model.set_weights(start["weights"])
        info["init_from"] = {"path": config.init_from, "epochs_run": start["epochs_run"]}
    info["parameters"] = parameter_count(model)

    steps = max(1, len(train_rgb) // config.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=steps * config.epochs,
                                                      alpha=0.05)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss=loss)
    common = dict(batch_size=config.batch_size, output_stride=OUTPUT_STRIDE, family=config.family, seed=config.seed)
    train_ds = _dataset.make_dataset(train_rgb, crop=config.crop, train=True, age_probability=config.age_probability,
                                 **common)
    val_ds = _dataset.make_dataset(val_rgb, crop=144 if val_rgb.shape[1] >= 144 else config.crop, train=False, **common)

    log_path = out / "train_log.json"
    history = json.loads(log_path.read_text()) if log_path.exists() else []

    class Progress(keras.callbacks.Callback):
        """Reports batches and epochs to ``progress`` and appends each epoch to train_log.json."""

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch, self.started = epoch, time.time()

        def on_train_batch_end(self, batch, logs=None):
            if batch % 10 == 0:
                report({"stage": "batch", "epoch": self.epoch + 1, "epochs": config.epochs,
                        "batch": batch + 1, "batches": steps, "loss": float((logs or {}).get("loss", math.nan))})

        def on_epoch_end(self, epoch, logs=None):
            row = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()},
                   "seconds": round(time.time() - self.started, 1)}
            history[:] = [h for h in history if h["epoch"] < epoch + 1] + [row]
            log_path.write_text(json.dumps(history, indent=1))
            report({"stage": "epoch", "epoch": epoch + 1, "epochs": config.epochs, "logs": row})

    best_path = out / "best.weights.h5"
    callbacks = [
        keras.callbacks.BackupAndRestore(str(out / "backup")),
        keras.callbacks.ModelCheckpoint(  # on resume, only an epoch better than the logged ones replaces the best
            str(best_path), monitor="val_loss", save_best_only=True, save_weights_only=True,
            initial_value_threshold=min((h["val_loss"] for h in history if "val_loss" in h), default=None)),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience),
        Progress(),
    ]
    report({"stage": "training", "epochs": config.epochs, "batches": steps})
    model.fit(train_ds, validation_data=val_ds, epochs=config.epochs, callbacks=callbacks, verbose=2)
    if best_path.exists():
        model.load_weights(str(best_path))
    save_for_inference(model, out / "model.keras")
    info["epochs_run"] = len(history)
    info["best_epoch"] = int(min(history, key=lambda h: h.get("val_loss", math.inf))["epoch"]) if history else None

    report({"stage": "validating"})
    (out / "model.json").write_text(json.dumps(info))
    return calibrate(out, data=config.data, max_delta_cf=config.max_delta_colourfulness,
                     val_examples=config.val_examples or config.max_examples)


def calibrate(model_dir: str | Path, *, data: str | None = None, max_delta_cf: float = 6.0,
              val_examples: int | None = None) -> dict:
    """Choose the decode (classification) and record validation metrics in model.json."""
    from .inference import Colorizer

    model_dir = Path(model_dir)
    info = json.loads((model_dir / "model.json").read_text())
    colorizer = Colorizer(model_dir)
    val = np.stack(_dataset.load_rgb(_dataset.split_files(_dataset.dataset_root(data), "val", val_examples)))
    if info["family"] == "classification":
        decoding, info["decode_search"] = choose_decoding(colorizer, val, max_delta_cf)
        info.update(decoding, max_delta_colourfulness=max_delta_cf)
        info.pop("temperature_search", None)
        colorizer.temperature, colorizer.correction = decoding["temperature"], decoding["correction"]
    info["validation"] = metrics.summarise(validation_rows(colorizer, val))
    (model_dir / "model.json").write_text(json.dumps(info, indent=1))
    return info
