"""The landscape dataset: splits, decoding, caching and augmentation.

The photos stay in ``../shared/datasets/landscape`` (override with the
``COLORSITE_DATASET`` environment variable or a ``--data`` flag).  A split is
decoded once, in parallel threads, into one uint8 array and kept in a small
``.npy`` cache so later runs start in seconds.  ``test`` is only ever read by
evaluation: :func:`training_splits` refuses it.
"""
from __future__ import annotations

import io
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from . import color

DEFAULT_DATASET = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "landscape"
SPLITS = ("train", "val", "test")
TRAINING_SPLITS = ("train", "val")


def dataset_root(path: str | os.PathLike | None = None) -> Path:
    """The dataset folder: the argument, else $COLORSITE_DATASET, else ../shared/datasets/landscape."""
    root = Path(path or os.environ.get("COLORSITE_DATASET") or DEFAULT_DATASET)
    if not (root / "splits.json").is_file():
        raise FileNotFoundError(f"no splits.json in {root}: point --data or COLORSITE_DATASET at the landscape dataset")
    return root


def split_files(root: Path, split: str, max_examples: int | None = None) -> list[Path]:
    """Paths of one split's photos, in the fixed order of splits.json."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose from {SPLITS}")
    names = json.loads((root / "splits.json").read_text())[split]
    if max_examples:
        names = names[:max_examples]
    return [root / "color" / n for n in names]


def _decode(path: Path, size: int | None) -> np.ndarray:
    with Image.open(path) as im:
        im = im.convert("RGB")
        if size and im.size != (size, size):
            side = min(im.size)
            left, top = (im.width - side) // 2, (im.height - side) // 2
            im = im.crop((left, top, left + side, top + side)).resize((size, size), Image.BICUBIC)
        return np.asarray(im, dtype=np.uint8)


def load_rgb(paths: list[Path], *, size: int | None = None, threads: int | None = None) -> list[np.ndarray] | np.ndarray:
    """Decode photos in parallel threads (Pillow releases the GIL while decoding).

    With ``size`` every photo is centre-cropped and resized to size x size and
    one (N, size, size, 3) array is returned; without it, a list at native size.
    """
    with ThreadPoolExecutor(max_workers=threads or min(8, (os.cpu_count() or 2) * 2)) as pool:
        images = list(pool.map(lambda p: _decode(p, size), paths))
    return np.stack(images) if size else images


def load_training_split(root: Path, split: str, *, size: int = 150, max_examples: int | None = None,
                        cache_dir: Path | None = None) -> np.ndarray:
    """(N, size, size, 3) uint8 RGB of the train or val split, cached as .npy."""
    if split not in TRAINING_SPLITS:
        raise ValueError(f"training may only read {TRAINING_SPLITS}, not {split!r}")
    paths = split_files(root, split, max_examples)
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / f"{split}-{size}-{len(paths)}.npy"
        if cache.is_file():
            return np.load(cache)
    rgb = load_rgb(paths, size=size)
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


def random_crop_flip(lab: np.ndarray, crop: int, rng: np.random.Generator) -> np.ndarray:
    """A random crop x crop window of a Lab image (H, W, 3), mirrored half the time."""
    h, w = lab.shape[:2]
    top, left = rng.integers(0, h - crop + 1), rng.integers(0, w - crop + 1)
    out = lab[top:top + crop, left:left + crop]
    return out[:, ::-1] if rng.random() < 0.5 else out


def centre_crop(lab: np.ndarray, crop: int) -> np.ndarray:
    h, w = lab.shape[:2]
    top, left = (h - crop) // 2, (w - crop) // 2
    return lab[top:top + crop, left:left + crop]


def pool_ab(ab: np.ndarray, factor: int) -> np.ndarray:
    """Average ab over factor x factor cells: (B, H, W, 2) -> (B, H//f, W//f, 2), the model's output grid.

    Rows and columns past the last whole cell are dropped.
    """
    b, h, w, c = ab.shape
    h, w = h - h % factor, w - w % factor
    return ab[:, :h, :w].reshape(b, h // factor, factor, w // factor, factor, c).mean(axis=(2, 4))


def make_dataset(rgb: np.ndarray, *, batch_size: int, crop: int, output_stride: int,
                 family: str, train: bool, seed: int = 0, age_probability: float = 0.0):
    """A ``keras.utils.PyDataset`` of (L input, ab target) batches from uint8 RGB (N, H, W, 3).

    Inputs are normalised L, (B, crop, crop, 1) in [-1, 1].  Targets sit on the
    model's output grid, (B, crop/stride, crop/stride, 2): normalised ab in
    [-1, 1] for ``regression``, Lab units for ``classification`` (the loss
    soft-encodes them).  Lab is computed once up front, so an epoch costs only
    crops, flips and the optional ageing of the input.
    """
    import keras

    if crop % output_stride:
        raise ValueError(f"crop {crop} must be a multiple of the output stride {output_stride}")
    lab = np.concatenate([color.rgb_to_lab(rgb[i:i + 256]) for i in range(0, len(rgb), 256)]).astype(np.float16)

    class LabBatches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__(workers=1, use_multiprocessing=False)
            self.epoch = 0
            self.order = np.arange(len(lab))

        def __len__(self):
            return int(np.ceil(len(lab) / batch_size)) if not train else len(lab) // batch_size

        def on_epoch_end(self):
            self.epoch += 1

        def __getitem__(self, index):
            rng = np.random.default_rng([seed, self.epoch, index])
            if train:
                order = np.random.default_rng([seed, self.epoch]).permutation(len(lab))
                idx = order[index * batch_size:(index + 1) * batch_size]
                crops = np.stack([random_crop_flip(lab[i], crop, rng) for i in idx]).astype(np.float32)
            else:
                idx = self.order[index * batch_size:(index + 1) * batch_size]
                crops = np.stack([centre_crop(lab[i], crop) for i in idx]).astype(np.float32)
            l = crops[..., 0]
            if train and age_probability > 0:
                l = np.stack([age_lightness(x, rng) if rng.random() < age_probability else x for x in l])
            ab = pool_ab(crops[..., 1:], output_stride)
            if family == "regression":
                ab = color.normalize_ab(ab)
            return color.normalize_l(l)[..., None], ab

    return LabBatches()
