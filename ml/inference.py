"""Colouring photos with a trained model directory.

A model directory holds ``model.keras`` (the network) and ``model.json``
(family, bins, temperature, how it was trained).  :class:`Colorizer` loads one
once and colours images of any size: the photo's L is shrunk to a working
size, the network predicts ab there, ab alone is upsampled, and it is merged
with the **full-resolution** L of the original, so the result keeps every
detail of the upload and has exactly its size.

The working size is the **shorter** side of the shrunk copy (:func:`working_scale`), and its
default is the size the network learnt at and its decode was calibrated at: the training and val
photos are 160 px squares, whole photos or crops of photos brought to about that size (the landscapes
are 150 px).  Seen larger, the same photo comes out more colourful than the calibration chose, and
less accurate: on the val photos shown 1.15 and 1.3 times larger, the shipped model's colourfulness
rose from 31.0 to 32.9 and 34.4 and its PSNR fell by 0.17 and 0.40 dB (docs/training.md, "The
working size").
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from . import bins, color
from .grid import INPUT_MULTIPLE, OUTPUT_STRIDE
from .images import DEFAULT_MAX_PIXELS, InvalidImage, open_image

DEFAULT_WORKING_SIZE = 160  # the training photos' size: see the module's docstring
MIN_WORKING_SIZE = 32
MAX_WORKING_SIZE = 2048
# The copy's longer side stays within this many working sizes, so that a panorama or a long
# scroll is not worked at its full length (the network's time grows with the copy's pixels).
MAX_ASPECT = 4


class ModelNotAvailable(RuntimeError):
    """The model directory is missing, incomplete or unreadable."""


def read_model_info(model_dir: str | Path) -> dict:
    path = Path(model_dir) / "model.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ModelNotAvailable(f"no model at {model_dir}: {path.name} is missing") from exc
    except (OSError, ValueError) as exc:
        raise ModelNotAvailable(f"the model description {path} is unreadable ({exc})") from exc


def _resize_plane(plane: np.ndarray, size: tuple[int, int], box=None) -> np.ndarray:
    """Resize a float32 (H, W) plane to size (width, height) with Pillow's bilinear filter."""
    return np.asarray(
        Image.fromarray(np.ascontiguousarray(plane, np.float32), "F").resize(size, Image.Resampling.BILINEAR, box=box),
        np.float32,
    )


