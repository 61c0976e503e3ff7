"""The tidy dataset, its splits, and arrays for training.

The files are read through :mod:`hea_dvae.upstream` (pinned, checksummed).

The tidy dataset has one row per unique alloy (1,373): ``formula``, the 30
atomic fractions (:data:`hea_dvae.features.ELEMENTS`), the 8 engineered
features as published (:data:`hea_dvae.features.FEATURES`) and ``label``
(1 = single phase).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping

import numpy as np
import pandas as pd

from . import config
from .checks import integer, number
from .elements import TABLES
from .features import ELEMENTS, FEATURES, featurize
from .upstream import (  # noqa: F401  (re-exported for callers of the data layer)
    DataIntegrityError,
    fetch,
    fetch_all,
    load_pickle,
    read_upstream_tables,
    safe_unpickle,
    sha256,
)

SPLIT_NAMES = ("labelled", "unlabelled", "validation", "test")

#: Tolerance on the sum of each alloy's fractions.
FRACTION_TOLERANCE = 1e-6


class DataValidationError(ValueError):
    """Loaded data break an invariant the rest of the package relies on."""


def _read_csv(name: str) -> pd.DataFrame:
    return pd.read_csv(fetch(name), comment="#")


@lru_cache(maxsize=1)
def _load_dataset_cached() -> pd.DataFrame:
    compositions = _read_csv("HEA_top30_comps.csv")
    engineered = _read_csv("HEA_feature_engineered.csv")
    _require_columns(compositions, ["Alloys", "Class", *ELEMENTS], "HEA_top30_comps.csv")
    _require_columns(engineered, ["Alloys", *FEATURES], "HEA_feature_engineered.csv")
    # Same order of operations as the authors' train.py, so that row order,
    # and hence the seeded split, is identical.
    compositions = compositions.drop_duplicates(subset="Alloys", keep="first")
    engineered = engineered.drop_duplicates(subset="Alloys", keep="first")
    merged = pd.merge(
        compositions, engineered.drop(columns="Class"), on="Alloys", how="inner"
    )
    data = merged.rename(columns={"Alloys": "formula", "Class": "label"})
    data = data[["formula", *ELEMENTS, *FEATURES, "label"]]
    validate_dataset(data)
    data["label"] = data["label"].astype(int)
    return data


def load_dataset() -> pd.DataFrame:
    """The tidy dataset: one row per unique alloy.

    Columns: ``formula``, the 30 fractions in :data:`ELEMENTS` order, the 8
    published features in :data:`FEATURES` order, and ``label`` (int, 1 =
    single phase). Rows keep the authors' order (which the seeded split
    depends on). A fresh copy is returned on every call.
    """
    return _load_dataset_cached().copy()


def _require_columns(frame: pd.DataFrame, columns, source: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataValidationError(f"{source} lacks the columns {missing}")


def validate_dataset(data: pd.DataFrame) -> None:
    """Check the invariants of a tidy dataset and say precisely what is wrong.

    Fractions non-negative and summing to 1 within :data:`FRACTION_TOLERANCE`,
    no missing values, labels in {0, 1}, formulas unique.
    """
    _require_columns(data, ["formula", *ELEMENTS, *FEATURES, "label"], "dataset")
    missing = data[["formula", *ELEMENTS, *FEATURES, "label"]].isna()
    if missing.to_numpy().any():
        rows, cols = np.nonzero(missing.to_numpy())
        first = [f"{data['formula'].iloc[r]}:{missing.columns[c]}" for r, c in zip(rows[:5], cols[:5])]
        raise DataValidationError(
            f"{len(rows)} missing values in the dataset, first: {', '.join(first)}"
        )
    fractions = data[list(ELEMENTS)].to_numpy(dtype=float)
    negative = (fractions < 0).any(axis=1)
    if negative.any():
        bad = data["formula"][negative].tolist()[:5]
        raise DataValidationError(f"{negative.sum()} alloys have negative fractions, e.g. {bad}")
    sums = fractions.sum(axis=1)
    off = np.abs(sums - 1) > FRACTION_TOLERANCE
    if off.any():
        bad = [f"{f} (sum {s:.6g})" for f, s in zip(data["formula"][off][:5], sums[off][:5])]
        raise DataValidationError(
            f"{off.sum()} alloys have fractions that do not sum to 1 within "
            f"{FRACTION_TOLERANCE:g}, e.g. {', '.join(bad)}"
        )
    labels = set(np.unique(data["label"].to_numpy()).tolist())
    if not labels <= {0, 1}:
        raise DataValidationError(f"labels must be 0 or 1, found {sorted(labels - {0, 1})}")
    duplicated = data["formula"].duplicated()
    if duplicated.any():
        raise DataValidationError(
            f"duplicate formulas: {data['formula'][duplicated].tolist()[:5]}"
        )


#: Labelled share of the authors' splits, by row of the paper's Table 2:
#: 864 / 296 / 75 and 247 / 790 / 198 labelled / unlabelled / validation.
TABLE2_LABELLED_SHARES = {1: 0.7, 2: 0.2}


def paper_split(data: pd.DataFrame | None = None, labelled_share: float = 0.7) -> dict[str, pd.DataFrame]:
    """The authors' split, reproduced exactly.

    Chained ``train_test_split(random_state=42)``: 10 % test, then 30 % of the
    rest unlabelled, then 20 % of that validation. On the full dataset:
    864 labelled, 296 unlabelled, 75 validation, 138 test.

    Parameters
    ----------
    data : DataFrame, optional
        The tidy dataset (default :func:`load_dataset`).
    labelled_share : float
        Share of the non-test alloys that keeps its label, in (0, 1); the
        second split holds out ``1 - labelled_share``. The default 0.7 is the
        split above; 0.2 gives the second row of the paper's Table 2 (247
        labelled, 790 unlabelled, 198 validation, the same 138 test alloys),
        see :data:`TABLE2_LABELLED_SHARES`.

    Returns
    -------
    dict
        ``labelled``, ``unlabelled``, ``validation``, ``test`` -> DataFrame.
        The ``unlabelled`` frame keeps its ``label`` column for evaluation;
        training must not read it.
    """
    number("labelled_share", labelled_share, 0, 1, low_open=True, high_open=True)
    from sklearn.model_selection import train_test_split  # heavy: imported where it splits

    data = load_dataset() if data is None else data
    seed = config.PAPER_SEED
    # The authors passed the held-out share (0.3); rounding keeps 1 - 0.7 from
    # becoming 0.30000000000000004, which could move a boundary alloy.
    held_out = round(1.0 - float(labelled_share), 12)
    pool, test = train_test_split(data, test_size=0.1, random_state=seed)
    labelled, rest = train_test_split(pool, test_size=held_out, random_state=seed)
    unlabelled, validation = train_test_split(rest, test_size=0.2, random_state=seed)
    return dict(zip(SPLIT_NAMES, (labelled, unlabelled, validation, test)))


def labelled_fraction_split(
    fraction: float, seed: int = 0, data: pd.DataFrame | None = None
) -> dict[str, pd.DataFrame]:
    """Paper test and validation sets, with only ``fraction`` of the pool labelled.

    The training pool is the paper's labelled plus unlabelled alloys (1,160 on
    the full dataset). A stratified, seeded draw of ``fraction`` of it is
    labelled; the rest is unlabelled. Validation and test are the paper's.

    Parameters
    ----------
    fraction : float
        Share of the training pool that keeps its label, in (0, 1].
    seed : int
        Seed of the stratified draw.
    """
    number("fraction", fraction, 0, 1, low_open=True)
    from sklearn.model_selection import train_test_split

    split = paper_split(data)
    pool = pd.concat([split["labelled"], split["unlabelled"]])
    n_labelled = int(round(fraction * len(pool)))
    if n_labelled < 2:
        raise ValueError(
            f"fraction {fraction} labels only {n_labelled} of {len(pool)} alloys; "
            "at least 2 are needed"
        )
    if n_labelled == len(pool):
        labelled, unlabelled = pool, pool.iloc[:0]
    else:
        # Stratifying needs room for every class on both sides of the draw.
        n_classes = pool["label"].nunique()
        stratify = pool["label"] if len(pool) - n_labelled >= n_classes else None
        labelled, unlabelled = train_test_split(
            pool, train_size=n_labelled, stratify=stratify, random_state=seed
        )
    return {
        "labelled": labelled,
        "unlabelled": unlabelled,
        "validation": split["validation"],
        "test": split["test"],
    }


@dataclass(frozen=True)
class DataConfig:
    """Choices a data chapter exposes as parameters, checked on creation.

    Attributes
    ----------
    table : str
        Element table for the featurizer: ``"paper"`` or ``"corrected"``.
    labelled_fraction : float
        Share of the training pool that keeps its label, in (0, 1].
    seed : int
        Seed of the labelled-fraction draw.
    """

    table: str = "paper"
    labelled_fraction: float = 0.25
    seed: int = 0

    def __post_init__(self):
        if self.table not in TABLES:
            raise ValueError(f"table must be one of {TABLES}, got {self.table!r}")
        number("labelled_fraction", self.labelled_fraction, 0, 1, low_open=True)
        integer("seed", self.seed, 0)


def with_table(frame: pd.DataFrame, table: str = "paper") -> pd.DataFrame:
    """A copy of ``frame`` whose 8 feature columns are computed with ``table``.

    ``"paper"`` returns the published columns unchanged (the featurizer
    reproduces them to 1e-13); any other table recomputes them from the
    fractions with :func:`hea_dvae.features.featurize`.
    """
    out = frame.copy()
    if table != "paper" and len(out):
        out[list(FEATURES)] = featurize(out[list(ELEMENTS)].to_numpy(), table=table)
    return out


def split_with_table(split: Mapping[str, pd.DataFrame], table: str = "paper") -> dict[str, pd.DataFrame]:
    """:func:`with_table` applied to every part of a split."""
    return {name: with_table(frame, table) for name, frame in split.items()}


def split_sizes(split: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Size and single-phase share of each part of a split."""
    return pd.DataFrame(
        {
            "alloys": {k: len(v) for k, v in split.items()},
            "single_phase_share": {k: float(v["label"].mean()) for k, v in split.items()},
        }
    )


def as_arrays(part, require_labels: bool = True):
    """Compositions, raw features and labels of a split part, as float32 arrays.

    Parameters
    ----------
    part : DataFrame or tuple
        A frame with the element, feature and ``label`` columns (as from
        :func:`hea_dvae.data.paper_split`), or a tuple ``(x, e)`` or
        ``(x, e, y)`` of arrays.
    require_labels : bool
        Raise if no labels are available.

    Returns
    -------
    x : ndarray (n, 30), e : ndarray (n, 8), y : ndarray (n,) or None
    """
    if isinstance(part, pd.DataFrame):
        x = part[list(ELEMENTS)].to_numpy(dtype=np.float32)
        e = part[list(FEATURES)].to_numpy(dtype=np.float32)
        y = part["label"].to_numpy(dtype=np.float32) if "label" in part else None
    else:
        x, e, *rest = part
        x = np.asarray(x, dtype=np.float32)
        e = np.asarray(e, dtype=np.float32)
        y = np.asarray(rest[0], dtype=np.float32).reshape(-1) if rest and rest[0] is not None else None
    if y is None and require_labels:
        raise ValueError("labels are required for this part of the split")
    return x, e, y
