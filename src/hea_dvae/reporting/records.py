"""Key numbers of a chapter: recorded once, glued into the prose, checked by the tests.

A chapter calls :func:`chapter` once, then :func:`record` for every number it
wants checked or quoted. Each number is

- glued under its key (myst-nb ``glue``), so the prose can quote it with
  ``{glue:text}`key:.3f``` and cannot drift from the computation;
- kept in memory (:func:`records`) and, when ``$HEA_DVAE_RECORD_DIR`` is
  set, written to ``$HEA_DVAE_RECORD_DIR/<chapter>.json`` after every call
  (the tests compare that file with ``tests/reference/<chapter>.json``).

Two kinds of numbers exist, and the checks treat them differently:

``exact``
    Computed exactly from the data (counts, features, the split, tables that
    do not depend on training): compared to a relative 1e-9.
``trained``
    Depends on training, hence on the CPU's floating-point kernels. Give the
    seed-to-seed standard deviation ``spread`` and the number of runs ``n``
    the number averages over: the reference writer derives the tolerance
    from them (:func:`hea_dvae.reporting.tolerances.tolerance_for`). A number
    with no seed spread (an ensemble's AUC) gives its own ``tolerance`` and
    the ``basis`` of it; :func:`record_released`, :func:`record_decoded`,
    :func:`record_std` and :func:`record_paired` derive both for the usual
    cases.
"""

from __future__ import annotations

import ast
import json
import math
import os
import time
from pathlib import Path

import numpy as np

from ..files import write_file
from .tolerances import paired_interval_tolerance, std_tolerance

KINDS = ("exact", "trained")

#: Why a number of the authors' released model (float32 inference, no
#: training) carries a small tolerance.
FLOAT32 = "released weights; float32 kernels of another CPU change the last bits"

#: Tolerance (at.% in one element) of a formula decoded by a float32 model and
#: rounded to whole at.%, and its basis.
DECODED_FORMULA_TOLERANCE = 1.0
DECODED_FORMULA = (FLOAT32 + "; an amount on a rounding boundary may move by one at.% "
                   "(compared as compositions)")

_state: dict = {"chapter": None, "records": {}, "start": None}


def chapter(name: str) -> None:
    """Start recording for chapter ``name`` (e.g. ``"02_model"``); forgets earlier records."""
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"chapter name must be a plain file stem such as '02_model', got {name!r}")
    _state.update(chapter=name, records={}, start=time.time())
    path = _record_path()
    if path is not None and path.exists():
        path.unlink()


def elapsed_seconds() -> float | None:
    """Seconds since :func:`chapter` was called."""
    return None if _state["start"] is None else time.time() - _state["start"]


def _record_path() -> Path | None:
    folder = os.environ.get("HEA_DVAE_RECORD_DIR")
    if not folder or _state["chapter"] is None:
        return None
    return Path(folder) / f"{_state['chapter']}.json"


def _plain(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"record values must be numbers or strings, got {type(value).__name__}")


def record(
    key: str,
    value,
    *,
    kind: str = "exact",
    spread: float | None = None,
    n: int | None = None,
    tolerance: float | None = None,
    basis: str | None = None,
    signed: bool = False,
    glue: bool = True,
):
    """Record one key number of the current chapter.

    Returns nothing, so that a cell ending in ``record(...)`` prints nothing:
    a printed trained number would be compared text for text by nbval.

    Parameters
    ----------
    key : str
        Unique within the chapter; also the glue name.
    value : number or str
        The number (a string is compared exactly).
    kind : {"exact", "trained"}
        See the module docstring.
    spread, n : float, int
        For a ``trained`` mean: the standard deviation over the ``n`` runs
        averaged (ddof=1).
    tolerance, basis : float, str
        An explicit absolute tolerance and where it comes from (for trained
        numbers without a seed spread).
    signed : bool
        Its sign carries a conclusion (a gain, a difference): a re-execution
        may move it within its tolerance but never across zero.
    glue : bool
        Also glue the value for the prose (needs a notebook kernel).
    """
    if _state["chapter"] is None:
        raise RuntimeError("call hea_dvae.reporting.chapter(name) before record()")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    plain = _plain(value)
    if isinstance(plain, float) and not math.isfinite(plain):
        raise ValueError(f"record {key!r}: value is {plain}, not a finite number")
    if kind == "trained" and tolerance is None and (spread is None or n is None):
        raise ValueError(
            f"record {key!r}: a trained number needs spread and n (seed spread) or an "
            "explicit tolerance with its basis"
        )
    if tolerance is not None and not basis:
        raise ValueError(f"record {key!r}: an explicit tolerance needs a basis (where it comes from)")
    entry = {"value": plain, "kind": kind}
    if spread is not None:
        entry["spread"] = float(spread)
        entry["n"] = int(n)
    if tolerance is not None:
        entry.update(tolerance=float(tolerance), basis=basis)
    if signed:
        entry["signed"] = True
    _state["records"][key] = entry
    _write()
    if glue:
        _glue(key, plain)


