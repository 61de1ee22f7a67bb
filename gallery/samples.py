"""The front page's before/after examples: sample photos bundled with scikit-image, coloured by our model.

The photos come with the scikit-image package the engine already depends on (public domain or
CC0, credited in SAMPLES and on the page), so no photo is committed here.  Their grey versions
and colourings are made once per model by the colouring worker (gallery.tasks.colour_samples,
which `make run` sends at start-up) or by `python manage.py colour_samples`, and kept in the
media storage under samples/.  samples/index.json names the files and the model that made them,
so a restart with the same model does nothing, and one with another model colours them again.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import asdict, dataclass

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from . import imaging

log = logging.getLogger(__name__)

INDEX = "samples/index.json"
KINDS = ("grey", "colour")


@dataclass(frozen=True)
class Sample:
    name: str  # the skimage.data function that returns its pixels
    title: str
    credit: str


SAMPLES = (
    Sample("astronaut", "Astronaut Eileen Collins", "NASA, public domain"),
    Sample("chelsea", "Chelsea the cat", "Stefan van der Walt, CC0"),
    Sample("coffee", "A cup of espresso", "Rachel Michetti, CC0"),
)


def sample_pixels(name: str) -> np.ndarray:
    """A bundled sample as uint8 RGB (scikit-image reads it from its own package folder: no download)."""
    from skimage import data

    return np.asarray(getattr(data, name)(), dtype=np.uint8)[..., :3]


def current() -> dict | None:
    """The index of the samples made last ({"model": label, "samples": [...]}), or None before the first."""
    try:
        with default_storage.open(INDEX, "rb") as fileobj:
            index = json.load(fileobj)
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        log.warning("the samples' index %s cannot be read; they will be made again", INDEX, exc_info=True)
        return None
    return index if isinstance(index, dict) and isinstance(index.get("samples"), list) else None


def made_by(model: str) -> bool:
    index = current()
    return index is not None and index.get("model") == model


def make(colorizer, model: str) -> dict:
    """Colour every sample with ``colorizer`` (an ml.inference.Colorizer), store them, and write the index.

    The index is written last and names only files already stored, so the front page never
    points at a missing picture; the files of the samples it replaces are deleted after it.
    """
    previous = current()
    entries = []
    for sample in SAMPLES:
        grey = imaging.grey_version(sample_pixels(sample.name))
        coloured = colorizer.colorize_array(grey)
        files = {kind: _store(sample.name, kind, pixels) for kind, pixels in zip(KINDS, (grey, coloured))}
        height, width = grey.shape[:2]
        entries.append({**asdict(sample), "width": width, "height": height, "files": files})
    index = {"model": model, "samples": entries}
    default_storage.delete(INDEX)
    default_storage.save(INDEX, ContentFile(json.dumps(index, indent=1).encode()))
    if previous:
        for old in previous["samples"]:
            for name in old.get("files", {}).values():
                default_storage.delete(name)
    log.info("front-page samples coloured by %s", model)
    return index


def stored_file(name: str, kind: str) -> str | None:
    """The storage name of one sample's grey or coloured picture, None if there is none."""
    for entry in (current() or {}).get("samples", []):
        if entry.get("name") == name:
            return entry.get("files", {}).get(kind)
    return None


def _store(name: str, kind: str, pixels: np.ndarray) -> str:
    # a new random part each time, so a browser never keeps an old model's picture under the same URL
    return default_storage.save(
        f"samples/{name}-{kind}-{secrets.token_hex(4)}.jpg", ContentFile(imaging.jpeg(Image.fromarray(pixels)))
    )
