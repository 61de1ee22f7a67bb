"""Pixel work the site does around the engine: reading uploads, re-encoding, renditions, colour checks.

Pure functions on PIL images and numpy arrays, no database; gallery.models calls
them.  Whether a file is an image we accept at all is decided in one place,
ml.images.open_image; this module adds only Pillow's own verify() in front of it.
"""

from __future__ import annotations

import io
import logging
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

from ml import color, metrics
from ml.images import InvalidImage, open_image

# Longest side of the gallery thumbnails and of the pictures on the detail page's slider.
THUMB_SIZE = 400
PREVIEW_SIZE = 1600
# Closeness to the true colours is measured on a copy this size: SSIM and Lab at 50 MP take seconds.
METRICS_SIZE = 512
# An upload "has colour" when 5 % of its pixels have a Lab chroma above this (JPEG noise on a grey
# photo stays near 1-2; even a faint sepia tone is above it).
COLOUR_CHROMA = 6.0
COLOUR_SHARE = 0.05
# A prediction equal to the truth has an infinite PSNR (likelier the fewer pixels): stored and sent as JSON, capped.
MAX_PSNR = 100.0
# Lossy sources are stored as high-quality JPEG, lossless ones as PNG: re-encoding a JPEG as PNG
# would triple its size and gain nothing, re-encoding a PNG as JPEG would lose detail.
LOSSY_FORMATS = {"JPEG", "MPO", "WEBP"}
JPEG_QUALITY = 95
RENDITION_QUALITY = 85
DAMAGED = "the image is damaged or truncated"

log = logging.getLogger(__name__)


def read_upload(fileobj, *, max_pixels: int) -> tuple[Image.Image, str]:
    """An uploaded file -> (its pixels as an RGB image, EXIF orientation applied; its format).

    Pillow's verify() runs first (it catches a damaged PNG or a valid header followed by something
    else without decoding pixels); then ml.images.open_image checks the format allowlist and the
    pixel cap from the header, decodes, and applies EXIF orientation.  Raises InvalidImage with a
    message for a person.
    """
    fileobj.seek(0)
    if fileobj.read(1):
        fileobj.seek(0)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(fileobj) as probe:
                    source_format = probe.format or ""
                    probe.verify()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            # Pillow's own guard fires from the header alone, far above our cap: say which limit it is.
            raise InvalidImage(f"the image has far more than {max_pixels / 1e6:.0f} megapixels, the limit") from None
        except UnidentifiedImageError:
            raise InvalidImage("the file is not an image we can read") from None
        except Exception as exc:  # verify() raises many types for damaged files; their text is not for people
            log.info("an upload failed Pillow's verify(): %s: %s", type(exc).__name__, exc)
            raise InvalidImage("the image is damaged") from None
    else:
        source_format = ""
    fileobj.seek(0)
    try:
        image = open_image(fileobj, max_pixels=max_pixels)
    except InvalidImage as exc:
        # ml.images adds the decoder's own words to this one; a person gets the sentence alone.
        if not str(exc).startswith(DAMAGED):
            raise
        log.info("an upload failed to decode: %s", exc)
        raise InvalidImage(DAMAGED) from None
    return image.convert("RGB"), source_format


def encode(image: Image.Image, *, lossless: bool) -> tuple[bytes, str]:
    """Our own encoding of an RGB image -> (bytes, file extension)."""
    buffer = io.BytesIO()
    if lossless:
        image.save(buffer, "PNG", compress_level=3)
        return buffer.getvalue(), "png"
    image.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=False)
    return buffer.getvalue(), "jpg"


def fit(image: Image.Image, longest_side: int) -> Image.Image:
    """A copy at most ``longest_side`` pixels on its longest side (the image itself if it is smaller)."""
    if max(image.size) <= longest_side:
        return image
    copy = image.copy()
    copy.thumbnail((longest_side, longest_side), Image.Resampling.LANCZOS, reducing_gap=2.0)
    return copy


def jpeg(image: Image.Image) -> bytes:
    """A rendition for showing in a page: JPEG at RENDITION_QUALITY."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=RENDITION_QUALITY)
    return buffer.getvalue()


def renditions(image: Image.Image) -> tuple[Image.Image, Image.Image]:
    """(preview, thumbnail) of an image; the thumbnail is made from the preview, which is cheaper."""
    preview = fit(image, PREVIEW_SIZE)
    return preview, fit(preview, THUMB_SIZE)


def has_colour(rgb: np.ndarray) -> bool:
    """Whether a uint8 RGB photo carries colour (rather than being grey or nearly so)."""
    small = _fit_array(rgb, 256)
    lab = color.rgb_to_lab(small)
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    return float((chroma > COLOUR_CHROMA).mean()) > COLOUR_SHARE


def grey_version(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB -> the same photo in grey (its own Lab L, a = b = 0), as uint8 RGB."""
    l = color.fast_rgb_to_l(rgb)
    return color.fast_merge_l_ab(l, np.zeros(l.shape + (2,), np.float32))


def closeness(pred_rgb: np.ndarray, true_rgb: np.ndarray) -> dict[str, float]:
    """RMSE_ab, PSNR and colourfulness of a prediction against the true colours, as ml.metrics defines them.

    Both are measured on copies at most METRICS_SIZE pixels on a side, so a 50 MP upload costs
    what a small one does.  Not ml.metrics.score: it adds SSIM, which the site never shows and
    which cannot be computed below 7 pixels on a side (a 6×400 colour strip would always fail);
    these three are defined for any size, a single pixel included.
    """
    pred, true = _fit_array(pred_rgb, METRICS_SIZE), _fit_array(true_rgb, METRICS_SIZE)
    ab_pred = color.rgb_to_lab(pred)[..., 1:].astype(np.float64)
    ab_true = color.rgb_to_lab(true)[..., 1:].astype(np.float64)
    return {
        "rmse_ab": float(np.sqrt(np.mean((ab_pred - ab_true) ** 2))),
        "psnr": min(metrics.psnr(pred, true), MAX_PSNR),
        "colourfulness": metrics.colourfulness(pred),
        "colourfulness_true": metrics.colourfulness(true),
    }


def _fit_array(rgb: np.ndarray, longest_side: int) -> np.ndarray:
    height, width = rgb.shape[:2]
    if max(height, width) <= longest_side:
        return np.asarray(rgb, np.uint8)
    image = Image.fromarray(np.asarray(rgb, np.uint8))
    image.thumbnail((longest_side, longest_side), Image.Resampling.BOX)
    return np.asarray(image)
