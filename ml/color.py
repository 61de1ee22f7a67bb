"""Colour maths shared by training, evaluation and inference.

Everything that converts between sRGB and CIE Lab, or between Lab units and the
normalised ranges the networks see, lives here so the three stages can never
drift apart.  Lab follows scikit-image (D65): L in [0, 100], a and b roughly in
[-110, 110].
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from skimage import color as skcolor

# L is centred on 50 and spans 100, so normalised L lies in [-1, 1].
L_CENTER = 50.0
L_RANGE = 100.0
# Every sRGB colour has |a|, |b| < 110 in Lab, so normalised ab lies in [-1, 1].
AB_SCALE = 110.0


def normalize_l(l: np.ndarray) -> np.ndarray:
    """Lab L in [0, 100] -> network input in [-1, 1]."""
    return (np.asarray(l, dtype=np.float32) - L_CENTER) / (L_RANGE / 2)


def denormalize_l(l_norm: np.ndarray) -> np.ndarray:
    """Inverse of :func:`normalize_l`."""
    return np.asarray(l_norm, dtype=np.float32) * (L_RANGE / 2) + L_CENTER


def normalize_ab(ab: np.ndarray) -> np.ndarray:
    """Lab ab in Lab units -> [-1, 1] (the regression head's tanh range)."""
    return np.asarray(ab, dtype=np.float32) / AB_SCALE


def denormalize_ab(ab_norm: np.ndarray) -> np.ndarray:
    """Inverse of :func:`normalize_ab`."""
    return np.asarray(ab_norm, dtype=np.float32) * AB_SCALE


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 sRGB (..., H, W, 3) -> float32 Lab of the same shape."""
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8:
        raise ValueError(f"rgb_to_lab expects uint8 sRGB, got {rgb.dtype}")
    return skcolor.rgb2lab(rgb).astype(np.float32)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """float Lab (..., H, W, 3) -> uint8 sRGB, out-of-gamut colours clipped."""
    rgb = skcolor.lab2rgb(np.asarray(lab, dtype=np.float64))
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


def rgb_to_l(rgb: np.ndarray) -> np.ndarray:
    """Lightness L in [0, 100] of a uint8 sRGB image, (H, W, 3) -> (H, W)."""
    return rgb_to_lab(rgb)[..., 0]


def merge_l_ab(l: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """Lab L (H, W) plus ab (H, W, 2) -> uint8 sRGB (H, W, 3)."""
    lab = np.concatenate([np.asarray(l, np.float32)[..., None], np.asarray(ab, np.float32)], axis=-1)
    return lab_to_rgb(lab)


def grey_rgb(rgb: np.ndarray) -> np.ndarray:
    """The grey baseline: the image's own L with ab = 0, as uint8 sRGB."""
    l = rgb_to_l(rgb)
    return merge_l_ab(l, np.zeros(l.shape + (2,), np.float32))


# --- fast full-resolution paths ---------------------------------------------------------------
# scikit-image works in float64 and takes seconds on a 12-megapixel photo.  The two steps that
# touch every pixel of a full-size upload (its L, and L + upsampled ab back to RGB) use these
# float32 versions of the same formulas instead; tests hold them to scikit-image within one level.

_XYZ_FROM_RGB = np.array(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]], np.float32
)
_RGB_FROM_XYZ = np.linalg.inv(_XYZ_FROM_RGB.astype(np.float64)).astype(np.float32)
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883], np.float32)
_EPSILON = 0.008856  # CIE's (6/29)^3
_KAPPA = 7.787  # slope of the linear segment of f, (29/6)^2 / 3


def _srgb_to_linear(c: np.ndarray) -> np.ndarray:
    return np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)


_LINEAR_LUT = _srgb_to_linear(np.arange(256, dtype=np.float64) / 255.0).astype(np.float32)
_ENCODE_STEPS = 1 << 16
_ENCODE_LUT = np.clip(
    np.rint(
        255.0
        * np.where(
            (v := np.arange(_ENCODE_STEPS, dtype=np.float64) / (_ENCODE_STEPS - 1)) > 0.0031308,
            1.055 * v ** (1 / 2.4) - 0.055,
            12.92 * v,
        )
    ),
    0,
    255,
).astype(np.uint8)


