"""The two photo collections: splits, decoding, caching, mixing and augmentation.

* ``landscape``: 8,107 outdoor scenes at 150 px (``../shared/datasets/landscape``,
  or ``$COLORSITE_DATASET`` / ``--data``); the admin dashboard's headline set.
* ``photos``: 16,597 everyday photographs (faces, people, pets, rooms, flowers,
  objects, streets), train/val crops of 160 px and native-aspect test photos
  (``../shared/datasets/photos``, or ``$COLORSITE_PHOTOS`` / ``--photos``).  File names
  start with their source set (``utkface200-test-00012.jpg``): :func:`source_of`.

A split is decoded once, in parallel threads, into one uint8 array and kept in
a small ``.npy`` cache so later runs start in seconds.  ``test`` is only ever
read by evaluation: :func:`load_training_split` refuses it.  Batches for
training mix the collections at a chosen ratio (:func:`make_dataset`).
"""

from __future__ import annotations

import io
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

_SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"
DEFAULT_DATASET = _SHARED / "landscape"
DEFAULT_PHOTOS = _SHARED / "photos"
DATASETS = ("landscape", "photos")
SPLITS = ("train", "val", "test")
TRAINING_SPLITS = ("train", "val")
_ENVIRONMENT = {"landscape": "COLORSITE_DATASET", "photos": "COLORSITE_PHOTOS"}
_DEFAULTS = {"landscape": DEFAULT_DATASET, "photos": DEFAULT_PHOTOS}


def dataset_root(path: str | os.PathLike | None = None, name: str = "landscape") -> Path:
    """A collection's folder: the argument, else its environment variable, else ../shared/datasets/NAME."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose from {DATASETS}")
    root = Path(path or os.environ.get(_ENVIRONMENT[name]) or _DEFAULTS[name])
    if not (root / "splits.json").is_file():
        raise FileNotFoundError(
            f"no splits.json in {root}: point --{'data' if name == 'landscape' else name} "
            f"or {_ENVIRONMENT[name]} at the {name} dataset"
        )
    return root


def split_files(root: Path, split: str, max_examples: int | None = None) -> list[Path]:
    """Paths of one split's photos, in the fixed order of splits.json.

    The landscape set lists bare names under ``color/``; the photos set lists
    paths relative to its root (``train/…``).
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose from {SPLITS}")
    names = json.loads((root / "splits.json").read_text())[split]
    if max_examples:
        names = names[:max_examples]
    return [root / n if "/" in n else root / "color" / n for n in names]


def source_of(path: str | os.PathLike) -> str:
    """The source set a photo comes from: its file name's prefix (``pets_homes-test-00003.jpg`` -> ``pets_homes``).

    Landscape files (``0042.jpg``) have none and belong to ``landscape``.
    """
    stem = Path(path).stem
    for split in SPLITS:
        marker = f"-{split}-"
        if marker in stem:
            return stem.split(marker, 1)[0]
    return "landscape"


def split_by_source(rgb: np.ndarray, paths: list[Path]) -> dict[str, np.ndarray]:
    """The rows of ``rgb`` (one per path, in the same order) grouped by source set, by name."""
    if len(rgb) != len(paths):
        raise ValueError(f"{len(rgb)} photos but {len(paths)} file names")
    sources = np.array([source_of(p) for p in paths])
    return {name: rgb[sources == name] for name in sorted(set(sources))}


def decode(path: Path, size: int | None = None) -> np.ndarray:
    """uint8 RGB of a photo; with ``size``, its centre square resized to size x size."""
    with Image.open(path) as opened:
        im = opened.convert("RGB")
    if size and im.size != (size, size):
        side = min(im.size)
        left, top = (im.width - side) // 2, (im.height - side) // 2
        im = im.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(im, dtype=np.uint8)


def load_rgb(paths: list[Path], *, size: int | None = None, threads: int | None = None) -> list[np.ndarray]:
    """Decode photos in parallel threads (Pillow releases the GIL while decoding), at native size
    or, with ``size``, centre-cropped and resized to size x size."""
    with ThreadPoolExecutor(max_workers=threads or min(8, (os.cpu_count() or 2) * 2)) as pool:
        return list(pool.map(lambda p: decode(p, size), paths))