def record_released(key: str, value, tolerance: float = 1e-4, basis: str = FLOAT32, glue: bool = True):
    """:func:`record` a number computed with float32 weights (trained kind, explicit tolerance)."""
    record(key, value, kind="trained", tolerance=tolerance, basis=basis, glue=glue)


def record_decoded(key: str, formula: str, glue: bool = True):
    """:func:`record` a formula decoded by a float32 model: compared as a composition, within one at.%."""
    record(key, formula, kind="trained", tolerance=DECODED_FORMULA_TOLERANCE, basis=DECODED_FORMULA, glue=glue)


def record_std(key: str, std: float, n: int, floor: float, glue: bool = True):
    """:func:`record` the seed standard deviation of a trained number over ``n`` runs.

    Its tolerance is that of a standard deviation, not of a mean
    (:func:`hea_dvae.reporting.tolerances.std_tolerance`), at least ``floor``.
    """
    tolerance, basis = std_tolerance(std, n, floor)
    record(key, std, kind="trained", tolerance=tolerance, basis=basis, glue=glue)


def record_paired(key: str, comparison, floor: float = 0.02, glue: bool = True):
    """:func:`record` the mean paired difference of one row of a paired comparison.

    ``comparison`` is a row of :func:`hea_dvae.metrics.paired_frame` (a
    paired bootstrap over seeds and test alloys, 95 % interval); the
    tolerance is read from its interval
    (:func:`hea_dvae.reporting.tolerances.paired_interval_tolerance`).
    """
    tolerance, basis = paired_interval_tolerance(comparison["low"], comparison["high"], floor)
    record(key, comparison["difference"], kind="trained", tolerance=tolerance, basis=basis, glue=glue)


def _glue(key: str, value) -> None:
    try:
        from myst_nb import glue
    except ImportError:  # pragma: no cover - book extra not installed
        return
    glue(key, value, display=False)


def _write() -> None:
    path = _record_path()
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    # All or nothing: a reader (the tests, the headline page) never sees half a file.
    write_file(path, json.dumps(_state["records"], indent=1, sort_keys=True) + "\n")


def records() -> dict:
    """The records of the current chapter: key -> {"value", "kind", ...}."""
    return {k: dict(v) for k, v in _state["records"].items()}


def read_notebook_records(path: str | os.PathLike) -> dict:
    """The values glued in an executed notebook: key -> number, string or bool.

    Reads the outputs myst-nb's ``glue`` leaves (output metadata
    ``scrapbook.name``), which :func:`record` writes for every key. Glued
    figures and tables are not values and are skipped.

    Raises
    ------
    FileNotFoundError
        When there is no such notebook (the chapter was never executed).
    """
    notebook = json.loads(Path(path).read_text())
    found = {}
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []):
            meta = output.get("metadata", {}).get("scrapbook")
            if not meta or "name" not in meta:
                continue
            text = output.get("data", {}).get(meta.get("mime_prefix", "") + "text/plain")
            if isinstance(text, list):
                text = "".join(text)
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError, TypeError):
                continue  # a figure's or table's repr
            if isinstance(value, (bool, int, float, str)):
                found[meta["name"]] = value
    return found
