"""``python -m ml train | evaluate | colorize``: the engine from the command line."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def train_config(args):
    """The TrainConfig for parsed ``train`` arguments; flags left out keep the config's defaults."""
    from .train import TrainConfig

    return TrainConfig(**{k: v for k, v in vars(args).items() if k in TrainConfig.__dataclass_fields__ and v is not None})


def _train(args) -> int:
    from .train import train

    info = train(train_config(args))
    print(json.dumps({k: info.get(k) for k in ("family", "parameters", "epochs_run", "best_epoch",
                                               "temperature", "correction", "validation")}, indent=1))
    return 0


def _calibrate(args) -> int:
    from .train import calibrate

    info = calibrate(args.model_dir, data=args.data, max_delta_cf=args.max_delta_colourfulness,
                     val_examples=args.val_examples)
    for row in info.get("decode_search", []):
        print(f"α={row['correction']:<5} T={row['temperature']:<5} PSNR {row['psnr']:.2f}  "
              f"CF {row['colourfulness']:.2f}  ΔCF {row['delta_colourfulness']:.2f}")
    if info["family"] == "classification":
        print(f"chosen: α = {info['correction']}, T = {info['temperature']}")
    print("validation:", json.dumps(info["validation"]))
    return 0


def _evaluate(args) -> int:
    from .evaluate import evaluate, format_table

    report = evaluate(args.model_dir, data=args.data, max_examples=args.max_examples, out=args.out,
                      working_size=args.working_size)
    print(format_table(report))
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


def parser() -> argparse.ArgumentParser:
    from .families import FAMILIES
    from .inference import DEFAULT_WORKING_SIZE

    p = argparse.ArgumentParser(prog="python -m ml", description=__doc__)
    sub = p.add_subparsers(dest="action", required=True)

    t = sub.add_parser("train", help="train a model on the landscape train split")
    t.add_argument("--family", choices=FAMILIES, default="classification")
    t.add_argument("--out", required=True, help="model folder to write (rerun to resume)")
    t.add_argument("--data", help="dataset folder (default $COLORSITE_DATASET or ../shared/datasets/landscape)")
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--learning-rate", type=float)
    t.add_argument("--crop", type=int, help="training crop side, a multiple of 8")
    t.add_argument("--filters", type=int, help="width of the first block (model size)")
    t.add_argument("--depth", type=int, help="number of dilated context blocks")
    t.add_argument("--max-examples", type=int, help="use only the first N train and val photos")
    t.add_argument("--val-examples", type=int, help="use only the first N val photos")
    t.add_argument("--patience", type=int, help="early-stopping patience in epochs")
    t.add_argument("--age-probability", type=float, help="share of inputs aged like old prints")
    t.add_argument("--max-delta-colourfulness", type=float,
                   help="temperature choice: best val PSNR among T whose colourfulness gap is within this")
    t.add_argument("--seed", type=int)
    t.add_argument("--init-from", help="continue from this model folder's weights (same family and size)")
    t.set_defaults(run=_train)

    k = sub.add_parser("calibrate", help="re-choose a classification model's decode on the val split")
    k.add_argument("model_dir")
    k.add_argument("--data")
    k.add_argument("--max-delta-colourfulness", type=float, default=6.0)
    k.add_argument("--val-examples", type=int)
    k.set_defaults(run=_calibrate)

    e = sub.add_parser("evaluate", help="score a model on the held-out test split")
    e.add_argument("model_dir")
    e.add_argument("--data")
    e.add_argument("--max-examples", type=int)
    e.add_argument("--working-size", type=int, default=DEFAULT_WORKING_SIZE)
    e.add_argument("--out", help="report path (default MODEL_DIR/evaluation.json)")
    e.set_defaults(run=_evaluate)

    c = sub.add_parser("colorize", help="colour image files")
    c.add_argument("inputs", nargs="+")
    c.add_argument("--model", default=str(Path(__file__).resolve().parent.parent / "models" / "default"))
    c.add_argument("--out", required=True)
    c.add_argument("--working-size", type=int, default=DEFAULT_WORKING_SIZE)
    c.add_argument("--temperature", type=float)
    c.set_defaults(run=_colorize)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    return args.run(args)
