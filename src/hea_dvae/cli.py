"""Command line: ``hea-dvae fetch``, ``train``, ``predict`` and ``design screen|latent|invert|next``.

Each subcommand is a ``_cmd_*`` function taking the parsed arguments and
returning the exit status; add one with :func:`build_parser`. Bad input (a
formula, an element, a parameter, an unreadable file) exits with status 2,
any other error with 1, and never leaves a partial output file.

Start-up stays light: modules are imported inside the commands that need
them, so ``hea-dvae --help`` does not load torch.
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_BAD_INPUT = 2

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
        table=args.table,
    )
    return TrainConfig(
        model=model,
        lr=args.lr if args.lr is not None else defaults.lr,
        epochs=args.epochs if args.epochs is not None else defaults.epochs,
        patience=args.patience if args.patience is not None else defaults.patience,
        prior=_prior_value(args.prior),
    )


def _prior_value(text: str):
    """``--prior``: a name (flat, expert, expert-literature) or a constant p(y=1) such as 0.6."""
    try:
        return float(text)
    except ValueError:
        return text


def train_on_paper_split(config=None, seed: int = DEFAULT_SEED, progress: bool | None = None, scheduler=None):
    """Train on the paper split; return the model, its history and the split.

    With ``scheduler`` (a Dask scheduler's address or a client) the run is
    one task on that cluster: the same model, on the same kind of CPU.
    """
    from .data import paper_split
    from .train import TrainConfig, fit

    split = paper_split()
    if config is not None and config.model.table != "paper":
        from .data import split_with_table

        split = split_with_table(split, config.model.table)
    parts = (split["labelled"], split["unlabelled"], split["validation"])
    if scheduler is None:
        model, history = fit(*parts, config=config, seed=seed, progress=progress)
        return model, history, split
    from .batched import Run, fit_batch
    from .workers import dask_connection, run_on_dask

    with dask_connection(scheduler, "training") as client:
        [[(model, history)]] = run_on_dask(fit_batch, [([Run(*parts, config or TrainConfig(), seed)], None)], client)
    return model, history, split


def _cmd_train(args: argparse.Namespace) -> int:
    from . import checkpoint
    from .metrics import evaluate
    from .userdata import RESULTS_FILE

    config = _train_config(args)
    # Before training: a destination that must not be replaced is found now, not after the work.
    try:
        checkpoint.check_destination(args.out, overwrite=args.force)
    except checkpoint.CheckpointError as error:
        raise BadInput(f"--out {error}") from None
    results = _read_results(args)  # every line checked before any training
    if results is None:
        model, history, split = train_on_paper_split(config, seed=args.seed, progress=False if args.quiet else None,
                                                     scheduler=args.scheduler)
    else:
        model, history, split = _train_on_results(results, args, config)
    scores = {part: evaluate(model, split[part]) for part in ("validation", "test") if len(split[part])}
    checkpoint.save(
        model,
        args.out,
        extra={
            "seed": args.seed,
            "split": "paper" if results is None else _RESULTS_SPLIT[args.only],
            **({} if results is None else {"results": results.provenance()}),
            "best_epoch": int(history.attrs["best_epoch"]),
            "best_vae_epoch": int(history.attrs["best_vae_epoch"]),
            "epochs_run": int(history.attrs["epochs_run"]),
            "train_config": config.to_dict(),
            "prior": history.attrs["prior"],
            "metrics": scores,
        },
        files={"history.csv": history.to_csv(index=False),
               **({} if results is None else {RESULTS_FILE: results.to_csv()})},
        overwrite=args.force,
    )
    print(f"classifier kept from epoch {history.attrs['best_epoch']}, encoder/decoder from epoch "
          f"{history.attrs['best_vae_epoch']}, of {history.attrs['epochs_run']}; saved to {args.out}")
    names = ("accuracy", "auc", "brier", "mae_all", "mae_present", "element_set_recovered")
    print("part," + ",".join(names))
    for part, values in scores.items():
        print(part + "," + ",".join(f"{values[name]:.4f}" for name in names))
    return EXIT_OK


#: What ``split`` says in a checkpoint trained with ``--data`` (key: ``--only``).
_RESULTS_SPLIT = {False: "paper + results", True: "results only"}


def _read_results(args: argparse.Namespace):
    """The checked ``--data`` file (:func:`hea_dvae.userdata.read_results`), or None; errors are BadInput."""
    if args.data is None:
        if args.only:
            raise BadInput("--only trains on the alloys of --data FILE alone: give --data FILE")
        return None
    from .userdata import ResultsError, read_results

    try:
        results = read_results(args.data)
    except ResultsError as error:
        raise BadInput(str(error)) from None
    for line in results.describe():
        _say(line)
    return results


def _train_on_results(results, args: argparse.Namespace, config):
    """``train --data``: :func:`hea_dvae.userdata.train_on_results`, with what it trained on said."""
    from .userdata import ResultsError, train_on_results

    try:
        model, history, split = train_on_results(results, only=args.only, train_config=config, seed=args.seed,
                                                 progress=False if args.quiet else None,
                                                 scheduler=getattr(args, "scheduler", None))
    except ResultsError as error:  # --only with too few alloys: found before any training
        raise BadInput(str(error)) from None
    labelled, mine = len(split["labelled"]), len(results.alloys)
    if args.only:
        whose, validation = "yours, less a fifth held out", "a fifth of yours"
    else:
        whose, validation = f"{labelled - mine} of the paper's, {mine} yours", "the paper's"
    _say(f"trained on {labelled} labelled alloys ({whose}) and {len(split['unlabelled'])} unlabelled; selected "
         f"on {len(split['validation'])} validation alloys ({validation})")
    return model, history, split


class BadInput(ValueError):
    """A problem with what the user gave (exit status 2)."""


class Failure(RuntimeError):
    """Anything else that stops a command (exit status 1)."""


def read_formulas(source: str) -> list[tuple[str, str]]:
    """Formulas from a file (``-``: standard input), each with where it came from.

    A CSV file (its first line holds a comma) must start with a header line
    naming a ``formula`` column, which is read; any other file gives one
    formula per line (a first line ``formula`` is a header). Blank lines and
    lines starting with ``#`` are skipped.

    Returns
    -------
    list of (formula, origin)
        ``origin`` is e.g. ``"alloys.csv line 3"``, for error messages.

    Raises
    ------
    BadInput
        An unreadable file, a file without formulas, or a CSV file whose
        first line is not a header with a ``formula`` column (a header-less
        CSV would silently lose its first alloy).
    """
    from .compositions import quoted
    from .files import InputError, read_input_lines

    try:
        name, _, numbered = read_input_lines(source)
    except InputError as error:
        raise BadInput(str(error)) from None
    if not numbered:
        raise BadInput(f"input {name!r} holds no formula")
    first_number, first = numbered[0]
    if "," in first:
        names = [cell.strip().lower() for cell in next(csv.reader([first]))]
        if "formula" not in names:
            raise BadInput(
                f"{name} line {first_number}: a CSV file must start with a header line naming a 'formula' "
                f"column (e.g. 'formula,label'); its first line is {quoted(first)}"
            )
        column = names.index("formula")
        rows = []
        for n, line in numbered[1:]:
            cells = next(csv.reader([line]))
            value = cells[column].strip() if column < len(cells) else ""
            rows.append((value, f"{name} line {n}"))
        return rows
    if first.strip().lower() == "formula":
        numbered = numbered[1:]
    return [(line.strip(), f"{name} line {n}") for n, line in numbered]


def _parse_formulas(items: list[tuple[str, str | None]]):
    """Fractions of every formula; all bad ones are reported at once (BadInput)."""
    from .compositions import composition_vector, quoted

    fractions, bad = [], []
    for formula, origin in items:
        try:
            fractions.append(composition_vector(formula))
        except ValueError as error:
            message = str(error)
            if quoted(formula) not in message:
                message = f"invalid formula {quoted(formula)}: {message}"
            bad.append(f"{origin}: {message}" if origin else message)
    if bad:
        raise BadInput("\n".join(bad))
    return fractions


def _model_folders(model) -> list[str] | None:
    """``--model`` (None, one value or a list of them) as checkpoint folders or a named model; None: the route's default.

    ``released``, ``forest``, ``ssvae`` and ``default`` stand alone; several
    folders make an ensemble (which, as any ensemble, refuses members of two
    element tables).
    """
    models = [model] if isinstance(model, str) else list(model or [])
    named = [m for m in models if m in NAMED_MODELS]
    if named and len(models) > 1:
        raise BadInput(f"--model {named[0]} stands alone; several --model options name checkpoint folders "
                       "(an ensemble)")
    if not models or models == ["default"]:
        return None
    if models in (["released"], ["forest"], ["ssvae"]):
        return models
    missing = [m for m in models if not Path(m).exists()]
    if missing:
        raise BadInput(f"--model {missing[0]}: no such checkpoint folder (or give 'released' for the authors' "
                       "weights)")
    return models


#: Values of ``--model`` that name a model rather than a checkpoint folder.
NAMED_MODELS = ("default", "released", "forest", "ssvae")


def load_predictor(model=None, scores_only: bool = False, forest: bool = False):
    """The predictor a command uses.

    ``None`` or ``"default"``: the route's default, the forest where
    ``forest`` is true (``predict``, which only scores: chapter 7's model
    with the highest mean AUC on unseen alloy systems), else ``"ssvae"``;
    ``"ssvae"``: :func:`hea_dvae.zoo.default_predictor` (our SSVAE
    ensemble, standard element table; trained and cached on first use);
    ``"released"``: the authors' weights; ``"forest"`` (only where
    ``forest`` is true): :func:`hea_dvae.zoo.forest_predictor`, a random
    forest on the 31 descriptors; a checkpoint folder: that model; a list
    of checkpoint folders (``--model`` given several times, e.g. one
    ``train --seed`` each): their ensemble, whose ``spread`` is theirs.

    With ``scores_only`` (``predict`` and ``design screen``, which only
    score), the default and a checkpoint come as the screen's numpy
    :class:`~hea_dvae.design.screen.scorer.Scorer`, read from the cache's
    index without torch: a one-alloy ``predict`` answers in about a second.
    Its identity is the ensemble's.
    """
    from . import checkpoint
    from .cache import DEFAULT_PREDICTOR, read_index
    from .predictors import Ensemble, released_predictor

    folders = _model_folders(model)
    if folders is None:
        folders = ["forest"] if forest else ["ssvae"]
    if folders == ["released"]:
        return released_predictor()
    if folders == ["forest"]:
        if not forest:
            raise BadInput("--model forest scores alloys with 'hea-dvae predict' only: the design routes decode, "
                           "invert or screen with an SSVAE's classifiers (a forest has no decoder and no gradient); "
                           "give them 'ssvae' (their default), 'released' or checkpoint folders")
        from .predictors import cached_forest

        found = cached_forest()  # fitted before: plain arrays, without scikit-learn or torch
        if found is not None:
            return found
        from . import zoo

        return zoo.forest_predictor()
    ssvae = folders == ["ssvae"]
    name = None if ssvae else "checkpoint" + ("s " if len(folders) > 1 else " ") + ", ".join(folders)
    try:
        if scores_only:
            from .design.screen.scorer import Scorer

            if not ssvae:
                return Scorer.from_checkpoints(folders, name=name)
            found = read_index(DEFAULT_PREDICTOR)
            if found is not None:
                return Scorer.from_checkpoints(found["members"], found["temperature"], found["label"])
        from . import zoo  # torch, the data and the split: the slow path

        if ssvae:
            default = zoo.default_predictor()
            return Scorer.from_predictor(default) if scores_only else default
        return Ensemble([checkpoint.load(folder) for folder in folders], name=name)
    except checkpoint.CheckpointError as error:
        raise Failure(f"cannot load model from {', '.join(folders)}: {error}") from None
    except ValueError:
        # Ensemble and Scorer refuse members of several element tables: say which folder has which.
        tables = {folder: checkpoint.read_config(folder)["model"]["table"] for folder in folders}
        if len(set(tables.values())) > 1:
            raise BadInput("the --model folders of one ensemble must share an element table; got "
                           + ", ".join(f"{folder} ({table})" for folder, table in tables.items())) from None
        raise


#: Columns of ``hea-dvae predict`` from the data flags (:func:`hea_dvae.design.data_flags`).
PREDICT_FLAGS = ("outside_data", "in_dataset", "dataset_label", "distance_to_data", "nearest_formula")


def _cmd_predict(args: argparse.Namespace) -> int:
    import numpy as np
    import pandas as pd

    from . import design

    items = [(formula, None) for formula in args.formulas]
    if args.input is not None:
        items += read_formulas(args.input)
    if not items:
        raise BadInput("give formulas, or --input FILE (a CSV with a 'formula' column, or one per line)")
    fractions = np.stack(_parse_formulas(items))
    predictor = load_predictor(args.model, scores_only=True, forest=True)
    _say(f"model: {predictor.name} (identity {predictor.identity})")
    features = np.asarray(predictor.featurize(fractions), dtype=float)
    columns = list(predictor.features)  # the 8 features, or the forest's 31 descriptors
    frame = pd.DataFrame({"formula": [formula for formula, _ in items],
                          "p_single_phase": predictor.predict_proba(features),
                          "spread": predictor.predict_spread(features)})
    frame = frame.join(design.data_flags(fractions)[list(PREDICT_FLAGS)])
    frame = frame.join(pd.DataFrame(features, columns=columns))
    design.stamp(frame, predictor, route="predict")
    sys.stdout.write(design.csv_text(frame))
    return EXIT_OK


def _say(message: str) -> None:
    print(f"hea-dvae: {message}", file=sys.stderr)


# --------------------------------------------------------------------------
# hea-dvae design ...


def _constraints_from(args: argparse.Namespace):
    """One :class:`hea_dvae.design.constraints.Constraints` from ``--constraints FILE`` and the flags.

    Flags override the file. Returns None when neither is given (latent
    decoding and the label-flip loop then round as the paper did).
    """
    from .design.constraints import Constraints

    flags = {
        "elements": args.elements,
        "forbidden": args.forbid,
        "required": args.require,
        "n_elements": getattr(args, "k", None) or getattr(args, "n_elements", None),
        "max_elements": args.max_elements,
        "min_fraction": args.min_fraction,
        "max_fraction": args.max_fraction,
        "step": args.step,
    }
    flags = {key: value for key, value in flags.items() if value is not None}
    if args.constraints is None:
        return Constraints.from_mapping(flags, source="options") if flags else None
    if not Path(args.constraints).is_file():
        reason = "not a file" if Path(args.constraints).exists() else "no such file"
        raise BadInput(f"cannot read constraints file {args.constraints!r}: {reason}")
    return Constraints.from_file(args.constraints).updated(flags)


def _finish_design(frame, predictor, args: argparse.Namespace, evidence: bool = True, trajectory=None) -> int:
    """Add the evidence (and recipe) to a design result and write it as CSV.

    With ``trajectory`` (a frame) it is written to ``--trajectory`` in the
    same all-or-none write as ``--out``.
    """
    from . import design
    from .features import ELEMENTS
    from .files import write_files

    if evidence:
        frame = design.with_evidence(frame, predictor, batch_grams=args.batch_grams)
    shown = [c for c in frame.columns if c not in ELEMENTS]
    outputs = {}
    if args.out is not None:
        outputs[args.out] = design.csv_text(frame, columns=shown)
    if trajectory is not None:
        outputs[args.trajectory] = design.csv_text(trajectory)
    write_files(outputs)
    if args.out is None:
        sys.stdout.write(design.csv_text(frame, columns=shown))
    else:
        _say(f"wrote {len(frame)} alloys to {args.out}")
    return EXIT_OK


def _check_output_options(args: argparse.Namespace) -> None:
    """Refuse a batch mass or an output path that would fail after the work is done."""
    from .files import OutputError, check_outputs

    if args.batch_grams is not None and not (args.batch_grams > 0 and math.isfinite(args.batch_grams)):
        raise BadInput(f"--batch-grams must be a positive mass in grams, got {args.batch_grams:g}")
    try:
        check_outputs({f"--{name}": getattr(args, name, None) for name in ("out", "trajectory", "resume")})
    except OutputError as error:
        raise BadInput(str(error)) from None


def _check_target(value: float) -> float:
    if not 0 < value < 1:
        raise BadInput(f"--target must lie strictly between 0 and 1, got {value:g}")
    return value


def _cmd_design_latent(args: argparse.Namespace) -> int:
    import numpy as np

    from . import design

    _check_output_options(args)
    ys = list(args.y)
    bad = [y for y in ys if not 0 <= y <= 1]
    if bad:
        raise BadInput(f"--y must lie in [0, 1], got {bad[0]:g}")
    constraints = _constraints_from(args)
    predictor = load_predictor(args.model)
    z_dim = design.decoder_model(predictor).config.z_dim
    if len(args.z) % z_dim:
        raise BadInput(f"--z takes {z_dim} numbers per latent vector for this model, got {len(args.z)}")
    zs = np.asarray(args.z, dtype=float).reshape(-1, z_dim)
    z_all = np.repeat(zs, len(ys), axis=0)
    y_all = np.tile(ys, len(zs))
    frame = design.decode_latent(predictor, z_all, y_all, constraints=constraints)
    return _finish_design(frame, predictor, args)


def _cmd_design_invert(args: argparse.Namespace) -> int:
    from . import design

    _check_output_options(args)
    target = _check_target(args.target)
    _parse_formulas([(seed, None) for seed in args.seed])
    constraints = _constraints_from(args)
    predictor = load_predictor(args.model)
    if args.method == "flip":
        result = design.invert_flip(args.seed, predictor, target=target, max_steps=args.max_steps,
                                    constraints=constraints, label=args.label)
    else:
        result = design.invert_gradient(args.seed, predictor, target=target, constraints=constraints,
                                        distance_weight=args.distance_weight, steps=args.steps)
    trajectory = result.trajectory if args.trajectory is not None else None
    return _finish_design(result.final, predictor, args, trajectory=trajectory)


#: Summary entries of a screen written as ``#`` lines above its CSV (beside ``alloys``).
SCREEN_SUMMARY = ("alloys_above_0.5", "share_above_0.5", "alloys_above_0.9", "share_above_0.9",
                  "seconds", "workers", "backend")


def _cmd_design_screen(args: argparse.Namespace) -> int:
    from . import design
    from .design import screen

    _check_output_options(args)
    if args.top < 1:
        raise BadInput(f"--top must be a positive number of alloys, got {args.top}")
    if args.workers is not None and args.workers < 1:
        raise BadInput(f"--workers must be a positive number, got {args.workers}")
    if args.scheduler is not None and args.backend not in ("auto", "dask"):
        raise BadInput(f"--scheduler runs on Dask; it cannot be combined with --backend {args.backend}")
    constraints = _constraints_from(args)
    if constraints is None or constraints.n_elements is None:
        raise BadInput("give the numbers of elements to screen: --k 4 5, or n_elements in --constraints FILE")
    predictor = load_predictor(args.model, scores_only=True)
    result = screen.screen(
        predictor,
        constraints,
        top=args.top,
        workers=args.workers,
        backend=args.backend,
        scheduler=args.scheduler,
        state_file=args.resume,
        annotate=lambda frame: design.with_evidence(frame, predictor, batch_grams=args.batch_grams),
    )
    summary = result.summary
    if not summary["complete"]:
        raise Failure(f"the screen stopped early after {summary['alloys']:,} alloys; rerun with --resume to continue")
    _say(result.describe())
    frame = result.top.reset_index()
    design.stamp(frame, predictor, route="screen", constraints=result.constraints, top=args.top,
                 alloys=summary["alloys"],
                 **{key: round(summary[key], 3) if key == "seconds" else summary[key] for key in SCREEN_SUMMARY},
                 batch_grams=args.batch_grams)
    return _finish_design(frame, predictor, args, evidence=False)


#: Strategies of ``design next`` (:data:`hea_dvae.design.acquisition.STRATEGIES`; kept here so that
#: ``--help`` loads no numpy, and checked equal by the tests).
STRATEGIES = ("balanced", "greedy", "uncertain", "random")
#: Least distance between two proposals (:data:`hea_dvae.design.acquisition.DEFAULT_MIN_DISTANCE`, the same way).
DEFAULT_MIN_DISTANCE = 10.0
#: Element tables ``train --table`` offers (:data:`hea_dvae.elements.TABLES`, the same way).
TABLES = ("paper", "corrected", "standard")


def _known_alloys(args: argparse.Namespace):
    """The alloys ``design next`` must not propose besides the dataset's: ``--data``, else those the ``--model``
    folders were trained with (their results files), or None."""
    from .userdata import RESULTS_FILE, ResultsError, read_results

    if args.data is not None:
        sources = [args.data]
    else:
        folders = [] if args.model is None else [m for m in args.model if m not in NAMED_MODELS]
        sources = list(dict.fromkeys(Path(m) / RESULTS_FILE for m in folders if (Path(m) / RESULTS_FILE).is_file()))
    if not sources:
        return None
    alloys = []
    for source in sources:
        try:
            alloys.append(read_results(source).alloys)
        except ResultsError as error:
            raise BadInput(str(error)) from None
        _say(f"known alloys: the dataset's and the {len(alloys[-1])} of {source}")
    if len(alloys) == 1:
        return alloys[0]
    import pandas as pd

    return pd.concat(alloys, ignore_index=True)


def _cmd_design_next(args: argparse.Namespace) -> int:
    from . import design

    _check_output_options(args)
    if args.n < 1:
        raise BadInput(f"--n must be a positive number of alloys, got {args.n}")
    if args.min_distance < 0:
        raise BadInput(f"--min-distance must be a distance in at.% (0 or more), got {args.min_distance:g}")
    if args.kappa < 0:
        raise BadInput(f"--kappa must be 0 or more, got {args.kappa:g}")
    if args.seed < 0:
        raise BadInput(f"--seed must be 0 or more, got {args.seed}")
    constraints = _constraints_from(args)
    if constraints is None or constraints.n_elements is None:
        raise BadInput("give the numbers of elements to search: --k 4 5, or n_elements in --constraints FILE")
    known = _known_alloys(args)
    predictor = load_predictor(args.model, scores_only=True)
    reference = None if known is None else design.reference_with(known)
    frame = design.next_experiments(predictor, constraints, n=args.n, strategy=args.strategy,
                                    min_distance=args.min_distance, same_element_set=args.same_system,
                                    kappa=args.kappa, seed=args.seed, reference=reference)
    parameters = frame.attrs["parameters"]
    _say(f"{len(frame)} of {parameters['alloys']:,} alloys proposed ({args.strategy}); "
         f"{parameters['known_skipped']} known alloys skipped among the best")
    if len(frame) < args.n:
        _say(f"only {len(frame)} proposals: of the {parameters['alloys']:,} alloys of this space, "
             f"{parameters['known_skipped']} are known already and the others do not keep --min-distance "
             f"{args.min_distance:g} at.%" + ("" if args.same_system else " and one per element set "
                                              "(--same-system lifts that)"))
    frame = design.with_evidence(frame, predictor, batch_grams=args.batch_grams, reference=reference)
    return _finish_design(frame, predictor, args, evidence=False)


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


def _model_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", metavar="MODEL", action="append",
        help="'ssvae': our ensemble of the default recipe's seed models on the paper split with the "
        "standard element table (metallic radii, Takeuchi-Inoue enthalpies; trained once and cached), the "
        "default of the design routes; 'forest' (predict only, and its default): a random forest on 31 "
        "descriptors, the model with the highest mean AUC on unseen alloy systems in chapter 7 (fitted once "
        "and cached); 'released' (the authors' weights, paper element table); or a checkpoint folder "
        "(one model); given several times, their ensemble (e.g. one 'train --seed N' each: its spread "
        "is theirs, which 'design next' needs); 'default': the command's default",
    )


def _constraint_options(parser: argparse.ArgumentParser, screen: bool = False) -> None:
    group = parser.add_argument_group("constraints (flags override --constraints FILE)")
    group.add_argument("--elements", nargs="+", metavar="EL", help="allowed elements (default: all 30)")
    group.add_argument("--forbid", nargs="+", metavar="EL", help="forbidden elements")
    group.add_argument("--require", nargs="+", metavar="EL", help="elements every alloy must contain")
    if not screen:
        group.add_argument("--n-elements", type=int, help="exact number of elements")
    group.add_argument("--max-elements", type=int, help="largest number of elements")
    group.add_argument("--min-fraction", type=finite, help="smallest amount of a present element (fraction, e.g. 0.05)")
    group.add_argument("--max-fraction", type=finite, help="largest amount of any element (fraction)")
    group.add_argument("--step", type=finite, help="composition grid / rounding step (fraction; 0.01 = 1 at.%%)")
    group.add_argument("--constraints", metavar="FILE", help="constraints file (YAML or TOML)")


def _design_output_options(parser: argparse.ArgumentParser) -> None:
    _model_option(parser)
    parser.add_argument("--out", metavar="FILE", help="write the CSV to FILE (default: standard output)")
    parser.add_argument("--batch-grams", type=finite, metavar="G",
                        help="add a recipe: grams of each element for a batch of G grams")


def finite(text: str) -> float:
    """An argparse type: a finite number (``nan`` and ``inf`` are refused with the option's name)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse, reading ``-1e-3`` and ``-.5e2`` as negative numbers (its default reads ``-1.5`` only)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = _NEGATIVE_NUMBER


_NEGATIVE_NUMBER = re.compile(r"^-(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$")


EPILOG = """\
output:
  CSV on standard output (or --out FILE), with '#' lines above the table naming
  the model, its identity digest, the parameters and the units; read it with
  pandas.read_csv(FILE, comment="#"). Units of the features: k (bulk modulus)
  GPa, vm (molar volume) cm3/mol, tm (melting point) K, vac (valence-electron
  concentration) electrons per atom, delta (size mismatch) %, delta_chi
  (electronegativity difference, Pauling scale) dimensionless, delta_s_mix J/(mol K),
  delta_h_mix kJ/mol; compositions and distances in at.%. spread is NA for a
  single model (no members to disagree).

exit status:
  0 success, 2 bad input (nothing written), 1 other errors,
  128 + signal number when interrupted (Ctrl-C, SIGTERM, SIGHUP).

environment:
  HEA_DVAE_DATA_DIR   folder holding the authors' data files (no download when
                      they match their SHA-256 digests; use it offline)
  HEA_DVAE_DATA_URL   mirror to download the data files from
  HEA_DVAE_CACHE_DIR  folder of trained models (default data/models in a
                      checkout, else ~/.cache/hea-dvae/models)
  HEA_DVAE_PROGRESS   0 hides progress bars
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; one subparser per subcommand."""
    parser = _Parser(
        prog="hea-dvae",
        description="Semi-supervised VAE for high-entropy alloys (Zeng, Khan & Post).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_fetch_and_train(commands)
    _add_predict(commands)
    _add_design(commands)
    return parser


def _add_fetch_and_train(commands) -> None:
    from .config import DATA_FILES, UPSTREAM_COMMIT, UPSTREAM_REPOSITORY

    fetch = commands.add_parser(
        "fetch", help="download (or verify) the pinned upstream data files; see HEA_DVAE_DATA_DIR",
        description=f"Download the authors' data files from {UPSTREAM_REPOSITORY} at commit "
        f"{UPSTREAM_COMMIT[:12]} into the data folder, or verify the copies there (SHA-256). "
        f"The files: {', '.join(DATA_FILES)}. Offline, put them in a folder and point "
        "HEA_DVAE_DATA_DIR at it.",
    )
    fetch.add_argument("files", nargs="*", metavar="FILE", help="file names (default: all)")
    fetch.set_defaults(handler=_cmd_fetch)

    train = commands.add_parser("train", help="train on the paper split (with your results: --data) and save a "
                                "checkpoint")
    train.add_argument("--out", required=True, type=Path,
                       help="checkpoint folder to write: new or empty (a folder holding other files is refused)")
    train.add_argument("--force", action="store_true", help="replace a checkpoint already in --out")
    train.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default 42)")
    train.add_argument("--epochs", type=int, help="maximum number of epochs")
    train.add_argument("--patience", type=int, help="early-stopping patience in epochs")
    train.add_argument("--lr", type=finite, help="Adam learning rate")
    train.add_argument("--alpha", type=finite, help="weight of the supervised classification loss")
    train.add_argument("--z-dim", type=int, help="latent dimension")
    train.add_argument("--table", choices=TABLES, default="paper",
                       help="element table of the features: paper (the paper's), corrected (its VEC "
                       "corrected) or standard (metallic radii, Takeuchi-Inoue enthalpies) (default: paper)")
    train.add_argument("--prior", default="flat",
                       help="p(y=1) of the unlabelled alloys: 'flat' (0.5, the paper's), 'expert' "
                       "(the empirical rules, fitted on the labelled alloys; see hea_dvae.priors), "
                       "'expert-literature', or a number in (0, 1) (default: flat)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("--data", metavar="FILE",
                       help="your results: a CSV with the columns formula, single_phase (1 or 0) and optionally "
                       "source; its alloys join the labelled part of the paper split (your label replaces the "
                       "dataset's for an alloy it holds). Every line is checked first: a file with errors "
                       "trains nothing. The model is cached under a key that holds the data's digest")
    train.add_argument("--only", action="store_true",
                       help="with --data: train on your alloys alone, selected on a stratified fifth of them "
                       "held out (the paper's validation alloys would select for the literature's alloys); "
                       "the paper's unlabelled alloys stay unlabelled; needs at least 10 alloys of each label")
    train.add_argument("--scheduler", metavar="ADDRESS",
                       help="train as a task on this Dask scheduler, e.g. tcp://host:8786 (the same model)")
    train.set_defaults(handler=_cmd_train)


def _add_predict(commands) -> None:
    predict = commands.add_parser(
        "predict", help="single-phase probability, its spread and the features of formulas, as CSV",
        description="Single-phase probability (p_single_phase), the spread of the model's members "
        "(spread: the trees of the default forest, the seeds of an SSVAE ensemble) and the model's inputs "
        "(the forest's 31 descriptors, an SSVAE's 8 features) of each formula, as CSV on standard output. "
        "The default is the forest on 31 descriptors, the model with the highest mean AUC on alloy systems "
        "held out of training (chapter 7); --model ssvae gives the SSVAE ensemble the design routes use.",
    )
    predict.add_argument("formulas", nargs="*", metavar="FORMULA", help="e.g. CoCrFeNi or Al0.5CoCrFeNi")
    predict.add_argument(
        "--input", metavar="FILE",
        help="read formulas from FILE: a CSV file (its 'formula' column, else its first column) "
        "or one formula per line; '-' reads standard input",
    )
    _model_option(predict)
    predict.set_defaults(handler=_cmd_predict)


def _add_design(commands) -> None:
    design = commands.add_parser(
        "design", help="inverse design: screen, decode the latent space, invert alloys",
        description="Candidate alloys predicted to form a single phase, with evidence "
        "(ensemble spread, empirical rules, nearest dataset alloys, out-of-data flags) and, "
        "with --batch-grams, a recipe. Output is CSV (standard output, or --out FILE) whose "
        "first lines, starting with '#', name the model and the parameters; read it with "
        "pandas.read_csv(FILE, comment='#').",
    )
    routes = design.add_subparsers(dest="route", metavar="ROUTE")

    screen = routes.add_parser(
        "screen", help="score every alloy of a grid and keep the best (ranked by p_single_phase)",
        description="Enumerate alloys of K elements from the pool (equimolar, or every "
        "composition on a --step grid within the fraction bounds), score them all and print the "
        "--top best, highest p_single_phase first, with their evidence.",
    )
    screen.add_argument("--k", nargs="+", type=int, metavar="K",
                        help="numbers of elements per alloy, e.g. --k 4 5 (or n_elements in --constraints FILE)")
    screen.add_argument("--top", type=int, default=20, help="alloys kept (default 20)")
    screen.add_argument("--workers", type=int, metavar="N",
                        help="parallel workers (default: every core for spaces of 2 million alloys or more, "
                        "else 1); with --backend dask, the worker processes of a local Dask cluster")
    screen.add_argument("--backend", choices=("auto", "threads", "processes", "dask"), default="auto",
                        help="how --workers run: threads of this process (auto), worker processes, or a "
                        "local Dask cluster (dask); results are the same")
    screen.add_argument("--scheduler", metavar="ADDRESS",
                        help="run the batches as tasks on this Dask scheduler, e.g. tcp://host:8786")
    screen.add_argument("--resume", metavar="FILE",
                        help="progress file, saved every 30 s and on interruption; rerun the same command "
                        "to continue from it (a file of another screen is refused)")
    _constraint_options(screen, screen=True)
    _design_output_options(screen)
    screen.set_defaults(handler=_cmd_design_screen)

    latent = routes.add_parser(
        "latent", help="decode latent vectors z with labels y and score the alloys",
        description="Decode z with the label y through p(x|y,z) of the model's first member, "
        "round to whole at.% (or onto the constraints) and score with the whole model.",
    )
    latent.add_argument("--z", nargs="+", type=finite, required=True, metavar="Z",
                        help="latent vector(s), z_dim numbers each, e.g. --z 0 -0.8")
    latent.add_argument("--y", nargs="+", type=finite, default=[0.9], metavar="Y",
                        help="label(s) fed to the decoder, in [0, 1] (default 0.9)")
    _constraint_options(latent)
    _design_output_options(latent)
    latent.set_defaults(handler=_cmd_design_latent)

    invert = routes.add_parser(
        "invert", help="move alloys toward a target single-phase probability",
        description="From seed alloys, either the paper's label-flip loop (--method flip: "
        "encode with the predicted probability p, decode with 1 - p, round, repeat) or "
        "gradient inversion through the featurizer and classifier (--method gradient), "
        "within the constraints.",
    )
    invert.add_argument("--seed", nargs="+", required=True, metavar="FORMULA", help="starting alloy(s)")
    invert.add_argument("--target", type=finite, default=0.9, help="target p(single phase), in (0, 1) (default 0.9)")
    invert.add_argument("--method", choices=("flip", "gradient"), default="gradient",
                        help="flip (the paper's loop) or gradient (default)")
    invert.add_argument("--max-steps", type=int, default=10, help="flip: most decoding steps (default 10)")
    invert.add_argument("--label", choices=("probability", "hard"), default="probability",
                        help="flip: the encoder sees the probability (the paper) or the hard label")
    invert.add_argument("--distance-weight", type=finite, default=0.3,
                        help="gradient: price of moving away from the seed (default 0.3)")
    invert.add_argument("--steps", type=int, default=300, help="gradient: optimisation steps (default 300)")
    invert.add_argument("--trajectory", metavar="FILE", help="also write every step to FILE (CSV)")
    _constraint_options(invert)
    _design_output_options(invert)
    invert.set_defaults(handler=_cmd_design_invert)
    _add_design_next(routes)
    design.set_defaults(handler=None, parser=design)


def _add_design_next(routes) -> None:
    proposals = routes.add_parser(
        "next", help="propose a diverse batch of alloys to make next (acquisition over the ensemble)",
        description="Score every alloy of the constrained space (as design screen enumerates it), value each by "
        "an acquisition strategy, leave out the alloys already known (the dataset; your results with --data, or "
        "those a --model DIR was trained on), and keep the most valuable ones that are at least --min-distance "
        "at.% apart and, unless --same-system, of different element sets. The default strategy, balanced, is an "
        "upper confidence bound over the ensemble, p + spread: a likely single phase, or a plausible one the "
        "members disagree on, so each alloy cast is either a find or teaches the model where it is least sure "
        "(greedy only exploits what the model believes, uncertain only explores). One checkpoint (--model DIR) "
        "has no spread: balanced is then greedy. Each row says why it was "
        "chosen (why) and carries the evidence columns and, with --batch-grams, the recipe of design screen.",
    )
    proposals.add_argument("--n", type=int, default=8, help="alloys to propose (default 8)")
    proposals.add_argument("--strategy", choices=STRATEGIES, default="balanced",
                           help="balanced: highest p + spread (default); greedy: highest p; uncertain: largest "
                           "spread (one model: p nearest 0.5); random: a seeded random draw, the baseline")
    proposals.add_argument("--min-distance", type=finite, default=DEFAULT_MIN_DISTANCE, metavar="AT%",
                           help="least distance between two proposals, at.%% of material moved "
                           f"(default {DEFAULT_MIN_DISTANCE:g})")
    proposals.add_argument("--same-system", action="store_true",
                           help="allow two proposals of one element set")
    proposals.add_argument("--kappa", type=finite, default=1.0,
                           help="balanced: weight of the spread (default 1)")
    proposals.add_argument("--seed", type=int, default=0, help="random: seed of the draw (default 0)")
    proposals.add_argument("--data", metavar="FILE",
                           help="your results (as for train --data): their alloys are known, never proposed, "
                           "and count as data in the evidence columns")
    proposals.add_argument("--k", nargs="+", type=int, metavar="K",
                           help="numbers of elements per alloy, e.g. --k 4 5 (or n_elements in --constraints FILE)")
    _constraint_options(proposals, screen=True)
    _design_output_options(proposals)
    proposals.set_defaults(handler=_cmd_design_next)


class Interrupted(KeyboardInterrupt):
    """A termination signal (SIGTERM, SIGHUP), raised like Ctrl-C so that work in progress is saved."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _raise_interrupted(signum, frame) -> None:
    raise Interrupted(signum)


@contextmanager
def _signals_interrupt():
    """Within the block, SIGTERM and SIGHUP stop the command as Ctrl-C does (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _raise_interrupted) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _interrupted_message(args: argparse.Namespace, error: KeyboardInterrupt) -> str:
    name = signal.Signals(error.signum).name if isinstance(error, Interrupted) else "Ctrl-C"
    resume = getattr(args, "resume", None)
    if resume is not None and Path(resume).is_file():
        return (f"interrupted ({name}); progress saved to {resume}: rerun the same command to continue "
                "where it stopped")
    if getattr(args, "route", None) == "screen":
        return f"interrupted ({name}); nothing saved (give --resume FILE to make a long screen resumable)"
    return f"interrupted ({name}); nothing was written"


def main(argv=None) -> int:
    """Entry point of the ``hea-dvae`` console script; returns the exit status.

    0 on success, 2 for bad input (a formula, an element, a parameter, a
    file), 1 for any other error, 128 + the signal number when interrupted
    (Ctrl-C, SIGTERM, SIGHUP; a resumable screen saves its state first); the
    message goes to standard error.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        (getattr(args, "parser", None) or parser).print_help(sys.stderr)
        return EXIT_BAD_INPUT
    try:
        with _signals_interrupt():
            return args.handler(args)
    except BadInput as error:
        for line in str(error).splitlines():
            _error(line)
        return EXIT_BAD_INPUT
    except Failure as error:
        _error(str(error))
        return EXIT_ERROR
    except (ValueError, TypeError) as error:
        # Raised while checking what the user gave (constraints, grids, formulas).
        _error(str(error))
        return EXIT_BAD_INPUT
    except KeyboardInterrupt as error:
        _error(_interrupted_message(args, error))
        return 128 + (error.signum if isinstance(error, Interrupted) else signal.SIGINT)
    except Exception as error:  # noqa: BLE001 - a command line reports, it does not crash
        from .upstream import DataUnavailableError

        # Our own errors say what to do; anything else is named by its type.
        _error(str(error) if isinstance(error, DataUnavailableError) else f"{type(error).__name__}: {error}")
        return EXIT_ERROR
