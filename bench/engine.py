"""Engine speed on this CPU: prints figures, asserts nothing.

1. Median latency of the shipped model at 256 x 256, beside the full-size ECCV16
   network (random weights) in the same run, and the ratio (goal: >= 8x, <= 90 ms;
   the EfficientNet-Lite0 encoder alone takes about 50 ms of that on a 2-core CPU).
2. A 12-megapixel JPEG end to end with a warm Colorizer: decode -> coloured JPEG
   written (goal: <= 2 s).

    .venv/bin/python bench/engine.py [--model models/default] [--repeats 20]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def median_ms(fn, repeats: int) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def big_jpeg(width: int = 4000, height: int = 3000) -> bytes:
    """A 12 MP photo-like JPEG: a real landscape photo upscaled, plus grain so it does not compress away."""
    from ml.data import dataset_root, split_files

    with Image.open(split_files(dataset_root(), "test")[0]) as im:
        big = np.asarray(im.convert("RGB").resize((width, height), Image.Resampling.BICUBIC), np.int16)
    big = np.clip(big + np.random.default_rng(0).integers(-6, 7, big.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(big).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def main() -> None:
    from eccv16 import build_eccv16

    from ml.inference import Colorizer
    from ml.models import parameter_count

    p = argparse.ArgumentParser()
    p.add_argument("--model", default=str(Path(__file__).resolve().parent.parent / "models" / "default"))
    p.add_argument("--repeats", type=int, default=20)
    args = p.parse_args()

    colorizer = Colorizer(args.model)
    eccv16 = build_eccv16()
    x = np.zeros((1, 256, 256, 1), np.float32)
    ours = median_ms(lambda: colorizer.model.predict_on_batch(x), args.repeats)
    full = median_ms(lambda: eccv16.predict_on_batch(x), max(5, args.repeats // 4))
    print(f"network at 256x256, median of {args.repeats} (batch 1, this CPU):")
    print(f"  shipped {colorizer.family:<15} {parameter_count(colorizer.model) / 1e6:6.2f} M params  {ours:7.1f} ms")
    print(f"  ECCV16 full size (random)     {parameter_count(eccv16) / 1e6:6.2f} M params  {full:7.1f} ms")
    print(f"  speed-up {full / ours:.1f}x  (goal >= 8x and <= 90 ms)")

    jpeg = big_jpeg()
    out = io.BytesIO()

    def end_to_end():
        out.seek(0)
        out.truncate()
        colorizer.colorize(jpeg).save(out, "JPEG", quality=90)

    e2e = median_ms(end_to_end, 5)
    print(f"12 MP JPEG ({len(jpeg) / 1e6:.1f} MB) decode -> colour -> JPEG written:", end=" ")
    print(f"median {e2e / 1000:.2f} s (goal <= 2 s)")


if __name__ == "__main__":
    main()
