"""Training and validation batches as a ``keras.utils.PyDataset`` (built by :func:`ml.data.make_dataset`).

Kept apart from :mod:`ml.data` because it imports Keras, which the rest of the
data code (and whoever only wants file lists) does not need.
"""

from __future__ import annotations

import keras
import numpy as np

from . import color
from .data import age_lightness, centre_crop, pool_ab, random_crop_flip


class LabBatches(keras.utils.PyDataset):
    """(normalised L, ab target) batches drawn from one or more uint8 RGB collections.

    A training batch takes each example from collection k with probability
    ``weights[k]``, walking each collection in a fresh permutation per epoch; a
    validation batch walks the collections in order, centre-cropped.  Lab is
    computed per batch from the uint8 crops by table look-ups
    (:func:`ml.color.fast_rgb_to_lab`), so the photos stay one byte a channel in memory.
    """

    def __init__(
        self,
        sources,
        weights,
        *,
        batch_size,
        crop,
        output_stride,
        family,
        train,
        seed,
        age_probability,
        steps_per_epoch=None,
        workers=1,
    ):
        super().__init__(workers=workers, use_multiprocessing=False)
        self.sources, self.batch_size, self.crop, self.stride = sources, batch_size, crop, output_stride
        self.family, self.train, self.seed, self.age_probability = family, train, seed, age_probability
        self.weights = np.asarray(weights, np.float64) / np.sum(weights)
        total = sum(len(s) for s in sources)
        self.steps = steps_per_epoch or (total // batch_size if train else -(-total // batch_size))
        self.epoch = 0
        self.flat = [(k, i) for k, s in enumerate(sources) for i in range(len(s))]

    def __len__(self):
        return max(1, self.steps)

    def on_epoch_end(self):
        self.epoch += 1

    def _training_picks(self, index):
        """(collection, photo) pairs of training batch ``index``: a weighted draw, walking each permutation."""
        picks = np.random.default_rng([self.seed, self.epoch, index, 1]).choice(
            len(self.sources), size=self.batch_size, p=self.weights
        )
        items = []
        for k, source in enumerate(self.sources):
            order = np.random.default_rng([self.seed, self.epoch, k]).permutation(len(source))
            start = int(index * self.batch_size * self.weights[k])  # about what the earlier batches took
            items += [(k, order[(start + j) % len(source)]) for j in range(int((picks == k).sum()))]
        return items

    def __getitem__(self, index):
        rng = np.random.default_rng([self.seed, self.epoch, index])
        if self.train:
            crops = [random_crop_flip(self.sources[k][i], self.crop, rng) for k, i in self._training_picks(index)]
        else:
            chunk = self.flat[index * self.batch_size : (index + 1) * self.batch_size]
            crops = [centre_crop(self.sources[k][i], self.crop) for k, i in chunk]
        lab = color.fast_rgb_to_lab(np.stack(crops))
        l = lab[..., 0]
        if self.train and self.age_probability > 0:
            l = np.stack([age_lightness(x, rng) if rng.random() < self.age_probability else x for x in l])
        ab = pool_ab(lab[..., 1:], self.stride)
        if self.family == "regression":
            ab = color.normalize_ab(ab)
        return color.normalize_l(l)[..., None], ab
