"""Your own results: alloys you made, checked line by line, compared with the paper's data, trained on.

A results file is CSV whose header line names the columns ``formula`` and
``single_phase`` (1: one solid-solution phase, 0: not), and optionally
``source``; other columns are ignored, and so are blank lines and lines
starting with ``#`` (the conventions of every input file,
:func:`hea_dvae.files.read_input_lines`)::

    formula,single_phase,source
    CoCrFeNi,1,arc melted 2024-05 (XRD: FCC)
    Al0.5CoCrFeNi,1,
    AlCoCrFeNiTi0.5,0,XRD 12

:func:`read_results` checks every line before anything else happens: a
formula that cannot be read (:func:`hea_dvae.compositions.composition_vector`
says why), an element outside the 30 the model knows, a label other than 0
or 1, a file without alloys or without one of the two columns, and the same
alloy on two lines with two labels are each an error naming the line(s);
all of them are reported at once, in a :class:`ResultsError`. Two lines are
the same alloy when their compositions are within
:data:`~hea_dvae.compositions.SAME_ALLOY_AT_PCT` at.% (``CoCrFeNi`` and
``Co25Cr25Fe25Ni25`` are one alloy); the same alloy twice with one label
counts once. Alloys already in the paper's dataset are reported, and those
whose label there differs from yours are listed (:attr:`Results.conflicts`).

:func:`results_split` adds your alloys to the labelled part of the paper's
split (your label replaces the dataset's, wherever the dataset held the
alloy), or with ``only=True`` trains on them alone; :func:`train_on_results`
trains one model on it through the model cache (:func:`hea_dvae.zoo.cached_fit`),
whose key holds a digest of the labelled, unlabelled and validation arrays,
so other results are another model.
"""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from . import config
from .compositions import SAME_ALLOY_AT_PCT, composition_distance, composition_vector, quoted
from .data import load_dataset, paper_split, split_with_table
from .elements import ELEMENTS, FEATURES
from .features import featurize
from .files import InputError, read_input_lines

#: The columns of a results file: the formula, its label, and where it comes from (optional).
FORMULA, LABEL, SOURCE = "formula", "single_phase", "source"

#: What a label may be written as.
LABEL_VALUES = {"0": 0, "1": 1, "0.0": 0, "1.0": 1}

#: The dataset's column layout (:func:`hea_dvae.data.load_dataset`), which :attr:`Results.alloys` follows.
DATASET_COLUMNS = ("formula", *ELEMENTS, *FEATURES, "label")

#: Name of the copy of the results a checkpoint trained on them holds (see ``hea-dvae train --data``).
RESULTS_FILE = "results.csv"

#: Share of each label held out to select the model when training on your results alone.
VALIDATION_SHARE = 0.2

#: Fewest alloys of each label for training on your results alone: a fifth of
#: ten is two alloys of each label to select the model on, the least that
#: gives a ROC AUC more than one pair deep.
MIN_PER_LABEL_ALONE = 10

#: Problems listed in one error message; the rest are counted.
MAX_REPORTED = 25


class ResultsError(ValueError):
    """A results file with errors; the message names every line at fault, one per line."""


