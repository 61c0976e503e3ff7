r"""Inverse design: alloys predicted to form a single phase, with evidence and a recipe.

Three routes lead to candidate alloys, all scored by one predictor (an
:class:`hea_dvae.zoo.Ensemble`, or anything with its interface) and all bound
by one :class:`hea_dvae.constraints.Constraints`:

latent decoding (:func:`decode_latent`)
    The paper's generator: decode a chosen latent vector ``z`` with a label
    ``y`` through :math:`p(x \mid y, z)`, round to whole at.%, re-score.
label-flip inversion (:func:`invert_flip`)
    The paper's Fig. 7 loop: encode the current alloy with its predicted
    probability :math:`p`, decode with :math:`1 - p`, round, re-score, repeat
    until :math:`p` exceeds the target.
gradient inversion (:func:`invert_gradient`)
    Beyond the paper: optimise the composition on the simplex (a softmax over
    the allowed elements) through the differentiable featurizer and the
    classifier toward the target probability, with a penalty on the distance
    from the seed and on the constraints; then round and check.

Every candidate gets the same :func:`evidence` (ensemble mean and spread, the
empirical rules, the nearest alloys of the dataset, whether it lies outside
the data) and can get a :func:`recipe` (wt.% and grams for a batch).
Every result carries the model's identity and the parameters that produced it
in ``DataFrame.attrs`` (and :func:`write_csv` writes them as ``#`` lines).

Latent work decodes with ONE member of an ensemble (``predictor.members[0]``):
the latent spaces of models trained from different seeds are not aligned.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from . import priors
from .config import show_progress
from .constraints import Constraints
from .data import load_dataset
from .features import ELEMENTS, FEATURE_UNITS, composition_vector, featurize
from .files import write_file

#: Two compositions closer than this (at.%, see :func:`composition_distance`)
#: are the same alloy: rounding a formula to whole at.% moves it less.
SAME_ALLOY_AT_PCT = 0.5

#: A candidate farther from every dataset alloy than this quantile of the
#: dataset's own nearest-neighbour distances is flagged as outside the data
#: (25 at.% on the 1,373 alloys: nine in ten lie closer to their neighbour).
OUTSIDE_QUANTILE = 0.9

#: Table of the features behind the empirical rules: the corrected one, whose
#: VEC counts s + d electrons (the paper table's VEC is wrong for 9 elements).
RULES_TABLE = "corrected"

#: A design succeeds only as an alloy: a pure element reaching the target is
#: not a design (the data hold no pure element, so the model never saw one).
MIN_ALLOY_ELEMENTS = 2

#: Rounding step of designed compositions when the constraints set none (1 at.%).
DEFAULT_STEP = 0.01

#: Gradient inversion starts absent allowed elements at this fraction (0.1 at.%).
TRACE = 1e-3

#: Weight of the squared bound violations in the gradient inversion's loss.
BOUND_WEIGHT = 1e3

_INDEX = {symbol: i for i, symbol in enumerate(ELEMENTS)}


# --------------------------------------------------------------------------
# Compositions in and out


def as_fractions(alloys) -> np.ndarray:
    """Atomic fractions of alloys, shape (n, 30).

    Parameters
    ----------
    alloys : str, sequence of str, array-like (n, 30) or (30,), or DataFrame
        Formulas, fraction rows, or a frame with the 30 element columns (or,
        lacking them, a ``formula`` column).
    """
    if isinstance(alloys, str):
        return composition_vector(alloys)[None, :]
    if isinstance(alloys, pd.DataFrame):
        if set(ELEMENTS) <= set(alloys.columns):
            return alloys[list(ELEMENTS)].to_numpy(dtype=float)
        if "formula" in alloys:
            return np.stack([composition_vector(f) for f in alloys["formula"]]) if len(alloys) else np.zeros((0, 30))
        raise ValueError("a frame of alloys needs the 30 element columns or a 'formula' column")
    if isinstance(alloys, (list, tuple)) and alloys and all(isinstance(a, str) for a in alloys):
        return np.stack([composition_vector(a) for a in alloys])
    x = np.asarray(alloys, dtype=float)
    x = x[None, :] if x.ndim == 1 else x
    if x.ndim != 2 or x.shape[1] != len(ELEMENTS):
        raise ValueError(f"fractions must have shape (n, {len(ELEMENTS)}), got {np.shape(alloys)}")
    if (x < 0).any() or np.any(np.abs(x.sum(axis=1) - 1) > 1e-6):
        raise ValueError("fractions must be non-negative and each row must sum to 1")
    return x


def formula_from_amounts(amounts, step: float = 0.01) -> str:
    """Formula in at.% from amounts on a grid, e.g. ``Fe21Ni22Cr22Co35``.

    ``amounts`` are fractions (not necessarily summing to 1: the paper's
    rounding keeps whole at.% that may sum to 99); they are written in at.%
    with as many decimals as ``step`` needs, zeros left out.
    """
    decimals = _decimals(100 * step)
    percent = 100 * np.asarray(amounts, dtype=float)
    parts = []
    for symbol, value in zip(ELEMENTS, percent):
        text = f"{value:.{decimals}f}"
        if float(text) > 0:
            parts.append(symbol + (text.rstrip("0").rstrip(".") if "." in text else text))
    return "".join(parts)


def _decimals(value: float) -> int:
    """Decimals needed to write multiples of ``value`` exactly (at most 6)."""
    for decimals in range(7):
        if abs(round(value, decimals) - value) < 1e-9:
            return decimals
    return 6


def round_paper(fractions, step: float = 0.01) -> np.ndarray:
    """The paper's rounding: every amount to the nearest ``step``, independently.

    Elements that round to zero drop out; the amounts are NOT forced to sum
    to one (``Fe17Ni22Cr23Co25Al12`` sums to 99 at.%), as in the authors'
    code (``torch.round(x, decimals=2) * 100`` in float32, then ``int()``,
    which can truncate a float32 ``28.999998`` to 28; we round exactly,
    and the paper's alloys come out the same). Returns the rounded amounts;
    divide by their sum for fractions.
    """
    x = np.asarray(fractions, dtype=float)
    return np.round(x / step) * step


def composition_distance(a, b) -> np.ndarray:
    """Distance between compositions in at.%: half the L1 distance, times 100.

    It is the amount of material (at.%) that must change element to turn one
    alloy into the other: 0 for the same alloy, 100 for alloys without a
    common element. ``a`` (n, 30) and ``b`` (m, 30) give an (n, m) matrix.
    """
    a, b = np.atleast_2d(a).astype(np.float64), np.atleast_2d(b).astype(np.float64)
    out = np.empty((len(a), len(b)), dtype=np.float64)
    # Chunks keep the (chunk, m, 30) intermediate near 20 MB.
    chunk = max(1, 2**22 // max(1, len(b) * a.shape[1]))
    for begin in range(0, len(a), chunk):
        block = a[begin:begin + chunk, None, :] - b[None, :, :]
        out[begin:begin + chunk] = 50.0 * np.abs(block).sum(-1)
    return out


# --------------------------------------------------------------------------
# Recipe


@lru_cache(maxsize=1)
def atomic_masses() -> np.ndarray:
    """Standard atomic masses (g/mol) of :data:`ELEMENTS`, from pymatgen."""
    from pymatgen.core import Element

    return np.array([float(Element(symbol).atomic_mass) for symbol in ELEMENTS])


def weight_fractions(fractions) -> np.ndarray:
    """Atomic fractions to mass fractions, shape (n, 30); rows sum to 1."""
    x = np.atleast_2d(np.asarray(fractions, dtype=float))
    mass = x * atomic_masses()
    return mass / mass.sum(axis=1, keepdims=True)


def _split_exactly(grams: np.ndarray, total: float, decimals: int) -> np.ndarray:
    """Round grams to ``decimals`` so that the rounded values still sum to ``total``."""
    unit = 10.0 ** -decimals
    scaled = grams / unit
    floor = np.floor(scaled)
    missing = int(round(total / unit - floor.sum()))
    order = np.argsort(-(scaled - floor), kind="stable")
    floor[order[:max(missing, 0)]] += 1
    return floor * unit


def recipe(alloy, batch_grams: float, decimals: int = 3) -> pd.DataFrame:
    """How to weigh out one alloy: at.%, wt.% and grams of each element.

    Parameters
    ----------
    alloy : str or array-like (30,)
        A formula or one row of fractions.
    batch_grams : float
        Mass of the batch (g).
    decimals : int
        Grams are rounded to this many decimals such that the rounded
        amounts sum exactly to ``batch_grams`` (largest-remainder rounding).

    Returns
    -------
    DataFrame
        One row per element present: ``element``, ``at_pct``, ``wt_pct``,
        ``molar_mass`` (g/mol), ``grams``; ``attrs["batch_grams"]``.
    """
    _check_batch(batch_grams)
    x = as_fractions(alloy)
    if len(x) != 1:
        raise ValueError(f"recipe() takes one alloy, got {len(x)}")
    x = x[0]
    present = np.flatnonzero(x > 0)
    w = weight_fractions(x)[0]
    grams = _split_exactly(batch_grams * w[present], batch_grams, decimals)
    frame = pd.DataFrame(
        {
            "element": [ELEMENTS[i] for i in present],
            "at_pct": 100 * x[present],
            "wt_pct": 100 * w[present],
            "molar_mass": atomic_masses()[present],
            "grams": grams,
        }
    )
    frame.attrs["batch_grams"] = float(batch_grams)
    return frame


def _check_batch(batch_grams) -> None:
    if isinstance(batch_grams, bool) or not isinstance(batch_grams, (int, float, np.floating)):
        raise TypeError(f"batch mass must be a number of grams, got {batch_grams!r}")
    if not (math.isfinite(batch_grams) and batch_grams > 0):
        raise ValueError(f"batch mass must be a positive number of grams, got {batch_grams!r}")


def recipe_columns(alloys, batch_grams: float, decimals: int = 3) -> pd.DataFrame:
    """Recipe of many alloys as columns, one row per alloy.

    ``grams_<El>`` for every element present in any alloy (0 where absent;
    each row sums to ``batch_grams``) and ``recipe``, a text such as
    ``"Co 14.762 g, Cr 13.022 g, ..."`` (the weights rounded to ``decimals``
    still sum exactly to the batch mass).
    """
    _check_batch(batch_grams)
    x = as_fractions(alloys)
    grams = batch_grams * weight_fractions(x) if len(x) else np.zeros((0, len(ELEMENTS)))
    present = np.flatnonzero((x > 0).any(axis=0))
    columns = {f"grams_{ELEMENTS[i]}": grams[:, i] for i in present}
    texts = []
    for row_x, row_g in zip(x, grams):
        idx = np.flatnonzero(row_x > 0)
        rounded = _split_exactly(row_g[idx], batch_grams, decimals)
        texts.append(", ".join(f"{ELEMENTS[i]} {g:.{decimals}f} g" for i, g in zip(idx, rounded)))
    index = alloys.index if isinstance(alloys, pd.DataFrame) else None
    frame = pd.DataFrame(columns, index=index)
    frame["recipe"] = texts
    frame.attrs["batch_grams"] = float(batch_grams)
    return frame


# --------------------------------------------------------------------------
# Constraints: one specification, turned into per-element limits


@dataclass(frozen=True)
class _Limits:
    """A :class:`Constraints` as arrays over :data:`ELEMENTS`, with the rounding step."""

    allowed: np.ndarray  # bool (30,): the pool
    required: np.ndarray  # bool (30,)
    lower: np.ndarray  # (30,) smallest fraction of a present element (at least one step)
    upper: np.ndarray  # (30,) largest fraction
    sizes: tuple[int, ...]  # numbers of elements an admitted alloy may have
    step: float


def _constraints(constraints) -> Constraints:
    if constraints is None:
        return Constraints()
    if isinstance(constraints, Constraints):
        return constraints
    if isinstance(constraints, dict):
        return Constraints.from_mapping(constraints)
    raise TypeError(f"constraints must be a Constraints or a mapping, got {type(constraints).__name__}")


def _limits(constraints: Constraints, step: float | None = None) -> _Limits:
    # The constraints' own grid wins: a composition off it would not be admitted.
    step = float(constraints.step or step or DEFAULT_STEP)
    required = np.zeros(len(ELEMENTS), dtype=bool)
    required[[_INDEX[s] for s in constraints.required]] = True
    lower, upper = constraints.fraction_bounds()
    return _Limits(constraints.pool_mask(), required, np.maximum(lower, step), upper,
                   tuple(constraints.sizes()), step)


def _capped_simplex(values: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Euclidean projection onto {x : sum x = 1, lower <= x <= upper} (bisection on the shift)."""
    low, high = (values - upper).min() - 1.0, (values - lower).max() + 1.0
    for _ in range(100):
        shift = 0.5 * (low + high)
        if np.clip(values - shift, lower, upper).sum() > 1:
            low = shift
        else:
            high = shift
    x = np.clip(values - 0.5 * (low + high), lower, upper)
    return x / x.sum()


def _round_on_grid(x: np.ndarray, lower: np.ndarray, upper: np.ndarray, step: float) -> np.ndarray:
    """Amounts on multiples of ``step`` within the bounds, summing exactly to 1.

    Largest-remainder rounding: floor every amount, then hand the missing
    steps to the largest remainders (or take surplus from the smallest).
    """
    total = int(round(1 / step))
    units = x / step
    low = np.ceil(lower / step - 1e-9)
    high = np.floor(upper / step + 1e-9)
    rounded = np.clip(np.floor(units + 1e-9), low, high)
    remainder = units - rounded
    missing = total - int(rounded.sum())
    while missing:
        if missing > 0:
            room = rounded < high
            if not room.any():
                break
            order = np.argsort(-np.where(room, remainder, -np.inf), kind="stable")[: min(missing, room.sum())]
            rounded[order] += 1
            remainder[order] -= 1
        else:
            room = rounded > low
            if not room.any():
                break
            order = np.argsort(np.where(room, remainder, np.inf), kind="stable")[: min(-missing, room.sum())]
            rounded[order] -= 1
            remainder[order] += 1
        missing = total - int(rounded.sum())
    return rounded * step


def project(fractions, constraints=None, step: float | None = None) -> np.ndarray:
    """The nearest compositions that satisfy the constraints, on the rounding grid.

    For each row: drop elements outside the allowed pool; keep the required
    elements and the largest others: as many as are closer to their minimum
    amount than to zero, moved to the nearest number of elements the
    constraints allow (``n_elements``, ``max_elements``); project onto the
    bounds (Euclidean projection onto the capped simplex); round to
    multiples of the step, summing exactly to one, within the bounds.

    Parameters
    ----------
    fractions : array-like (n, 30)
    constraints : Constraints or mapping, optional
    step : float, optional
        Rounding step as a fraction, used when the constraints set none;
        default :data:`DEFAULT_STEP` (1 at.%).

    Returns
    -------
    numpy.ndarray (n, 30)
        Rows that cannot be made feasible (too few allowed elements) are NaN.
    """
    limits = _limits(_constraints(constraints), step)
    x = np.atleast_2d(np.asarray(fractions, dtype=float))
    out = np.full_like(x, np.nan)
    for r, row in enumerate(x):
        out[r] = _project_row(row, limits)
    return out


def _project_row(row: np.ndarray, limits: _Limits) -> np.ndarray:
    values = np.where(limits.allowed, row, 0.0)
    if values.sum() <= 0:
        values = limits.allowed.astype(float)
    values = values / values.sum()
    support = _support(values, limits)
    if not len(support):
        return np.full(len(ELEMENTS), np.nan)
    lower, upper = limits.lower[support], limits.upper[support]
    x = np.zeros(len(ELEMENTS))
    x[support] = _capped_simplex(values[support], lower, upper)
    x[support] = _round_on_grid(x[support], lower, upper, limits.step)
    return x


def _support(values: np.ndarray, limits: _Limits) -> np.ndarray:
    """Indices of the elements a composition keeps (see :func:`project`)."""
    priority = np.where(limits.required, np.inf, values)
    order = np.array([i for i in np.argsort(-priority, kind="stable") if limits.allowed[i]])
    # An element stays when it is closer to its smallest allowed amount than to zero.
    wanted = int(((values >= 0.5 * limits.lower) & limits.allowed | limits.required).sum())
    # Of the allowed sizes, the nearest (the smaller on a tie) whose bounds can sum to one.
    for size in sorted(limits.sizes, key=lambda k: (abs(k - wanted), k)):
        chosen = order[:size]
        if limits.lower[chosen].sum() <= 1 + 1e-9 and limits.upper[chosen].sum() >= 1 - 1e-9:
            return chosen
    return order[:0]


def admitted(fractions, constraints=None) -> np.ndarray:
    """Boolean per row: does the composition satisfy every constraint?"""
    constraints = _constraints(constraints)
    x = np.atleast_2d(np.asarray(fractions, dtype=float))
    finite = np.isfinite(x).all(axis=1)
    ok = np.zeros(len(x), dtype=bool)
    if finite.any():
        ok[finite] = constraints.admits(x[finite])
    return ok


# --------------------------------------------------------------------------
# Scores and provenance


def score(predictor, fractions) -> tuple[np.ndarray, np.ndarray]:
    """Ensemble mean probability of a single phase and the members' spread."""
    x = np.atleast_2d(np.asarray(fractions, dtype=float))
    if not len(x):
        return np.zeros(0), np.zeros(0)
    e = np.asarray(predictor.featurize(x), dtype=float)
    return np.asarray(predictor.predict_proba(e), dtype=float), np.asarray(predictor.predict_spread(e), dtype=float)


def stamp(frame: pd.DataFrame, predictor, **parameters) -> pd.DataFrame:
    """Record the model and the parameters that produced ``frame`` in its ``attrs``."""
    frame.attrs["model"] = str(getattr(predictor, "name", type(predictor).__name__))
    frame.attrs["model_identity"] = str(getattr(predictor, "identity", "unknown"))
    frame.attrs["parameters"] = {k: _plain(v) for k, v in parameters.items()}
    return frame


def _plain(value):
    if isinstance(value, Constraints):
        return value.to_dict()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


#: What the columns of every design or prediction table measure, written above it.
UNITS_LINE = ("# units: " + ", ".join(f"{name} {unit or 'dimensionless'}" for name, unit in FEATURE_UNITS.items())
              + "; p_single_phase and spread probabilities (spread NA: one model, no spread); "
              "distances and compositions at.%")


def provenance_lines(frame: pd.DataFrame) -> list[str]:
    """The ``attrs`` of a design result as ``# key: value`` lines (values other than text as JSON), then the units."""
    lines = []
    for key in ("model", "model_identity"):
        if key in frame.attrs:
            lines.append(f"# {key}: {frame.attrs[key]}")
    for key, value in frame.attrs.get("parameters", {}).items():
        if value is None:
            continue
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        lines.append(f"# {key}: {text}")
    if lines:
        lines.append(UNITS_LINE)
    return lines


def csv_text(frame: pd.DataFrame, columns=None, float_format: str = "%.10g") -> str:
    """A design result as CSV text, its provenance first as ``#`` comment lines.

    Missing values (a one-member model's spread, say) are written ``NA``.
    """
    table = frame if columns is None else frame[list(columns)]
    text = "\n".join(provenance_lines(frame))
    body = table.to_csv(index=False, float_format=float_format, lineterminator="\n", na_rep="NA")
    return (text + "\n" if text else "") + body


def write_csv(frame: pd.DataFrame, destination=None, columns=None, float_format: str = "%.10g") -> None:
    """Write a design result as CSV (see :func:`csv_text`).

    ``destination`` is a path (written atomically by
    :func:`hea_dvae.files.write_file`: an error never leaves a partial
    file), a text stream, or None for standard output. Read it back with
    ``pandas.read_csv(path, comment="#")``.
    """
    content = csv_text(frame, columns, float_format)
    if destination is None or hasattr(destination, "write"):
        (destination or sys.stdout).write(content)
        return
    write_file(destination, content)


def _candidates(x: np.ndarray, formulas, predictor, **columns) -> pd.DataFrame:
    p, spread = score(predictor, x)
    frame = pd.DataFrame({**columns, "formula": list(formulas), "p_single_phase": p, "spread": spread})
    elements = pd.DataFrame(x, columns=list(ELEMENTS), index=frame.index)
    return pd.concat([frame, elements], axis=1)


# --------------------------------------------------------------------------
# Route 1: decode a chosen latent vector


def _decoder_model(predictor):
    members = getattr(predictor, "members", None)
    return members[0] if members else predictor


def decode_latent(predictor, z, y, constraints=None, step: float = 0.01) -> pd.DataFrame:
    """Decode latent vectors with labels, round to a grid, re-score.

    Parameters
    ----------
    predictor : Ensemble
        Decodes with its first member, scores with the whole ensemble.
    z : array-like (n, z_dim) or (z_dim,)
    y : float or array-like (n,)
        The label fed to the decoder, in [0, 1] (the paper uses 0.1 and 0.9).
    constraints : Constraints or mapping, optional
        Without constraints, the paper's rounding (every amount to the
        nearest ``step``, zeros dropped, see :func:`round_paper`); with them,
        :func:`project`.
    step : float
        Rounding step (fraction; 0.01 = 1 at.%).

    Returns
    -------
    DataFrame
        ``z1``.., ``y``, ``formula``, ``p_single_phase``, ``spread`` and the
        30 fractions; provenance in ``attrs``.
    """
    model = _decoder_model(predictor)
    z = np.atleast_2d(np.asarray(z, dtype=float))
    y = np.broadcast_to(np.asarray(y, dtype=float), (len(z),)).copy()
    if ((y < 0) | (y > 1)).any():
        raise ValueError(f"the decoder label y must lie in [0, 1], got {y[(y < 0) | (y > 1)][0]:g}")
    if z.shape[1] != model.config.z_dim:
        raise ValueError(f"z must have {model.config.z_dim} components for this model, got {z.shape[1]}")
    with torch.no_grad():
        decoded = model.decode(z, y).double().cpu().numpy()
    x, formulas = _round(decoded, constraints, step)
    latent = {f"z{i + 1}": z[:, i] for i in range(z.shape[1])}
    frame = _candidates(x, formulas, predictor, **latent, y=y)
    return stamp(frame, predictor, route="latent", z=z, y=y, step=step,
                 constraints=_describe(constraints))


def _describe(constraints):
    return None if constraints is None else _plain(_constraints(constraints))


def _round(decoded: np.ndarray, constraints, step: float) -> tuple[np.ndarray, list[str]]:
    if constraints is None:
        amounts = round_paper(decoded, step)
        return amounts / amounts.sum(axis=1, keepdims=True), [formula_from_amounts(a, step) for a in amounts]
    x = project(decoded, constraints, step)
    limits_step = _limits(_constraints(constraints), step).step
    return x, [formula_from_amounts(row, limits_step) if np.isfinite(row).all() else "" for row in x]


# --------------------------------------------------------------------------
# Route 2: the paper's label-flip loop


@dataclass
class Inversion:
    """The result of an inversion: every step, and the final alloy of each seed.

    Attributes
    ----------
    trajectory : DataFrame
        One row per seed and step: ``seed``, ``step``, ``formula``,
        ``p_single_phase``, ``spread``, ``distance`` (at.% from the seed) and
        the 30 fractions (the gradient route records the unrounded path).
    final : DataFrame
        One row per seed: the rounded, checked, re-scored final alloy, with
        ``success`` (p >= target, and an alloy of at least two elements), ``distance``, ``n_elements``,
        ``admitted`` (all constraints hold) and ``steps``.
    """

    trajectory: pd.DataFrame
    final: pd.DataFrame


def _seeds(seeds) -> tuple[list[str], np.ndarray]:
    if isinstance(seeds, str):
        seeds = [seeds]
    if isinstance(seeds, (list, tuple)) and all(isinstance(s, str) for s in seeds):
        return list(seeds), np.stack([composition_vector(s) for s in seeds])
    x = as_fractions(seeds)
    return [formula_from_amounts(row, 0.001) for row in x], x


def _check_target(target: float) -> float:
    if isinstance(target, bool) or not isinstance(target, (int, float, np.floating)) or not 0 < target < 1:
        raise ValueError(f"target probability must lie strictly between 0 and 1, got {target!r}")
    return float(target)


def invert_flip(
    seeds,
    predictor,
    target: float = 0.6,
    max_steps: int = 10,
    constraints=None,
    label: str = "probability",
    step: float = 0.01,
) -> Inversion:
    """The paper's iterative inversion (Fig. 7): encode, decode with the flipped label, repeat.

    At each step the current alloy ``x`` is scored, ``p = q(y=1|e(x))``; if
    ``p >= target`` the loop stops. Otherwise ``z`` = the mean of
    ``q(z | x, p)`` and the next alloy is ``p(x | 1 - p, z)``, rounded.
    This is the authors' protocol (``interpolate.py`` of cengc13/d_vae_hea):
    the label given to the encoder is the predicted PROBABILITY, not a hard
    label, and the decoded amounts are rounded independently to whole at.%.

    Parameters
    ----------
    seeds : str, list of str or array-like (n, 30)
        Starting alloys (the paper starts from ``Fe14Ni16Cr22Co14Al22Cu8``).
    predictor : Ensemble
        Encodes and decodes with its first member; scores with all members.
    target : float
        Stop once the probability reaches it (the paper: 0.6).
    max_steps : int
        Most decoding steps per seed.
    constraints : Constraints or mapping, optional
        If given, every decoded alloy is projected onto them (:func:`project`)
        instead of the paper's rounding, and so is the seed.
    label : {"probability", "hard"}
        What the encoder sees and the decoder gets flipped: the probability
        ``p`` (the paper) or the hard label ``p >= 0.5``.
    step : float
        Rounding step.
    """
    target = _check_target(target)
    if label not in ("probability", "hard"):
        raise ValueError(f"label must be 'probability' or 'hard', got {label!r}")
    if int(max_steps) < 0:
        raise ValueError(f"max_steps must be >= 0, got {max_steps!r}")
    names, x_seed = _seeds(seeds)
    model = _decoder_model(predictor)
    if constraints is not None:
        x_seed, _ = _round(x_seed, constraints, step)
    rows, finals = [], []
    for name, start in zip(names, x_seed):
        x, formula = start.copy(), name
        for iteration in range(int(max_steps) + 1):
            p, spread = (v[0] for v in score(predictor, x[None]))
            rows.append({"seed": name, "step": iteration, "formula": formula, "p_single_phase": p,
                         "spread": spread, "distance": float(composition_distance(x, start)[0, 0]),
                         **dict(zip(ELEMENTS, x))})
            if p >= target or iteration == int(max_steps):
                break
            y_in = p if label == "probability" else float(p >= 0.5)
            with torch.no_grad():
                z, _ = model.encode(x[None], y_in)
                decoded = model.decode(z, 1.0 - y_in).double().cpu().numpy()
            (x,), (formula,) = _round(decoded, constraints, step)
            if not np.isfinite(x).all():
                break
        finals.append(rows[-1] | {"steps": iteration})
    trajectory = pd.DataFrame(rows)
    final = _finish(pd.DataFrame(finals), target, constraints)
    parameters = dict(route="invert", method="flip", target=target, max_steps=max_steps, label=label,
                      step=step, constraints=_describe(constraints))
    return Inversion(stamp(trajectory, predictor, **parameters), stamp(final, predictor, **parameters))


def _finish(final: pd.DataFrame, target: float, constraints) -> pd.DataFrame:
    x = final[list(ELEMENTS)].to_numpy(dtype=float)
    sizes = (x > 0).sum(axis=1)
    final.insert(final.columns.get_loc("distance") + 1, "n_elements", sizes)
    final.insert(final.columns.get_loc("p_single_phase"), "success",
                 (final["p_single_phase"] >= target) & (sizes >= MIN_ALLOY_ELEMENTS))
    final.insert(final.columns.get_loc("n_elements") + 1, "admitted", admitted(x, constraints))
    return final


# --------------------------------------------------------------------------
# Route 3: gradient inversion through the featurizer and the classifier


def invert_gradient(
    seeds,
    predictor,
    target: float = 0.9,
    constraints=None,
    distance_weight: float = 0.3,
    steps: int = 300,
    refine_steps: int = 200,
    learning_rate: float = 0.05,
    margin: float = 0.5,
    step: float | None = None,
    record_every: int = 10,
    progress: bool | None = None,
) -> Inversion:
    r"""Optimise compositions toward a target probability of a single phase.

    The composition is a softmax over the allowed elements,
    :math:`x = \mathrm{softmax}(w)`, started at the seed (absent allowed
    elements at :data:`TRACE`). Exponentiated-gradient steps
    (:math:`w \leftarrow w - \eta\, \nabla_x L / \lVert \nabla_x L \rVert_\infty`,
    mirror descent on the simplex) minimise, for every seed at once,

    .. math::

        \max\big(0,\ \mathrm{logit}(t) + m - \ell(x)\big)^2
        + \lambda \lVert x - x_\mathrm{seed} \rVert_1
        + \mu \sum_i \big[\max(0, l_i - x_i)^2 + \max(0, x_i - u_i)^2\big]

    where :math:`\ell` is the ensemble's logit (``classify_logits`` of the
    features ``featurize(x)``, both differentiable), :math:`t` the target,
    :math:`m` a margin that survives rounding, :math:`\lambda` the
    ``distance_weight`` and :math:`l_i, u_i` the bounds. A first phase
    (``steps``) runs over the whole pool; then the elements to keep are
    chosen as :func:`project` does (at most ``max_elements``, the required
    ones included) and a second phase (``refine_steps``) runs on them alone.
    The result is projected onto the constraints, rounded to the step and
    re-scored.

    Parameters
    ----------
    seeds : str, list of str or array-like (n, 30)
    predictor : Ensemble
        Needs ``featurize``-compatible ``table`` and a differentiable
        ``classify_logits``.
    target : float
        Target probability, in (0, 1).
    constraints : Constraints or mapping, optional
    distance_weight : float
        :math:`\lambda`: price of moving away from the seed (per unit of L1
        distance in fractions, i.e. per 50 at.% moved).
    steps, refine_steps : int
        Steps of the two phases.
    learning_rate : float
        Largest change of a log-fraction per step.
    margin : float
        Added to the target's logit.
    step : float, optional
        Rounding step; default the constraints' step, else 0.01.
    record_every : int
        Trajectory rows every this many steps (and the last).
    progress : bool, optional
        Progress bar (tqdm), default from ``$HEA_DVAE_PROGRESS``.

    Returns
    -------
    Inversion
        ``trajectory`` has ``phase`` (1 = pool, 2 = kept elements) and the
        unrounded compositions; ``final`` the rounded, checked ones.
    """
    target = _check_target(target)
    if not distance_weight >= 0:
        raise ValueError(f"distance_weight must be >= 0, got {distance_weight!r}")
    for name, value in (("steps", steps), ("refine_steps", refine_steps), ("record_every", record_every - 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate!r}")
    constraints = _constraints(constraints)
    limits = _limits(constraints, step)
    names, x_seed = _seeds(seeds)
    goal = math.log(target / (1 - target)) + margin
    seed_t = torch.as_tensor(x_seed, dtype=torch.float64)
    upper_t = torch.as_tensor(limits.upper, dtype=torch.float64)
    lower_t = torch.as_tensor(limits.lower, dtype=torch.float64)
    records: list[dict] = []
    bar = tqdm(total=steps + refine_steps, desc="gradient inversion", unit="step",
               disable=not show_progress(progress))

    def run(mask: np.ndarray, start: np.ndarray, n_steps: int, phase: int, offset: int, bound_lower: bool):
        mask_t = torch.tensor(mask)
        weights = torch.tensor(np.where(mask, np.log(np.maximum(start, TRACE)), 0.0), dtype=torch.float64)
        for i in range(n_steps + 1):
            x = torch.softmax(weights.masked_fill(~mask_t, -torch.inf), dim=-1).requires_grad_(True)
            e = featurize(x, table=predictor.table, validate=False)
            logit = predictor.classify_logits(e.float()).double()
            distance = (x - seed_t).abs().sum(-1)
            bounds = torch.relu(x - upper_t).pow(2)
            if bound_lower:
                bounds = bounds + torch.where(mask_t, torch.relu(lower_t - x).pow(2), 0.0)
            loss = torch.relu(goal - logit).pow(2) + distance_weight * distance + BOUND_WEIGHT * bounds.sum(-1)
            if i % record_every == 0 or i == n_steps:
                _record(records, names, x, logit, distance, phase, offset + i)
            if i == n_steps:
                return x.detach().numpy()
            (gradient,) = torch.autograd.grad(loss.sum(), x)
            # Exponentiated gradient (mirror descent on the simplex): every
            # log-fraction moves by the gradient with respect to the FRACTION,
            # so an element at a trace amount grows as fast as its benefit
            # exceeds the price of moving, whatever its amount, and an element
            # that does not pay for itself stays a trace. The step is
            # normalised per alloy (the largest move is learning_rate).
            gradient = torch.where(mask_t, gradient, 0.0)
            scale = gradient.abs().amax(dim=-1, keepdim=True).clamp_min(1e-12)
            weights -= learning_rate * gradient / scale
            bar.update(1)

    try:
        pool = np.broadcast_to(limits.allowed, x_seed.shape)
        start = np.where(pool, x_seed, 0.0)
        x_free = run(pool, start, steps, 1, 0, False)
        keep = np.zeros_like(pool)
        for r, row in enumerate(x_free):
            keep[r, _support(row, limits)] = True
        x_kept = run(keep, np.where(keep, x_free, 0.0), refine_steps, 2, steps, True)
    finally:
        bar.close()
    x_final = project(x_kept, constraints, limits.step)
    formulas = [formula_from_amounts(row, limits.step) if np.isfinite(row).all() else "" for row in x_final]
    final = _candidates(np.nan_to_num(x_final), formulas, predictor, seed=names)
    final.insert(final.columns.get_loc("spread") + 1, "distance",
                 np.diag(composition_distance(np.nan_to_num(x_final), x_seed)))
    final["steps"] = steps + refine_steps
    final = _finish(final, target, constraints)
    final.loc[~np.isfinite(x_final).all(axis=1), ["success", "admitted"]] = False
    trajectory = pd.DataFrame(records)
    parameters = dict(route="invert", method="gradient", target=target, distance_weight=distance_weight,
                      steps=steps, refine_steps=refine_steps, learning_rate=learning_rate, margin=margin,
                      step=limits.step, constraints=_describe(constraints))
    return Inversion(stamp(trajectory, predictor, **parameters), stamp(final, predictor, **parameters))


def _record(records: list, names, x: torch.Tensor, logit: torch.Tensor, distance: torch.Tensor, phase: int, step: int):
    x = x.detach().numpy()
    p = torch.sigmoid(logit.detach()).numpy()
    for name, row, p_row, d in zip(names, x, p, distance.detach().numpy()):
        records.append({"seed": name, "step": step, "phase": phase,
                        "formula": formula_from_amounts(row, 0.001), "p_single_phase": float(p_row),
                        "distance": 50.0 * float(d), "n_elements": int((row >= 0.005).sum()),
                        **dict(zip(ELEMENTS, row))})


def compare_inversions(seeds, predictor, target: float = 0.9, constraints=None, flip=None, gradient=None) -> pd.DataFrame:
    """Label-flip loop and gradient inversion from the same seeds, side by side.

    ``flip`` and ``gradient`` are keyword arguments of :func:`invert_flip`
    and :func:`invert_gradient`. Returns one row per seed and method:
    ``start_p``, final ``formula``, ``p_single_phase``, ``success``,
    ``distance`` (at.%), ``n_elements``, ``admitted``, ``steps``.
    """
    names, x_seed = _seeds(seeds)
    start_p, _ = score(predictor, x_seed)
    results = {
        "flip": invert_flip(seeds, predictor, target=target, constraints=constraints, **(flip or {})),
        "gradient": invert_gradient(seeds, predictor, target=target, constraints=constraints, **(gradient or {})),
    }
    columns = ["seed", "formula", "p_single_phase", "spread", "success", "distance", "n_elements", "admitted", "steps"]
    frames = []
    for method, result in results.items():
        frame = result.final[columns].copy()
        frame.insert(1, "method", method)
        frame.insert(2, "start_p", start_p)
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    return stamp(table, predictor, route="compare", target=target, constraints=_describe(constraints),
                 flip=flip or {}, gradient=gradient or {})


def summarize_inversions(table: pd.DataFrame) -> pd.DataFrame:
    """Per method: success rate, median distance moved and median number of elements."""
    grouped = table.groupby("method", sort=False)
    return pd.DataFrame({
        "seeds": grouped.size(),
        "success_rate": grouped["success"].mean(),
        "admitted_rate": grouped["admitted"].mean(),
        "median_distance": grouped["distance"].median(),
        "median_n_elements": grouped["n_elements"].median(),
        "median_p": grouped["p_single_phase"].median(),
    })


# --------------------------------------------------------------------------
# Evidence beside every candidate


@dataclass(frozen=True)
class Reference:
    """What the candidates are compared with: the dataset's alloys, their pairs and distances.

    Attributes
    ----------
    formulas : ndarray of str
    fractions : ndarray (m, 30)
    labels : ndarray (m,) of int
    pairs_seen : ndarray (30, 30) of bool
        Whether two elements occur together in at least one alloy.
    outside_at_pct : float
        A candidate farther than this (at.%) from every alloy is outside the
        data: the :data:`OUTSIDE_QUANTILE` quantile of each alloy's distance
        to its nearest other alloy (leave-one-out).
    sizes : tuple of int
        Fewest and most elements of an alloy of the data.
    """

    formulas: np.ndarray
    fractions: np.ndarray
    labels: np.ndarray
    pairs_seen: np.ndarray
    outside_at_pct: float
    sizes: tuple[int, int]


def reference_from(data: pd.DataFrame) -> Reference:
    """A :class:`Reference` built from a tidy dataset (formula, 30 fractions, label)."""
    x = data[list(ELEMENTS)].to_numpy(dtype=float)
    present = (x > 0).astype(float)
    distances = composition_distance(x, x)
    np.fill_diagonal(distances, np.inf)
    # Duplicated compositions under two spellings would report distance 0.
    nearest = distances.min(axis=1)
    nearest = nearest[nearest > SAME_ALLOY_AT_PCT]
    return Reference(
        formulas=data["formula"].to_numpy(dtype=str),
        fractions=x,
        labels=data["label"].to_numpy(dtype=int),
        pairs_seen=(present.T @ present) > 0,
        outside_at_pct=float(np.quantile(nearest, OUTSIDE_QUANTILE)),
        sizes=(int(present.sum(axis=1).min()), int(present.sum(axis=1).max())),
    )


@lru_cache(maxsize=1)
def dataset_reference() -> Reference:
    """The :class:`Reference` of the 1,373 alloys of :func:`hea_dvae.data.load_dataset` (cached)."""
    return reference_from(load_dataset())


def evidence(frame_or_fractions, predictor, reference: Reference | None = None, neighbours: int = 3) -> pd.DataFrame:
    """The evidence beside candidate alloys, one row per candidate.

    Parameters
    ----------
    frame_or_fractions : DataFrame, array-like (n, 30) or list of formulas
        Candidates: a frame with the 30 element columns (or a ``formula``
        column), fraction rows, or formulas.
    predictor : Ensemble
        Gives ``p_single_phase`` (mean over members) and ``spread`` (std).
    reference : Reference, optional
        The alloys to compare with; default :func:`dataset_reference`.
    neighbours : int
        Nearest alloys listed.

    Returns
    -------
    DataFrame, index of the input frame (else 0..n-1)
        ``p_single_phase``, ``spread``;
        the empirical rules on the corrected-table features
        (:func:`hea_dvae.priors.rules_verdict`, every column prefixed
        ``rules_``): ``rules_omega``, ``rules_delta``, ``rules_vec``,
        ``rules_delta_h_mix``, ``rules_delta_s_mix``, the verdicts
        ``rules_yang2012``, ``rules_zhang2008``, ``rules_guo2011``,
        ``rules_vec_phase`` and the overall ``rules_single_phase``;
        ``nearest`` (text: formula, label and distance of the nearest
        alloys), ``nearest_formula``, ``nearest_label``,
        ``distance_to_data`` (at.%, :func:`composition_distance`);
        ``unseen_pairs`` (element pairs that never occur together in the
        data) and ``n_unseen_pairs``; ``outside_data`` (farther than the
        reference's threshold, or any unseen pair); ``in_dataset`` (within
        :data:`SAME_ALLOY_AT_PCT` of a dataset alloy) and ``dataset_label``
        (its label, else missing).
    """
    reference = dataset_reference() if reference is None else reference
    x = as_fractions(frame_or_fractions)
    index = frame_or_fractions.index if isinstance(frame_or_fractions, pd.DataFrame) else pd.RangeIndex(len(x))
    p, spread = score(predictor, x)
    out = pd.DataFrame({"p_single_phase": p, "spread": spread}, index=index)
    if not len(x):
        return out
    rules = priors.rules_verdict(featurize(x, table=RULES_TABLE))
    # Prefixed: the model's own features (of its table) may sit beside them.
    rules = rules.add_prefix("rules_")
    rules.index = index
    out = out.join(rules)
    flags = data_flags(x, reference, neighbours)
    flags.index = index
    out = out.join(flags)
    out.attrs["outside_at_pct"] = reference.outside_at_pct
    return out


def data_flags(fractions, reference: Reference | None = None, neighbours: int = 3) -> pd.DataFrame:
    """Where alloys stand with respect to the data a model was trained on, one row per alloy.

    Parameters
    ----------
    fractions : array-like (n, 30)
    reference : Reference, optional
        Default :func:`dataset_reference`.
    neighbours : int
        Nearest alloys listed in ``nearest``.

    Returns
    -------
    DataFrame (index 0..n-1)
        ``nearest`` (text: formula, label and distance of the nearest
        alloys), ``nearest_formula``, ``nearest_label``,
        ``distance_to_data`` (at.%, :func:`composition_distance`);
        ``unseen_pairs`` (element pairs that never occur together in the
        data) and ``n_unseen_pairs``; ``outside_data``: farther than the
        reference's threshold, any unseen pair, or a number of elements no
        alloy of the data has (a pure element: the data hold none);
        ``in_dataset`` (within :data:`SAME_ALLOY_AT_PCT` of a dataset alloy)
        and ``dataset_label`` (its label, else missing).
    """
    reference = dataset_reference() if reference is None else reference
    x = np.atleast_2d(np.asarray(fractions, dtype=float))
    out = pd.DataFrame(index=pd.RangeIndex(len(x)))
    if not len(x):
        return out
    distances = composition_distance(x, reference.fractions)
    order = np.argsort(distances, axis=1, kind="stable")[:, :neighbours]
    nearest_d = np.take_along_axis(distances, order, axis=1)
    names = {0: "multi", 1: "single"}
    out["nearest"] = [
        "; ".join(f"{reference.formulas[j]} ({names[reference.labels[j]]}, {d:.1f})" for j, d in zip(row, drow))
        for row, drow in zip(order, nearest_d)
    ]
    out["nearest_formula"] = reference.formulas[order[:, 0]]
    out["nearest_label"] = reference.labels[order[:, 0]]
    out["distance_to_data"] = nearest_d[:, 0]

    unseen = []
    for row in x:
        present = np.flatnonzero(row > 0)
        unseen.append([f"{ELEMENTS[i]}-{ELEMENTS[j]}" for k, i in enumerate(present) for j in present[k + 1:]
                       if not reference.pairs_seen[i, j]])
    out["unseen_pairs"] = [" ".join(pairs) for pairs in unseen]
    out["n_unseen_pairs"] = [len(pairs) for pairs in unseen]
    sizes = (x > 0).sum(axis=1)
    size_unseen = (sizes < reference.sizes[0]) | (sizes > reference.sizes[1])
    out["outside_data"] = (out["distance_to_data"] > reference.outside_at_pct) | (out["n_unseen_pairs"] > 0) \
        | size_unseen
    out["in_dataset"] = out["distance_to_data"] <= SAME_ALLOY_AT_PCT
    out["dataset_label"] = pd.array(np.where(out["in_dataset"], out["nearest_label"], 0), dtype="Int64")
    out.loc[~out["in_dataset"], "dataset_label"] = pd.NA
    return out


def with_evidence(frame: pd.DataFrame, predictor, batch_grams: float | None = None, **kwargs) -> pd.DataFrame:
    """``frame`` with :func:`evidence` (and, given a batch mass, :func:`recipe_columns`) joined.

    The frame's own ``p_single_phase`` and ``spread`` are kept when it has
    them (a screen ranks by its own scores); the 30 element columns move to
    the end; ``attrs`` are kept.
    """
    found = evidence(frame, predictor, **kwargs)
    found = found.drop(columns=[c for c in found.columns if c in frame.columns])
    elements = [c for c in frame.columns if c in ELEMENTS]
    kept = frame
    out = kept.drop(columns=elements).join(found)
    if batch_grams is not None:
        out = out.join(recipe_columns(frame, batch_grams))
    out = out.join(kept[elements])
    out.attrs = dict(frame.attrs)
    if batch_grams is not None:
        out.attrs.setdefault("parameters", {})["batch_grams"] = float(batch_grams)
    return out


def summarize_by_member(seeds, predictor, target: float = 0.9, constraints=None, flip=None, gradient=None) -> pd.DataFrame:
    """:func:`summarize_inversions` of :func:`compare_inversions` with each member of an ensemble alone.

    How much the comparison depends on the training run: the spread over
    members is the seed-to-seed spread of a single model's numbers. Index:
    ``member`` (0, 1, ...) and ``method``.
    """
    members = getattr(predictor, "members", [predictor])
    frames = {}
    for i, member in enumerate(members):
        alone = type(predictor)([member], temperature=getattr(predictor, "temperature", 1.0), name=f"member {i}")
        frames[i] = summarize_inversions(compare_inversions(seeds, alone, target=target, constraints=constraints,
                                                            flip=flip, gradient=gradient))
    return pd.concat(frames, names=["member", "method"])


# --------------------------------------------------------------------------
# Proposals: the candidates of every route, pooled and ranked


def rank_candidates(
    candidates: dict,
    predictor,
    constraints=None,
    batch_grams: float | None = None,
    include_dataset: bool = False,
    inside_first: bool = True,
    top: int | None = None,
    reference: Reference | None = None,
) -> pd.DataFrame:
    """Pool the alloys several routes proposed, score them with one predictor, rank them.

    Parameters
    ----------
    candidates : dict
        route name -> frame of alloys (the 30 element columns, or ``formula``).
    predictor : Ensemble
        Scores every alloy afresh (the routes may have used another model).
    constraints : Constraints or mapping, optional
        Keep only the alloys they admit.
    batch_grams : float, optional
        Add a recipe for this batch mass.
    include_dataset : bool
        Keep alloys already in the dataset (by default they are dropped:
        they are not proposals).
    inside_first : bool
        Rank the alloys that are not ``outside_data`` first: a probability
        far from any known alloy is an extrapolation, whatever its value.
    top : int, optional
        Keep the best ``top``.
    reference : Reference, optional
        For the evidence; default :func:`dataset_reference`.

    Returns
    -------
    DataFrame indexed by ``rank`` (from 1)
        ``formula``, ``routes`` (every route that proposed the alloy),
        ``p_single_phase``, ``spread``, the :func:`evidence` columns, the
        recipe, the 30 fractions; highest probability first (ties: smaller
        spread first), after the alloys inside the data if ``inside_first``.
    """
    pieces = []
    for route, frame in candidates.items():
        x = as_fractions(frame)
        formulas = frame["formula"].tolist() if "formula" in frame else [formula_from_amounts(r, 0.001) for r in x]
        piece = pd.DataFrame(x, columns=list(ELEMENTS))
        piece.insert(0, "formula", formulas)
        piece.insert(1, "route", route)
        pieces.append(piece[np.isfinite(x).all(axis=1)])
    pooled = pd.concat(pieces, ignore_index=True)
    key = pooled[list(ELEMENTS)].round(9).apply(tuple, axis=1)
    routes = pooled.groupby(key, sort=False)["route"].agg(lambda r: ", ".join(dict.fromkeys(r)))
    pooled = pooled.loc[~key.duplicated()].copy()
    pooled["route"] = key[pooled.index].map(routes).to_numpy()
    pooled = pooled.rename(columns={"route": "routes"}).reset_index(drop=True)
    if constraints is not None:
        pooled = pooled[admitted(pooled[list(ELEMENTS)].to_numpy(), constraints)].reset_index(drop=True)
    ranked = with_evidence(pooled, predictor, batch_grams=batch_grams, reference=reference)
    if not include_dataset:
        ranked = ranked[~ranked["in_dataset"]]
    keys, ascending = ["p_single_phase", "spread"], [False, True]
    if inside_first:
        keys, ascending = ["outside_data", *keys], [True, *ascending]
    ranked = ranked.sort_values(keys, ascending=ascending, kind="stable")
    ranked = ranked.head(top) if top is not None else ranked
    ranked.index = pd.RangeIndex(1, len(ranked) + 1, name="rank")
    return stamp(ranked, predictor, route="proposals", routes=list(candidates), constraints=_describe(constraints),
                 batch_grams=batch_grams, include_dataset=include_dataset, inside_first=inside_first, top=top)