def load_training_split(
    root: Path, split: str, *, size: int | None = None, max_examples: int | None = None, cache_dir: Path | None = None
) -> np.ndarray:
    """(N, size, size, 3) uint8 RGB of the train or val split, cached as .npy.

    ``size`` defaults to the collection's own square side (150 px landscape, 160 px photos).
    """
    if split not in TRAINING_SPLITS:
        raise ValueError(f"training may only read {TRAINING_SPLITS}, not {split!r}")
    paths = split_files(root, split, max_examples)
    if size is None:
        with Image.open(paths[0]) as first:
            size = min(first.size)
    cache = None
    if cache_dir is not None:
        prefix = "" if (root / "color").is_dir() else f"{root.name}-"  # landscape keeps its old cache names
        cache = Path(cache_dir) / f"{prefix}{split}-{size}-{len(paths)}.npy"
        if cache.is_file():
            return np.load(cache)
    rgb = np.stack(load_rgb(paths, size=size))
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npy")
        np.save(tmp, rgb)
        tmp.replace(cache)
    return rgb


# --- augmentation ---------------------------------------------------------------------------


def age_lightness(l: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Make a lightness channel (H, W) in [0, 100] look like an old print.

    Each effect is applied with probability one half: contrast/brightness
    fading, a slight blur, JPEG blocking and film grain.  Only the network's
    input is aged; the colour target stays clean.
    """
    l = l.astype(np.float32)
    if rng.random() < 0.5:  # faded contrast, shifted exposure
        l = (l - 50.0) * rng.uniform(0.6, 1.0) + 50.0 + rng.uniform(-10, 10)
    needs_pil = rng.random() < 0.5, rng.random() < 0.5
    if any(needs_pil):
        im = Image.fromarray(np.clip(l * 2.55, 0, 255).astype(np.uint8))
        if needs_pil[0]:
            im = im.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
        if needs_pil[1]:
            buf = io.BytesIO()
            im.save(buf, "JPEG", quality=int(rng.integers(15, 60)))
            im = Image.open(buf)
        l = np.asarray(im, np.float32) / 2.55
    if rng.random() < 0.5:  # grain
        l = l + rng.normal(0.0, rng.uniform(1.0, 4.0), l.shape).astype(np.float32)
    return np.clip(l, 0.0, 100.0)


def random_crop_flip(image: np.ndarray, crop: int, rng: np.random.Generator) -> np.ndarray:
    """A random crop x crop window of an image (H, W, C), mirrored half the time."""
    h, w = image.shape[:2]
    top, left = rng.integers(0, h - crop + 1), rng.integers(0, w - crop + 1)
    out = image[top : top + crop, left : left + crop]
    return out[:, ::-1] if rng.random() < 0.5 else out


def centre_crop(image: np.ndarray, crop: int) -> np.ndarray:
    h, w = image.shape[:2]
    top, left = (h - crop) // 2, (w - crop) // 2
    return image[top : top + crop, left : left + crop]


def pool_ab(ab: np.ndarray, factor: int) -> np.ndarray:
    """Average ab over factor x factor cells: (B, H, W, 2) -> (B, H//f, W//f, 2), the model's output grid.

    Rows and columns past the last whole cell are dropped.
    """
    b, h, w, c = ab.shape
    h, w = h - h % factor, w - w % factor
    return ab[:, :h, :w].reshape(b, h // factor, factor, w // factor, factor, c).mean(axis=(2, 4))


def make_dataset(
    rgb,
    *,
    batch_size: int,
    crop: int,
    output_stride: int,
    family: str,
    train: bool,
    seed: int = 0,
    age_probability: float = 0.0,
    weights=None,
    steps_per_epoch: int | None = None,
    workers: int = 1,
):
    """A ``keras.utils.PyDataset`` of (L input, ab target) batches.

    ``rgb`` is one uint8 RGB array (N, H, W, 3) or a list of them (one per
    collection, sides may differ), mixed by ``weights`` in training.  Inputs are
    normalised L, (B, crop, crop, 1) in [-1, 1].  Targets sit on the model's
    output grid, (B, crop/stride, crop/stride, 2): normalised ab in [-1, 1] for
    ``regression``, Lab units for ``classification`` (the loss soft-encodes them).
    Only the input is aged (old-print look); the colour target stays clean.
    """
    if crop % output_stride:
        raise ValueError(f"crop {crop} must be a multiple of the output stride {output_stride}")
    sources = [rgb] if isinstance(rgb, np.ndarray) else list(rgb)
    weights = [1.0] * len(sources) if weights is None else list(weights)
    if len(weights) != len(sources) or min(weights) < 0 or sum(weights) <= 0:
        raise ValueError("need one non-negative weight per collection, not all zero")
    for s in sources:
        if min(s.shape[1:3]) < crop:
            raise ValueError(f"crop {crop} is larger than photos of {s.shape[1]}x{s.shape[2]}")
    from .batches import LabBatches  # imports Keras

    return LabBatches(
        sources,
        weights,
        batch_size=batch_size,
        crop=crop,
        output_stride=output_stride,
        family=family,
        train=train,
        seed=seed,
        age_probability=age_probability,
        steps_per_epoch=steps_per_epoch,
        workers=workers,
    )