class Colorizer:
    """A loaded model that colours images; create once, call many times."""

    def __init__(
        self,
        model_dir: str | Path,
        *,
        working_size: int = DEFAULT_WORKING_SIZE,
        temperature: float | None = None,
        correction: float | None = None,
        saturation: float | None = None,
    ):
        import keras  # heavy: imported here so that importing this module stays light

        from . import models  # noqa: F401  registers the custom layers the saved model names

        self.model_dir = Path(model_dir)
        info = read_model_info(self.model_dir)
        try:
            model = keras.saving.load_model(self.model_dir / "model.keras", compile=False)
        except Exception as exc:  # Keras raises many types for a missing or corrupt file
            raise ModelNotAvailable(f"the model file in {self.model_dir} cannot be loaded ({exc})") from exc
        self._setup(model, info, working_size, temperature, correction, saturation)

    @classmethod
    def in_memory(cls, model, info: dict, *, working_size: int = DEFAULT_WORKING_SIZE) -> Colorizer:
        """A colorizer around a network that is still training (validation metrics per epoch)."""
        colorizer = cls.__new__(cls)
        colorizer.model_dir = Path("<in memory>")
        colorizer._setup(model, info, working_size, None, None, None)
        return colorizer

    def _setup(self, model, info: dict, working_size, temperature, correction, saturation) -> None:
        self.model, self.info = model, info
        self.family = self.info["family"]
        # Old models (the scratch architecture) do not record these; theirs were 8 and 4.
        self.input_multiple = int(self.info.get("input_multiple", INPUT_MULTIPLE))
        self.output_stride = int(self.info.get("output_stride", OUTPUT_STRIDE))
        self.working_size = check_working_size(working_size)
        self.centres = np.asarray(self.info.get("bins", {}).get("centres", []), np.float32)
        self.weights = np.asarray(self.info.get("bins", {}).get("weights", []), np.float32)
        self.temperature = float(temperature or self.info.get("temperature") or bins.DEFAULT_TEMPERATURE)
        # How much of the class rebalancing the decode undoes (ml.bins.annealed_mean); 0 is the paper's decode.
        self.correction = float(self.info.get("correction", 0.0) if correction is None else correction)
        # A chroma scale on the decoded ab (1 = as decoded), chosen with the other two on the val photos.
        self.saturation = float(self.info.get("saturation", 1.0) if saturation is None else saturation)
        # The chroma scale of each photo also follows how sure the network is of it (confidence_factor);
        # models calibrated before that have no gamma, and 0 leaves every photo at the same scale.
        self.confidence_gamma = float(self.info.get("confidence_gamma", 0.0))
        self.confidence_reference = float(self.info.get("confidence_reference", 1.0))

    # -- the network on normalised L at working size --------------------------------------------

    def predict_grid(self, l_small: np.ndarray) -> np.ndarray:
        """Raw network output for L (h, w) in [0, 100]: (ceil(h/s), ceil(w/s), C), s the output stride (4).

        The plane is padded (mirrored) up to a multiple of the network's input
        multiple, and the output cropped back to the cells covering the image.
        """
        h, w = l_small.shape
        ph, pw = -h % self.input_multiple, -w % self.input_multiple
        l_norm = color.normalize_l(l_small)
        # Mirror where the plane is larger than the padding; a tiny plane repeats its edge instead.
        if h > ph and w > pw:
            padded = np.pad(l_norm, ((0, ph), (0, pw)), mode="reflect")
        else:
            padded = np.pad(l_norm, ((0, ph), (0, pw)), mode="edge")
        out = np.asarray(self.model.predict_on_batch(padded[None, :, :, None]))[0]
        return out[: -(-h // self.output_stride), : -(-w // self.output_stride)]  # ceil(h / s) x ceil(w / s) cells

    def decode(
        self,
        grid: np.ndarray,
        temperature: float | None = None,
        correction: float | None = None,
        saturation: float | None = None,
        confidence_gamma: float | None = None,
    ) -> np.ndarray:
        """A photo's network output (..., C) -> ab (..., 2) in Lab units, scaled by the saturation
        and by :meth:`confidence_factor` (``confidence_gamma`` overrides the model's)."""
        if self.family == "regression":
            ab = color.denormalize_ab(grid)
        else:
            ab = bins.annealed_mean(
                grid,
                self.centres,
                temperature=temperature or self.temperature,
                weights=self.weights,
                correction=self.correction if correction is None else correction,
            )
        scale = (self.saturation if saturation is None else saturation) * self.confidence_factor(grid, confidence_gamma)
        return ab if scale == 1.0 else ab * np.float32(scale)

    def confidence_factor(self, grid: np.ndarray, gamma: float | None = None) -> float:
        """(c / c_ref)^γ for a whole photo's grid: c is :func:`ml.bins.confidence`, c_ref the median of
        the val photos', so the saturation is the scale of a typical photo.

        The annealed mean pulls a cell the network is unsure of towards grey, which is right for
        accuracy; but photos it is sure of (skies, fields, foliage) then come out calmer than
        they are too.  γ > 0 gives those more colour and unsure photos less.  It is chosen on
        the val photos with the other knobs (``ml.calibrate``): at the landscape colourfulness
        issue 8 asks for, it kept everyday photos 0.25 dB more accurate than one scale for all
        (docs/training.md, "Colour that follows the network's confidence").
        """
        gamma = self.confidence_gamma if gamma is None else gamma
        if self.family != "classification" or not gamma:
            return 1.0
        return (bins.confidence(grid, self.weights) / self.confidence_reference) ** gamma

    # -- whole images ----------------------------------------------------------------------------

    def predict_ab(
        self,
        l: np.ndarray,
        *,
        working_size: int | None = None,
        temperature: float | None = None,
        saturation: float | None = None,
    ) -> np.ndarray:
        """ab (H, W, 2) in Lab units for a full-resolution L plane (H, W); ``saturation`` overrides the model's."""
        grid, small_size = self.grid_for(l, working_size=working_size)
        return self.ab_from_grid(grid, small_size, l.shape, temperature=temperature, saturation=saturation)

    def grid_for(self, l: np.ndarray, *, working_size: int | None = None) -> tuple[np.ndarray, tuple[int, int]]:
        """Network output for a full-resolution L plane, and the (width, height) it was predicted at."""
        height, width = l.shape
        scale = working_scale(height, width, check_working_size(working_size or self.working_size))
        small = (max(1, round(width * scale)), max(1, round(height * scale)))
        l_small = l if scale == 1.0 else _resize_plane(l, small)
        return self.predict_grid(l_small), small

    def ab_from_grid(
        self,
        grid: np.ndarray,
        small_size: tuple[int, int],
        full_shape: tuple[int, int],
        *,
        temperature: float | None = None,
        correction: float | None = None,
        saturation: float | None = None,
        confidence_gamma: float | None = None,
    ) -> np.ndarray:
        """Decode a photo's grid and stretch it to the full (H, W): ab (H, W, 2) in Lab units."""
        ab_grid = self.decode(grid, temperature, correction, saturation, confidence_gamma)
        # Cell i of the grid covers working-size pixels [s·i, s·i + s): crop that region, stretch to full size.
        box = (0.0, 0.0, small_size[0] / self.output_stride, small_size[1] / self.output_stride)
        height, width = full_shape
        return np.stack([_resize_plane(ab_grid[..., c], (width, height), box) for c in range(2)], axis=-1)

    def colorize_array(
        self,
        pixels: np.ndarray,
        *,
        working_size: int | None = None,
        temperature: float | None = None,
        saturation: float | None = None,
    ) -> np.ndarray:
        """uint8 RGB (H, W, 3) or grey (H, W) -> coloured uint8 RGB (H, W, 3); its L is kept."""
        pixels = np.asarray(pixels, np.uint8)
        if pixels.ndim == 2:
            pixels = np.repeat(pixels[..., None], 3, axis=-1)
        l = color.fast_rgb_to_l(pixels)
        ab = self.predict_ab(l, working_size=working_size, temperature=temperature, saturation=saturation)
        return color.fast_merge_l_ab(l, ab)

    def colorize(
        self,
        image,
        *,
        working_size: int | None = None,
        temperature: float | None = None,
        saturation: float | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> Image.Image:
        """Colour a PIL image, path, bytes or file; returns RGB at the (EXIF-oriented) input size.

        Raises :class:`ml.images.InvalidImage` for anything that is not a usable image.
        """
        if not isinstance(image, Image.Image):
            image = open_image(image, max_pixels=max_pixels)
        else:
            from .images import to_8bit

            image = to_8bit(image)
        rgb = np.asarray(image.convert("RGB"))
        return Image.fromarray(
            self.colorize_array(rgb, working_size=working_size, temperature=temperature, saturation=saturation)
        )


def working_scale(height: int, width: int, size: int) -> float:
    """How much a photo is shrunk for the network: its shorter side to ``size``, never enlarged,
    and its longer side to at most ``MAX_ASPECT`` × ``size``."""
    return min(1.0, size / min(height, width), MAX_ASPECT * size / max(height, width))


def check_working_size(size: int) -> int:
    size = int(size)
    if not MIN_WORKING_SIZE <= size <= MAX_WORKING_SIZE:
        raise ValueError(f"working size must lie in [{MIN_WORKING_SIZE}, {MAX_WORKING_SIZE}], got {size}")
    return size


__all__ = [
    "Colorizer",
    "InvalidImage",
    "ModelNotAvailable",
    "DEFAULT_WORKING_SIZE",
    "MIN_WORKING_SIZE",
    "MAX_WORKING_SIZE",
    "check_working_size",
    "working_scale",
    "read_model_info",
]