@dataclass(frozen=True)
class Results:
    """A checked results file.

    Attributes
    ----------
    alloys : DataFrame
        One row per alloy, in the dataset's column layout (:data:`DATASET_COLUMNS`:
        ``formula`` as written, the 30 fractions, the 8 features of the
        ``paper`` element table, ``label``) followed by ``source`` and
        ``origin`` (e.g. ``"results.csv line 3"``).
    in_dataset : DataFrame
        Your alloys that the paper's dataset holds already, one row per
        pair: ``origin``, ``formula``, ``single_phase`` (yours),
        ``dataset_formula``, ``dataset_label``, ``part`` (of the paper's
        split: labelled, unlabelled, validation or test) and ``distance``
        (at.%).
    repeats : tuple of (int, int)
        Lines that repeat an earlier line's alloy with the same label
        (counted once): (this line's number, the earlier line's).
    name : str
        The file, as given.
    sha256 : str
        SHA-256 of the file's text.
    """

    alloys: pd.DataFrame
    in_dataset: pd.DataFrame
    repeats: tuple
    name: str
    sha256: str

    @property
    def conflicts(self) -> pd.DataFrame:
        """The rows of :attr:`in_dataset` where the dataset's label differs from yours."""
        return self.in_dataset[self.in_dataset["single_phase"] != self.in_dataset["dataset_label"]]

    def describe(self) -> list[str]:
        """What was read, in a few lines (for the command line)."""
        labels = self.alloys["label"]
        lines = [f"{self.name}: {len(labels)} alloys ({int(labels.sum())} single phase, "
                 f"{int((labels == 0).sum())} not)"]
        if self.repeats:
            shown = ", ".join(f"line {line} repeats line {first}" for line, first in self.repeats[:5])
            more = f" and {len(self.repeats) - 5} more" if len(self.repeats) > 5 else ""
            lines.append(f"{_count(len(self.repeats), 'line')} with an alloy and label already given, counted "
                         f"once: {shown}{more}")
        known = self.in_dataset.drop_duplicates("origin")
        if len(known):
            parts = ", ".join(f"{n} {part}" for part, n in known["part"].value_counts().items())
            conflicts = self.conflicts
            lines.append(f"{_count(len(known), 'alloy')} of yours in the paper's dataset ({parts}): your label "
                         f"replaces the dataset's; {_count(len(conflicts), 'conflicting label')}"
                         + (":" if len(conflicts) else ""))
            for row in conflicts.itertuples():
                lines.append(f"  {row.origin}: {row.formula} single_phase={row.single_phase}; dataset: "
                             f"{row.dataset_formula} label {row.dataset_label} ({row.part} part)")
        return lines

    def provenance(self) -> dict:
        """Plain values saying which results these are (for a checkpoint's ``extra``)."""
        return {"file": self.name, "sha256": self.sha256, "alloys": int(len(self.alloys)),
                "single_phase": int(self.alloys["label"].sum()),
                "in_dataset": int(self.in_dataset["origin"].nunique()),
                "conflicts": int(len(self.conflicts))}

    def to_csv(self) -> str:
        """The alloys as a results file (``formula,single_phase,source``), e.g. to keep beside a model."""
        frame = self.alloys[["formula", "label", SOURCE]].rename(columns={"label": LABEL})
        return frame.to_csv(index=False, lineterminator="\n")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _header(name: str, number: int, line: str) -> dict[str, int]:
    """Column name -> position, from the header line; a ResultsError if a required column is missing."""
    names = [cell.strip().lower() for cell in next(csv.reader([line]))]
    missing = [column for column in (FORMULA, LABEL) if column not in names]
    if missing:
        hint = ""
        if "label" in names and LABEL in missing:
            hint = f" (rename the column 'label' to '{LABEL}')"
        raise ResultsError(
            f"{name} line {number}: the header must name the columns '{FORMULA}' and '{LABEL}' "
            f"(and optionally '{SOURCE}'); it lacks {' and '.join(repr(m) for m in missing)}{hint}: "
            f"{quoted(line)}")
    return {column: names.index(column) for column in (FORMULA, LABEL, SOURCE) if column in names}


class _Row(NamedTuple):
    """One good line of a results file."""

    number: int
    origin: str
    formula: str
    x: np.ndarray
    label: int
    source: str


def _cell(cells: list[str], position: int | None) -> str:
    return cells[position].strip() if position is not None and position < len(cells) else ""


def _close_pairs(a: np.ndarray, b: np.ndarray, threshold: float, chunk: int = 2048):
    """(i, j, distance) of every row i of ``a`` and j of ``b`` within ``threshold`` at.%, a chunk of ``a`` at a time."""
    for begin in range(0, len(a), chunk):
        distances = composition_distance(a[begin:begin + chunk], b)
        for i, j in zip(*np.nonzero(distances <= threshold)):
            yield begin + int(i), int(j), float(distances[i, j])


def _raise_all(problems: list[tuple[int, str]]) -> None:
    """Raise a ResultsError of every (line number, message), in the order of the lines."""
    if problems:
        shown = [message for _, message in sorted(problems, key=lambda item: item[0])][:MAX_REPORTED]
        if len(problems) > MAX_REPORTED:
            shown.append(f"... and {len(problems) - MAX_REPORTED} more problems")
        raise ResultsError("\n".join(shown))


