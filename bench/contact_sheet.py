"""A contact sheet to look at: grey | ours | truth for a fixed sample of both test splits.

Numbers say how far the colours are from the truth; a person looking at a
sheet says whether they look right.  The sample is fixed (every k-th test
photo, so every photos source set appears), so sheets of two models compare
photo for photo.

    .venv/bin/python bench/contact_sheet.py [--model models/default] [--per-set 12] [--out bench/out]

writes ``contact_sheet_landscape.jpg`` and ``contact_sheet_photos.jpg``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PANEL = 160  # each photo is shown this high


def sample(collection: str, count: int) -> list[Path]:
    """``count`` test photos spread evenly over the split (which is ordered by source set)."""
    from ml.data import dataset_root, split_files

    paths = split_files(dataset_root(None, collection), "test")
    return [paths[i] for i in np.linspace(0, len(paths) - 1, count).round().astype(int)]


def sheet(colorizer, paths: list[Path], columns: int = 2) -> Image.Image:
    """Triptychs (grey | ours | truth) in a grid, each labelled with its file name."""
    from ml.leaderboard import triptych

    tiles = []
    for path in paths:
        with Image.open(path) as im:
            rgb = np.asarray(im.convert("RGB"))
        tile = triptych(rgb, colorizer.colorize_array(rgb))
        tile = tile.resize((round(tile.width * PANEL / tile.height), PANEL), Image.Resampling.LANCZOS)
        labelled = Image.new("RGB", (tile.width, PANEL + 16), "white")
        labelled.paste(tile, (0, 16))
        ImageDraw.Draw(labelled).text((2, 2), path.name, fill="black")
        tiles.append(labelled)
    width = max(t.width for t in tiles)
    rows = -(-len(tiles) // columns)
    canvas = Image.new("RGB", (columns * (width + 8), rows * (PANEL + 24)), "white")
    for i, tile in enumerate(tiles):
        canvas.paste(tile, ((i % columns) * (width + 8), (i // columns) * (PANEL + 24)))
    return canvas


def main() -> None:
    from ml.inference import Colorizer

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default=str(Path(__file__).resolve().parent.parent / "models" / "default"))
    p.add_argument("--per-set", type=int, default=12, help="photos from each test split")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "out"))
    args = p.parse_args()
    colorizer = Colorizer(args.model)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for collection in ("landscape", "photos"):
        target = out / f"contact_sheet_{collection}.jpg"
        sheet(colorizer, sample(collection, args.per_set)).save(target, quality=88)
        print(f"{target}  ({args.per_set} {collection} test photos: grey | {Path(args.model).name} | truth)")


if __name__ == "__main__":
    main()