_Y_STEPS = 1 << 16
_L_SLOPE = 903.3  # CIE κ: L = κ Y on the linear segment near black (= 116 × _KAPPA)
_L_FROM_Y_LUT = np.where(
    (y := np.arange(_Y_STEPS, dtype=np.float64) / (_Y_STEPS - 1)) > _EPSILON, 116.0 * np.cbrt(y) - 16.0, _L_SLOPE * y
).astype(np.float32)
# f(t) of the Lab formulas on the same grid, for a, b and L together.
_F_LUT = np.where(y > _EPSILON, np.cbrt(y), _KAPPA * y + 16.0 / 116.0).astype(np.float32)
# X / Xn, Y / Yn, Z / Zn as sums of per-channel tables (rows of the RGB -> XYZ matrix over the white point).
_XYZ_PARTS = [
    [(_LINEAR_LUT * _XYZ_FROM_RGB[row, c] / _WHITE_D65[row]).astype(np.float32) for c in range(3)] for row in range(3)
]
# Luminance Y as the sum of three per-channel tables: Y = R_lin * 0.2127 + G_lin * 0.7152 + B_lin * 0.0722.
_Y_PARTS = [(_LINEAR_LUT * _XYZ_FROM_RGB[1, c]).astype(np.float32) for c in range(3)]


def _by_row_blocks(fn, out: np.ndarray, *inputs: np.ndarray, threads: int = 2) -> np.ndarray:
    """Run ``fn(*input_rows) -> out_rows`` on row blocks in threads (numpy releases the GIL)."""
    bounds = np.linspace(0, out.shape[0], threads * 4 + 1).astype(int)

    def work(i):
        a, b = bounds[i], bounds[i + 1]
        out[a:b] = fn(*(x[a:b] for x in inputs))

    if out.shape[0] * (out.shape[1] if out.ndim > 1 else 1) < 1_000_000:
        work_all = fn(*inputs)
        out[...] = work_all
        return out
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(work, range(len(bounds) - 1)))
    return out


def _l_rows(rgb):
    y = _Y_PARTS[0][rgb[..., 0]] + _Y_PARTS[1][rgb[..., 1]] + _Y_PARTS[2][rgb[..., 2]]
    return _L_FROM_Y_LUT[(np.minimum(y, 1.0) * (_Y_STEPS - 1) + 0.5).astype(np.int32)]


def fast_rgb_to_l(rgb: np.ndarray) -> np.ndarray:
    """L in [0, 100] of uint8 sRGB (H, W, 3), float32; agrees with :func:`rgb_to_l` to about 0.01."""
    rgb = np.asarray(rgb, np.uint8)
    return _by_row_blocks(_l_rows, np.empty(rgb.shape[:2], np.float32), rgb)


def _lab_rows(rgb):
    f = []
    for parts in _XYZ_PARTS:
        t = parts[0][rgb[..., 0]] + parts[1][rgb[..., 1]] + parts[2][rgb[..., 2]]
        f.append(_F_LUT[(np.minimum(t, 1.0) * (_Y_STEPS - 1) + 0.5).astype(np.int32)])
    return np.stack([116.0 * f[1] - 16.0, 500.0 * (f[0] - f[1]), 200.0 * (f[1] - f[2])], axis=-1)


def fast_rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 sRGB (..., 3) -> float32 Lab by table look-ups; :func:`rgb_to_lab` within about 0.1 unit.

    Training converts every crop of every batch, where scikit-image's float64
    conversion would cost more than the network's step.
    """
    rgb = np.asarray(rgb, np.uint8)
    return _lab_rows(rgb).astype(np.float32)


def _finv(f):
    cube = f * f * f
    return np.where(cube > _EPSILON, cube, (f - np.float32(16.0 / 116.0)) / np.float32(_KAPPA))


def _merge_rows(l, ab):
    fy = (l + np.float32(16.0)) / np.float32(116.0)
    xyz = (
        _finv(fy + ab[..., 0] / np.float32(500.0)) * _WHITE_D65[0],
        _finv(fy),
        _finv(np.maximum(fy - ab[..., 1] / np.float32(200.0), 0.0)) * _WHITE_D65[2],
    )
    out = np.empty(l.shape + (3,), np.uint8)
    for c in range(3):
        m = _RGB_FROM_XYZ[c]
        lin = np.clip(m[0] * xyz[0] + m[1] * xyz[1] + m[2] * xyz[2], 0.0, 1.0)
        out[..., c] = _ENCODE_LUT[(lin * np.float32(_ENCODE_STEPS - 1) + np.float32(0.5)).astype(np.int32)]
    return out


def fast_merge_l_ab(l: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """L (H, W) and ab (H, W, 2) in Lab units -> uint8 sRGB; :func:`merge_l_ab` in float32."""
    l = np.asarray(l, np.float32)
    ab = np.asarray(ab, np.float32)
    return _by_row_blocks(_merge_rows, np.empty(l.shape + (3,), np.uint8), l, ab)
