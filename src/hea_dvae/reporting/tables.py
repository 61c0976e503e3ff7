"""Readable tables: names with units instead of code names, for every chapter.

:func:`readable` renames a table's columns and index with
:data:`COLUMN_LABELS` and prints counts as integers; the chapters show their
tables through it, so that one code name reads the same on every page.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..features import FEATURE_UNITS

#: Plain-text names of the features, without units (tables and glued
#: sentences are HTML, not TeX).
FEATURE_NAMES: dict[str, str] = {
    "k": "bulk modulus K",
    "vm": "molar volume Vm",
    "tm": "melting point Tm",
    "vac": "valence electrons VEC",
    "delta": "size mismatch δ",
    "delta_chi": "electronegativity difference Δχ",
    "delta_s_mix": "mixing entropy ΔS_mix",
    "delta_h_mix": "mixing enthalpy ΔH_mix",
}

#: Code name -> what a reader sees in a table, with the unit. The feature
#: ``vac`` is the valence-electron concentration (VEC).
COLUMN_LABELS: dict[str, str] = {
    **{name: f"{symbol} ({FEATURE_UNITS[name]})" if FEATURE_UNITS.get(name) else symbol
       for name, symbol in FEATURE_NAMES.items()},
    "formula": "formula",
    "label": "single phase (1) or not (0)",
    "alloys": "alloys",
    "n": "alloys",
    "runs": "runs",
    "seed": "seed",
    "n_elements": "elements in the alloy",
    "single_phase_rate": "single-phase share",
    "single_phase_share": "single-phase share",
    "accuracy": "accuracy",
    "auc": "ROC AUC",
    "brier": "Brier score",
    "ece": "calibration error (ECE)",
    "mae_all": "MAE, all 30 elements (at.%)",
    "mae_present": "MAE, elements present (at.%)",
    "element_set_recovered": "element set recovered (share)",
    "max_abs_diff": "largest absolute difference",
    "max_rel_diff": "largest relative difference",
    "worst_alloy": "alloy with the largest difference",
    "alloys_changed": "alloys changed by more than 1 %",
    "median_rel_change": "median relative change",
    "max_abs_change": "largest absolute change",
    "feature": "feature",
    # paired comparisons: one vocabulary (hea_dvae.metrics.PAIRED_COLUMNS)
    "difference": "difference (mean over runs)",
    "low": "95 % interval, low",
    "high": "95 % interval, high",
    "clear": "interval excludes 0",
    "wins": "runs the first wins",
    "ties": "runs tied",
    "p_value": "p (corrected t-test)",
    "folds": "folds",
    "seeds": "seeds",
    "std": "std",
}

_ZERO_SPREAD = re.compile(r"\s*±\s*0\.0+$")


def readable(table, labels: dict | None = None):
    """A copy of a table fit for readers: labelled columns, integers as integers.

    - Column names, index labels and their names are renamed with
      :data:`COLUMN_LABELS` (plus ``labels``, which win); other names stay.
    - A float column of whole numbers some of which exceed 1 (counts that a
      transpose or a missing value turned into floats) prints as integers;
      fractions that happen to be 0 or 1 stay as they are.
    - ``"0.912 ± 0.000"`` becomes ``"0.912"``: a method without seed spread
      has no ± to show.

    Parameters
    ----------
    table : DataFrame or Series
    labels : dict, optional
        Extra or overriding code name -> label.
    """
    names = {**COLUMN_LABELS, **(labels or {})}
    frame = table.to_frame() if isinstance(table, pd.Series) else table.copy()
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_float_dtype(values):
            finite = values.dropna()
            whole = len(finite) and np.all(np.isfinite(finite)) and np.all(finite == np.round(finite))
            if whole and np.abs(finite).max() > 1:
                frame[column] = values.round().astype("Int64")
        elif values.dtype == object or pd.api.types.is_string_dtype(values):
            frame[column] = values.map(lambda v: _ZERO_SPREAD.sub("", v) if isinstance(v, str) else v)

    def rename(value):
        return names.get(value, value) if isinstance(value, str) else value

    frame = frame.rename(columns=rename, index=rename)
    frame.index.names = [rename(n) for n in frame.index.names]
    frame.columns.names = [rename(n) for n in frame.columns.names]
    return frame