def read_results(source: str | os.PathLike) -> Results:
    """Read and check a results file (see the module docstring); nothing is returned from a file with errors.

    Parameters
    ----------
    source : path-like
        A CSV file with the columns ``formula`` and ``single_phase`` (0/1),
        optionally ``source``; ``"-"`` reads standard input.

    Returns
    -------
    Results

    Raises
    ------
    ResultsError
        An unreadable or empty file, a missing column, or any line with
        errors: every problem, one per line of the message, each naming its
        line (``results.csv line 7: ...``).
    """
    try:
        name, text, numbered = read_input_lines(source)
    except InputError as error:
        raise ResultsError(str(error)) from None
    if not numbered:
        raise ResultsError(f"{name} holds no alloy: give a CSV file whose first line is the header "
                           f"'{FORMULA},{LABEL},{SOURCE}', then one alloy per line")
    columns = _header(name, *numbered[0])
    if len(numbered) == 1:
        raise ResultsError(f"{name} holds no alloy: it has a header line and nothing else")

    rows: list[_Row] = []
    problems: list[tuple[int, str]] = []
    for number, line in numbered[1:]:
        origin = f"{name} line {number}"
        cells = next(csv.reader([line]))
        formula, label_text = _cell(cells, columns[FORMULA]), _cell(cells, columns[LABEL])
        found = []
        try:
            x = composition_vector(formula)
        except ValueError as error:
            message = str(error)
            if formula and quoted(formula) not in message:
                message = f"invalid formula {quoted(formula)}: {message}"
            found.append(message)
        label = LABEL_VALUES.get(label_text)
        if label is None:
            found.append(f"{LABEL} must be 1 (single phase) or 0 (not), got "
                         + (quoted(label_text) if label_text else "nothing"))
        if found:
            problems.extend((number, f"{origin}: {message}") for message in found)
        else:
            rows.append(_Row(number, origin, formula, x, label, _cell(cells, columns.get(SOURCE))))
    if not rows:
        _raise_all(problems)

    # The same alloy twice: counted once if the labels agree, an error if not.
    x = np.stack([row.x for row in rows])
    repeat_of: dict[int, int] = {}
    for i, j, distance in _close_pairs(x, x, SAME_ALLOY_AT_PCT):
        if i >= j or j in repeat_of:
            continue
        first, later = rows[i], rows[j]
        if first.label != later.label:
            problems.append((first.number, f"{name} lines {first.number} and {later.number}: "
                             f"{quoted(first.formula)} and {quoted(later.formula)} are the same alloy "
                             f"({distance:.2f} at.% apart) with two labels, {first.label} and {later.label}: "
                             "keep the one you trust"))
        repeat_of[j] = i
    _raise_all(problems)
    kept = [row for i, row in enumerate(rows) if i not in repeat_of]
    repeats = tuple((rows[j].number, rows[i].number) for j, i in sorted(repeat_of.items()))

    x = np.stack([row.x for row in kept])
    alloys = pd.DataFrame(x, columns=list(ELEMENTS))
    alloys.insert(0, "formula", [row.formula for row in kept])
    alloys[list(FEATURES)] = np.asarray(featurize(x, table="paper"))
    alloys["label"] = np.array([row.label for row in kept], dtype=int)
    alloys[SOURCE] = [row.source for row in kept]
    alloys["origin"] = [row.origin for row in kept]
    return Results(alloys, _in_dataset(alloys), repeats, name, hashlib.sha256(text.encode("utf-8")).hexdigest())


def _in_dataset(alloys: pd.DataFrame) -> pd.DataFrame:
    """Pairs of one of ``alloys`` and a dataset alloy within :data:`SAME_ALLOY_AT_PCT`, with its part of the paper split."""
    data = load_dataset()
    part_of = {formula: part for part, frame in paper_split(data).items() for formula in frame["formula"]}
    x = alloys[list(ELEMENTS)].to_numpy(dtype=float)
    pairs = list(_close_pairs(x, data[list(ELEMENTS)].to_numpy(dtype=float), SAME_ALLOY_AT_PCT))
    rows = [{"origin": alloys["origin"].iat[i], "formula": alloys["formula"].iat[i],
             "single_phase": int(alloys["label"].iat[i]), "dataset_formula": data["formula"].iat[j],
             "dataset_label": int(data["label"].iat[j]), "part": part_of[data["formula"].iat[j]],
             "distance": distance} for i, j, distance in pairs]
    columns = ["origin", "formula", "single_phase", "dataset_formula", "dataset_label", "part", "distance"]
    return pd.DataFrame(rows, columns=columns)


