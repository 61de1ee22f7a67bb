"""Opening untrusted image files safely.

Every way an upload can be wrong (empty, not an image, truncated, a
decompression bomb, a mode we cannot read) ends in one exception type,
:class:`InvalidImage`, whose message can be shown to the person who sent it.
"""

from __future__ import annotations

import io
import os
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

DEFAULT_MAX_PIXELS = 50_000_000
# Formats a person may upload; Pillow can open many more (EPS, PSD, ...) that we do not want to parse.
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF", "MPO")


class InvalidImage(ValueError):
    """The file is not an image we can colour; the message says why, for a person."""


def open_image(source, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode a path, bytes or file object into an 8-bit RGB or L image, EXIF orientation applied.

    Checks, in order: not empty; a format in ALLOWED_FORMATS; width x height
    within ``max_pixels`` (read from the header, before any pixel is decoded);
    a complete decode.  Palette, alpha, CMYK, 16-bit and float images are
    reduced to RGB or L (transparent areas become white).  Animated files give
    their first frame.
    """
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    if isinstance(source, (str, os.PathLike)):
        if os.path.getsize(source) == 0:
            raise InvalidImage("the file is empty")
    else:
        pos = source.tell()
        empty = not source.read(1)
        source.seek(pos)
        if empty:
            raise InvalidImage("the file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im: Image.Image = Image.open(source)
            if im.format not in ALLOWED_FORMATS:
                raise InvalidImage(f"{im.format} files are not accepted; send JPEG, PNG, WebP, BMP, TIFF or GIF")
            width, height = im.size
            if width * height > max_pixels:
                raise InvalidImage(
                    f"the image is {width}×{height} = {width * height / 1e6:.0f} megapixels; "
                    f"the limit is {max_pixels / 1e6:.0f} megapixels"
                )
            im.seek(0)
            im.load()
            im = ImageOps.exif_transpose(im)
    except InvalidImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidImage(
            f"the image declares far more pixels than the limit of {max_pixels / 1e6:.0f} megapixels"
        ) from exc
    except UnidentifiedImageError as exc:
        raise InvalidImage("the file is not an image we can read") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidImage(f"the image is damaged or truncated ({exc})") from exc
    return to_8bit(im)


def to_8bit(im: Image.Image) -> Image.Image:
    """Reduce any Pillow mode to 8-bit ``RGB`` or ``L``."""
    if im.mode in ("RGB", "L"):
        return im
    if im.mode in ("1",):
        return im.convert("L")
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        a = np.asarray(im, dtype=np.float64)
        top = 65535.0 if a.max() > 255 else 255.0
        return Image.fromarray(np.clip(a / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if im.mode in ("P", "PA", "RGBA", "LA", "La", "RGBa"):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if im.mode in ("CMYK", "YCbCr", "LAB", "HSV", "RGBX"):
        return im.convert("RGB")
    raise InvalidImage(f"images in mode {im.mode} are not supported")
