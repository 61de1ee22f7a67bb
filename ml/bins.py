"""Quantised ab space for the classification family (Zhang, Isola & Efros 2016).

ab is cut into a grid of ``GRID_STEP`` Lab units; the bins that training pixels
actually fall in (about 300 of the 23 x 23 grid) are the classes.  Targets are
soft-encoded over the nearest bins, rare colours are up-weighted by class
rebalancing, and predictions are decoded by the annealed mean.  The numpy
helpers here build the tables once; the ``keras.ops`` ones run inside the loss.
"""

from __future__ import annotations

import numpy as np

GRID_STEP = 10.0
GRID_LIMIT = 110.0  # centres run from -110 to 110
SOFT_NEIGHBOURS = 5
SOFT_SIGMA = 5.0
PRIOR_SIGMA = 5.0
REBALANCE_LAMBDA = 0.5
DEFAULT_TEMPERATURE = 0.38


def grid_centres() -> np.ndarray:
    """All candidate bin centres, (23 * 23, 2) in Lab units."""
    axis = np.arange(-GRID_LIMIT, GRID_LIMIT + GRID_STEP / 2, GRID_STEP, dtype=np.float32)
    a, b = np.meshgrid(axis, axis, indexing="ij")
    return np.stack([a.ravel(), b.ravel()], axis=-1)


def grid_index(ab: np.ndarray) -> np.ndarray:
    """Index into :func:`grid_centres` of the nearest grid point of each ab pair (..., 2)."""
    n = int(round(2 * GRID_LIMIT / GRID_STEP)) + 1
    ij = np.clip(np.rint((np.asarray(ab) + GRID_LIMIT) / GRID_STEP), 0, n - 1).astype(np.int64)
    return ij[..., 0] * n + ij[..., 1]


def grid_histogram(ab: np.ndarray) -> np.ndarray:
    """Pixel counts per grid point for a batch of ab values (..., 2)."""
    return np.bincount(grid_index(ab).ravel(), minlength=len(grid_centres())).astype(np.float64)


def fit_bins(histogram: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep the grid points that training pixels fell in.

    Returns ``(centres (Q, 2), prior (Q,))`` where prior is the empirical class
    distribution (sums to 1).
    """
    histogram = np.asarray(histogram, dtype=np.float64)
    keep = histogram > 0
    if not keep.any():
        raise ValueError("empty ab histogram: no training pixels were counted")
    prior = histogram[keep] / histogram[keep].sum()
    return grid_centres()[keep], prior


def rebalance_weights(
    centres: np.ndarray, prior: np.ndarray, *, lam: float = REBALANCE_LAMBDA, sigma: float = PRIOR_SIGMA
) -> np.ndarray:
    """Class weights w ∝ ((1 - λ) p̃ + λ / Q)^-1 with E_p̃[w] = 1.

    p̃ is the prior smoothed by a Gaussian of ``sigma`` Lab units over the ab
    plane, so that neighbouring rare colours share their weight.
    """
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam must lie in [0, 1], got {lam}")
    d2 = ((centres[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
    kernel = np.exp(-d2 / (2 * sigma**2))
    smoothed = kernel @ np.asarray(prior, np.float64)
    smoothed /= smoothed.sum()
    weights = 1.0 / ((1 - lam) * smoothed + lam / len(centres))
    weights /= (smoothed * weights).sum()
    return weights.astype(np.float32)


def soft_encode(
    ab: np.ndarray, centres: np.ndarray, *, neighbours: int = SOFT_NEIGHBOURS, sigma: float = SOFT_SIGMA
) -> np.ndarray:
    """Soft targets (..., Q): a Gaussian over the ``neighbours`` nearest bins, summing to 1.

    A numpy mirror of :func:`soft_encode_ops`, used by tests and analysis.
    """
    ab = np.asarray(ab, np.float32)
    neighbours = min(neighbours, len(centres))
    d2 = ((ab[..., None, :] - centres) ** 2).sum(-1)
    nearest = np.argsort(d2, axis=-1)[..., :neighbours]
    w = np.exp(-np.take_along_axis(d2, nearest, -1) / (2 * sigma**2))
    w /= w.sum(-1, keepdims=True)
    out = np.zeros(d2.shape, np.float32)
    np.put_along_axis(out, nearest, w, axis=-1)
    return out


def soft_encode_ops(ab, centres, *, neighbours: int = SOFT_NEIGHBOURS, sigma: float = SOFT_SIGMA):
    """keras.ops soft encoding: ab (B, H, W, 2) -> (B, H, W, Q), for use inside a loss."""
    from keras import ops

    neighbours = min(neighbours, len(centres))
    d2 = ops.sum(ops.square(ops.expand_dims(ab, -2) - centres), axis=-1)  # (B, H, W, Q)
    w = ops.exp(-d2 / (2 * sigma**2))
    kth = ops.top_k(w, neighbours, sorted=True)[0][..., -1:]
    w = ops.where(w >= kth, w, ops.zeros_like(w))
    return w / ops.sum(w, axis=-1, keepdims=True)


def annealed_mean(
    probs_or_logits: np.ndarray,
    centres: np.ndarray,
    *,
    temperature: float = DEFAULT_TEMPERATURE,
    logits: bool = True,
    weights: np.ndarray | None = None,
    correction: float = 0.0,
) -> np.ndarray:
    """Annealed-mean decode (..., Q) -> ab (..., 2) in Lab units.

    f_T(z) = exp(log z / T) / Σ exp(log z / T); T = 1 gives the mean of the
    distribution, T -> 0 its mode.  With logits, log z differs from the logits
    only by a constant per pixel, which the normalisation cancels.

    ``correction`` (α in [0, 1]) undoes part of the class rebalancing first.  A
    network trained with per-class weights w learns z ∝ w · p rather than the
    colour distribution p itself, so z / w^α moves from the rebalanced,
    vivid distribution (α = 0, as in the paper) to the calibrated one (α = 1),
    whose mean is the most accurate and the least colourful.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if not 0.0 <= correction <= 1.0:
        raise ValueError(f"correction must lie in [0, 1], got {correction}")
    x = np.asarray(probs_or_logits, np.float32)
    if not logits:
        x = np.log(np.maximum(x, 1e-12))
    if correction:
        if weights is None:
            raise ValueError("a rebalancing correction needs the class weights")
        x = (x - correction * np.log(np.asarray(weights, np.float32))).astype(np.float32)
    x = x / temperature
    x = x - x.max(-1, keepdims=True)
    e = np.exp(x)
    e /= e.sum(-1, keepdims=True)
    return e @ np.asarray(centres, np.float32)


def confidence(logits: np.ndarray, weights: np.ndarray) -> float:
    """How sure the network is of a photo's colours: over its cells (..., Q), the mean probability
    of the most likely bin once the class rebalancing is undone (α = 1 in :func:`annealed_mean`).

    1 / Q when every bin is equally likely, 1 when each cell names one bin.  The decode scales a
    photo's chroma by a power of it (``ml.inference.Colorizer.confidence_factor``): the annealed
    mean pulls an unsure cell towards grey, and a photo the network is sure of can carry more colour.
    """
    x = np.asarray(logits, np.float32) - np.log(np.asarray(weights, np.float32))
    x = x - x.max(-1, keepdims=True)
    e = np.exp(x)
    return float((1.0 / e.sum(-1)).mean())  # the top bin's probability: exp(0) / Σ exp
