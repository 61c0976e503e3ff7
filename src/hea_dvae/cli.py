"""Command line: ``hea-dvae fetch``, ``hea-dvae train`` and ``hea-dvae predict``.

Each subcommand is a ``_cmd_*`` function taking the parsed arguments and
returning the exit status; add one with :func:`build_parser`.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_BAD_INPUT = 2

DEFAULT_MODEL_NAME = "default"
DEFAULT_SEED = 42


def _error(message: str) -> None:
    print(f"hea-dvae: error: {message}", file=sys.stderr)


def _train_config(args: argparse.Namespace):
    from .model import SSVAEConfig
    from .train import TrainConfig

    defaults, model_defaults = TrainConfig(), SSVAEConfig()
    model = SSVAEConfig(
        z_dim=args.z_dim if args.z_dim is not None else model_defaults.z_dim,
        alpha=args.alpha if args.alpha is not None else model_defaults.alpha,
    )
    return TrainConfig(
        model=model,
        lr=args.lr if args.lr is not None else defaults.lr,
        epochs=args.epochs if args.epochs is not None else defaults.epochs,
        patience=args.patience if args.patience is not None else defaults.patience,
    )


def train_on_paper_split(config=None, seed: int = DEFAULT_SEED, progress: bool | None = None):
    """Train on the paper split; return the model, its history and the split."""
    from .data import paper_split
    from .train import fit

    split = paper_split()
    model, history = fit(
        split["labelled"], split["unlabelled"], split["validation"],
        config=config, seed=seed, progress=progress,
    )
    return model, history, split


def default_model(progress: bool | None = None):
    """The cached default model, trained once on the paper split (seed 42) if absent."""
    from . import checkpoint, config

    directory = config.cache_dir() / DEFAULT_MODEL_NAME
    if (directory / checkpoint.CONFIG_FILE).is_file():
        try:
            return checkpoint.load(directory)
        except checkpoint.CheckpointError as error:
            print(f"hea-dvae: cached default model is unusable ({error}); retraining",
                  file=sys.stderr)
    print(
        f"hea-dvae: no cached default model; training one on the paper split "
        f"(seed {DEFAULT_SEED}, about half a minute) and caching it in {directory}",
        file=sys.stderr,
    )
    model, history, _ = train_on_paper_split(seed=DEFAULT_SEED, progress=progress)
    checkpoint.save(model, directory, extra={"seed": DEFAULT_SEED,
                                             "best_epoch": int(history.attrs["best_epoch"]),
                                             "split": "paper"})
    return model


def _cmd_train(args: argparse.Namespace) -> int:
    from . import checkpoint
    from .metrics import evaluate

    config = _train_config(args)
    model, history, split = train_on_paper_split(config, seed=args.seed, progress=False if args.quiet else None)
    scores = {part: evaluate(model, split[part]) for part in ("validation", "test")}
    checkpoint.save(
        model,
        args.out,
        extra={
            "seed": args.seed,
            "split": "paper",
            "best_epoch": int(history.attrs["best_epoch"]),
            "epochs_run": int(len(history)),
            "train_config": config.to_dict(),
            "metrics": scores,
        },
    )
    history.to_csv(Path(args.out) / "history.csv", index=False)
    print(f"best epoch {history.attrs['best_epoch']} of {len(history)}; saved to {args.out}")
    names = ("accuracy", "auc", "brier", "mae_all", "mae_present", "element_set_recovered")
    print("part," + ",".join(names))
    for part, values in scores.items():
        print(part + "," + ",".join(f"{values[name]:.4f}" for name in names))
    return EXIT_OK


def _cmd_predict(args: argparse.Namespace) -> int:
    import numpy as np

    from . import checkpoint
    from .features import FEATURES, composition_vector, featurize

    # Every formula is checked before anything is printed, so a bad one
    # never leaves partial output behind.
    fractions, bad = [], []
    for formula in args.formulas:
        try:
            fractions.append(composition_vector(formula))
        except ValueError as error:
            message = str(error)
            bad.append(message if repr(formula) in message else f"invalid formula {formula!r}: {message}")
    if bad:
        for message in bad:
            _error(message)
        return EXIT_BAD_INPUT

    if args.model is not None:
        try:
            model = checkpoint.load(args.model)
        except checkpoint.CheckpointError as error:
            _error(f"cannot load model from {args.model}: {error}")
            return EXIT_ERROR
    else:
        model = default_model()

    features = np.asarray(featurize(np.stack(fractions), table=model.config.table), dtype=float)
    probabilities = model.predict_proba(features)
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["formula", "p_single_phase", *FEATURES])
    for formula, p, row in zip(args.formulas, probabilities, features):
        writer.writerow([formula, f"{p:.6f}", *(f"{v:.10g}" for v in row)])
    return EXIT_OK


def _cmd_fetch(args: argparse.Namespace) -> int:
    from . import config
    from .data import DataIntegrityError, fetch

    names = args.files or list(config.DATA_FILES)
    unknown = [name for name in names if name not in config.DATA_FILES]
    if unknown:
        _error(f"unknown data file(s) {', '.join(unknown)}; pinned: {', '.join(config.DATA_FILES)}")
        return EXIT_BAD_INPUT
    print(f"data folder: {config.data_dir()}", file=sys.stderr)
    for name in names:
        try:
            path = fetch(name, progress=config.show_progress())
        except (DataIntegrityError, OSError) as error:
            _error(f"{name}: {error}")
            return EXIT_ERROR
        print(f"ok  {name}  ({path.stat().st_size:,} bytes, SHA-256 verified)", file=sys.stderr)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; one subparser per subcommand."""
    parser = argparse.ArgumentParser(
        prog="hea-dvae",
        description="Semi-supervised VAE for high-entropy alloys (Zeng, Khan & Post).",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    fetch = commands.add_parser(
        "fetch", help="download (or verify) the pinned upstream data files; see HEA_DVAE_DATA_DIR"
    )
    fetch.add_argument("files", nargs="*", metavar="FILE", help="file names (default: all)")
    fetch.set_defaults(handler=_cmd_fetch)

    train = commands.add_parser("train", help="train on the paper split and save a checkpoint")
    train.add_argument("--out", required=True, type=Path, help="checkpoint folder to write")
    train.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default 42)")
    train.add_argument("--epochs", type=int, help="maximum number of epochs")
    train.add_argument("--patience", type=int, help="early-stopping patience in epochs")
    train.add_argument("--lr", type=float, help="Adam learning rate")
    train.add_argument("--alpha", type=float, help="weight of the supervised classification loss")
    train.add_argument("--z-dim", type=int, help="latent dimension")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(handler=_cmd_train)

    predict = commands.add_parser(
        "predict", help="single-phase probability and features of formulas, as CSV"
    )
    predict.add_argument("formulas", nargs="+", metavar="FORMULA", help="e.g. CoCrFeNi or Al0.5CoCrFeNi")
    predict.add_argument(
        "--model", type=Path,
        help="checkpoint folder (default: a model trained once on the paper split and cached)",
    )
    predict.set_defaults(handler=_cmd_predict)
    return parser


def main(argv=None) -> int:
    """Entry point of the ``hea-dvae`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_BAD_INPUT
    return args.handler(args)