def results_split(results: Results, only: bool = False, split: dict | None = None) -> dict[str, pd.DataFrame]:
    """The paper's split with your alloys labelled (or your alloys alone), in the dataset's layout.

    Every dataset alloy you measured (:attr:`Results.in_dataset`) leaves the
    part of the split it was in: your row, with your label, takes its
    place among the labelled alloys. Its features are those of the paper
    table, as the dataset's; :func:`hea_dvae.data.split_with_table`
    recomputes them for another table.

    Parameters
    ----------
    results : Results
    only : bool
        False: labelled = the paper's labelled alloys plus yours; the
        unlabelled, validation and test parts are the paper's (so the model
        is selected as the paper's is, and its scores compare with it).
        True: your alloys alone are labelled. A stratified
        :data:`VALIDATION_SHARE` of each of your labels (seed
        :data:`hea_dvae.config.PAPER_SEED`) is held out to select the model:
        the paper's validation alloys would pick the model that best
        predicts the literature's alloys, not yours. The unlabelled part is
        still the paper's (compositions only, never their labels: the
        semi-supervised model is meant to see them); there is no test part.
    split : dict, optional
        The split to start from; default :func:`hea_dvae.data.paper_split`.

    Raises
    ------
    ResultsError
        ``only`` with fewer than :data:`MIN_PER_LABEL_ALONE` alloys of either label.
    """
    split = paper_split() if split is None else split
    measured = set(results.in_dataset["dataset_formula"])
    parts = {name: frame[~frame["formula"].isin(measured)] for name, frame in split.items()}
    mine = results.alloys[list(DATASET_COLUMNS)]
    if not only:
        parts["labelled"] = pd.concat([parts["labelled"], mine], ignore_index=True)
        return parts
    counts = mine["label"].value_counts()
    single, multi = int(counts.get(1, 0)), int(counts.get(0, 0))
    if min(single, multi) < MIN_PER_LABEL_ALONE:
        raise ResultsError(
            f"training on your results alone (--only) needs at least {MIN_PER_LABEL_ALONE} alloys of each label "
            f"(a fifth of each is held out to select the model); {results.name} has {single} single-phase and "
            f"{multi} other alloys: add them to the paper's data instead (leave out --only)")
    from sklearn.model_selection import train_test_split  # heavy: imported where it splits

    labelled, validation = train_test_split(mine, test_size=VALIDATION_SHARE, stratify=mine["label"],
                                            random_state=config.PAPER_SEED)
    return {"labelled": labelled, "unlabelled": parts["unlabelled"], "validation": validation,
            "test": mine.iloc[:0]}


def train_on_results(results, only: bool = False, train_config=None, seed: int = 42,
                     progress: bool | None = None, scheduler=None):
    """Train one model on the paper's data with your results added (or on them alone); cached.

    The model is :func:`hea_dvae.zoo.cached_fit` on :func:`results_split`:
    trained once, then loaded from the model cache. The cache key holds a
    digest of the labelled, unlabelled and validation arrays (compositions,
    features and labels), so other results, or one label changed, are
    another model, and the same file trains nothing twice. Save the model
    with :func:`hea_dvae.checkpoint.save` to score and design with it
    (``--model DIR``).

    Parameters
    ----------
    results : Results or path-like
        Checked results (:func:`read_results`) or the path of a results file.
    only : bool
        Train on your alloys alone (see :func:`results_split` for the validation set).
    train_config : TrainConfig, optional
        The recipe (default :class:`hea_dvae.train.TrainConfig`); its
        element table computes the features.
    seed : int
        Seed of the training run (42, as ``hea-dvae train``).
    progress : bool, optional
        A progress bar over the epochs.
    scheduler : str or distributed.Client, optional
        Train the run as a task of this Dask cluster (see
        :func:`hea_dvae.zoo.train_missing`); the model is stored in the
        local cache all the same.

    Returns
    -------
    model : SSVAE
    history : DataFrame
    split : dict
        The parts trained, selected and (without ``only``) tested on.

    Raises
    ------
    ResultsError
        A results file with errors (nothing is trained), or ``only`` with too few alloys.

    Examples
    --------
    >>> from hea_dvae import checkpoint, userdata
    >>> results = userdata.read_results("results.csv")         # doctest: +SKIP
    >>> model, history, split = userdata.train_on_results(results)  # doctest: +SKIP
    >>> checkpoint.save(model, "models/with-my-results")        # doctest: +SKIP
    """
    from .train import TrainConfig
    from .zoo import cached_fit

    results = results if isinstance(results, Results) else read_results(results)
    train_config = train_config or TrainConfig()
    split = split_with_table(results_split(results, only), train_config.model.table)
    job = (split["labelled"], split["unlabelled"], split["validation"], train_config, seed)
    if scheduler is not None:
        from .zoo import train_missing

        train_missing([job], progress=progress, scheduler=scheduler)
    model, history = cached_fit(*job, progress=progress)
    return model, history, split
