"""Design results as tables: what produced them, and CSV with that provenance on top."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd

from ..elements import ELEMENTS, FEATURE_UNITS
from ..files import write_file
from ..predictors import score
from .constraints import Constraints, as_constraints


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


def units_line(frame: pd.DataFrame) -> str:
    """:data:`UNITS_LINE`, with the units of the descriptors a table holds beyond the 8 features.

    ``predict`` with the forest lists 31 descriptors; ``log10_`` columns
    are base-10 logarithms of the descriptor named after it.
    """
    from ..descriptors import DESCRIPTOR_UNITS

    extra = []
    for column in frame.columns:
        name = column.removeprefix("log10_")
        if column in FEATURE_UNITS or name not in DESCRIPTOR_UNITS:
            continue
        unit = DESCRIPTOR_UNITS[name] or "dimensionless"
        extra.append(f"{column} log10 of {name} ({unit})" if column != name else f"{column} {unit}")
    if not extra:
        return UNITS_LINE
    head, tail = UNITS_LINE.split("; ", 1)
    return f"{head}, {', '.join(extra)}; {tail}"


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
        lines.append(units_line(frame))
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


def candidates(x: np.ndarray, formulas, predictor, **columns) -> pd.DataFrame:
    p, spread = score(predictor, x)
    frame = pd.DataFrame({**columns, "formula": list(formulas), "p_single_phase": p, "spread": spread})
    elements = pd.DataFrame(x, columns=list(ELEMENTS), index=frame.index)
    return pd.concat([frame, elements], axis=1)


def describe(constraints):
    """Constraints as plain values for a table's provenance (None when there are none)."""
    return None if constraints is None else _plain(as_constraints(constraints))
