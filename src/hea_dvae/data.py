"""Upstream data: pinned download, integrity checks, the tidy dataset and its splits.

Every file comes from the authors' repository at one pinned commit and is
checked against its SHA-256 digest before it is used (:data:`config.DATA_FILES`).
Point ``$HEA_DVAE_DATA_DIR`` at a folder that already holds the files and
nothing is downloaded.

The tidy dataset has one row per unique alloy (1,373): ``formula``, the 30
atomic fractions (:data:`hea_dvae.features.ELEMENTS`), the 8 engineered
features as published (:data:`hea_dvae.features.FEATURES`) and ``label``
(1 = single phase).
"""

from __future__ import annotations

import hashlib
import io
import pickle
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from . import config
from .features import ELEMENTS, FEATURES

SPLIT_NAMES = ("labelled", "unlabelled", "validation", "test")

#: Tolerance on the sum of each alloy's fractions.
FRACTION_TOLERANCE = 1e-6


class DataIntegrityError(ValueError):
    """A data file does not match its pinned SHA-256 digest."""


class DataValidationError(ValueError):
    """Loaded data break an invariant the rest of the package relies on."""


def sha256(path: Path) -> str:
    """Hex SHA-256 digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(name: str, progress: bool = False) -> Path:
    """Return the local path of an upstream file, downloading it if needed.

    Parameters
    ----------
    name : str
        A key of :data:`hea_dvae.config.DATA_FILES`, e.g. ``"HEA_top30_comps.csv"``.
    progress : bool
        Show a progress bar while downloading.

    Raises
    ------
    KeyError
        ``name`` is not one of the pinned files.
    DataIntegrityError
        The file (cached or downloaded) does not match its digest. A
        downloaded file that fails the check is deleted, never cached.
    """
    import pooch

    if name not in config.DATA_FILES:
        known = ", ".join(sorted(config.DATA_FILES))
        raise KeyError(f"unknown data file {name!r}; the pinned files are: {known}")
    remote_path, expected = config.DATA_FILES[name]
    folder = config.data_dir()
    local = folder / name
    if local.is_file() and sha256(local) == expected:
        return local
    url = config.data_url() + remote_path
    try:
        # pooch streams into a temporary file and only moves it into place
        # once the digest matches, so a bad download never lands in the cache.
        fetched = pooch.retrieve(
            url,
            known_hash=f"sha256:{expected}",
            fname=name,
            path=folder,
            progressbar=progress,
        )
    except ValueError as error:
        if "hash" not in str(error).lower():
            raise
        raise DataIntegrityError(
            f"{name} downloaded from {url} does not match its pinned SHA-256: "
            f"expected {expected}; {_actual_digest_from(error)}. "
            "The file was discarded."
        ) from error
    fetched = Path(fetched)
    actual = sha256(fetched)
    if actual != expected:  # pragma: no cover - pooch already checked
        fetched.unlink(missing_ok=True)
        raise DataIntegrityError(
            f"{name}: expected SHA-256 {expected}, got {actual}; file removed."
        )
    return fetched


def _actual_digest_from(error: Exception) -> str:
    # pooch words its message as "... expected sha256:<digest> but got <digest>. ...".
    words = [w.strip("()'.,").rpartition(":")[2] for w in str(error).split()]
    digests = [w for w in words if len(w) == 64 and all(c in "0123456789abcdef" for c in w)]
    return f"got {digests[-1]}" if len(digests) >= 2 else f"pooch said: {error}"


def fetch_all(progress: bool = True) -> dict[str, Path]:
    """Fetch (or verify) every pinned file; return name -> local path."""
    return {name: fetch(name, progress=progress) for name in config.DATA_FILES}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that admits numpy's scalar and dtype constructors and nothing else.

    The upstream tables are pickles of dicts of numpy float64 scalars. A pickle
    can name any importable callable; refusing everything but these two keeps
    a tampered file from running code on load.
    """

    _ALLOWED = {
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name} from a data pickle: only numpy "
                "scalars and dtypes are allowed"
            )
        if name == "dtype":
            return np.dtype
        from numpy._core.multiarray import scalar

        return scalar


def safe_unpickle(data: bytes):
    """Load a pickle that may only contain builtins and numpy scalars."""
    return _NumpyOnlyUnpickler(io.BytesIO(data)).load()


def load_pickle(name: str):
    """Fetch and safely unpickle one of the upstream ``.pkl`` tables."""
    return safe_unpickle(fetch(name).read_bytes())


def read_upstream_tables() -> tuple[dict, dict]:
    """The upstream element table and binary mixing enthalpies, as plain floats.

    Returns
    -------
    elements : dict
        symbol -> {"tm", "vac", "vm", "chi", "ar", "k"} (70 elements).
    enthalpies : dict
        "A,B" (sorted symbols) -> binary mixing enthalpy in kJ/mol.
    """
    elements = {
        symbol: {key: float(value) for key, value in props.items()}
        for symbol, props in load_pickle("look_up_dict.pkl").items()
    }
    enthalpies = {pair: float(v) for pair, v in load_pickle("mixing_enthalpy_dict.pkl").items()}
    return elements, enthalpies


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


def paper_split(data: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """The authors' split, reproduced exactly.

    Chained ``train_test_split(random_state=42)``: 10 % test, then 30 % of the
    rest unlabelled, then 20 % of that validation. On the full dataset:
    864 labelled, 296 unlabelled, 75 validation, 138 test.

    Returns
    -------
    dict
        ``labelled``, ``unlabelled``, ``validation``, ``test`` -> DataFrame.
        The ``unlabelled`` frame keeps its ``label`` column for evaluation;
        training must not read it.
    """
    data = load_dataset() if data is None else data
    seed = config.PAPER_SEED
    pool, test = train_test_split(data, test_size=0.1, random_state=seed)
    labelled, rest = train_test_split(pool, test_size=0.3, random_state=seed)
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
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float, np.floating)):
        raise TypeError(f"fraction must be a number in (0, 1], got {fraction!r}")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
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
        from .features import TABLES

        if self.table not in TABLES:
            raise ValueError(f"table must be one of {TABLES}, got {self.table!r}")
        if isinstance(self.labelled_fraction, bool) or not isinstance(
            self.labelled_fraction, (int, float)
        ) or not 0 < self.labelled_fraction <= 1:
            raise ValueError(
                f"labelled_fraction must be a number in (0, 1], got {self.labelled_fraction!r}"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")


def with_table(frame: pd.DataFrame, table: str = "paper") -> pd.DataFrame:
    """A copy of ``frame`` whose 8 feature columns are computed with ``table``.

    ``"paper"`` returns the published columns unchanged (the featurizer
    reproduces them to 1e-13); any other table recomputes them from the
    fractions with :func:`hea_dvae.features.featurize`.
    """
    from .features import featurize

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
