"""Classification and reconstruction metrics of a trained model on a split part.

Reconstruction follows the authors' ``reconstruct.py``: encode an alloy with
its true label to the mean of q(z|x,y), decode with the same label, and
compare the decoded composition with the true one in atomic percent.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from .data import as_arrays
from .scores import (  # noqa: F401  (re-exported: metrics is the evaluation API)
    PRESENCE_THRESHOLD,
    accuracy,
    brier,
    reconstruction_errors,
    roc_auc,
)

@torch.no_grad()
def reconstruct(model, fractions, labels) -> np.ndarray:
    """decode(mean of q(z|x,y), y) for each alloy, as fractions of shape (n, 30)."""
    was_training = model.training
    model.eval()
    try:
        mean, _ = model.encode(fractions, labels)
        return model.decode(mean, labels).cpu().numpy()
    finally:
        model.train(was_training)


def evaluate(model, frame) -> dict:
    """All metrics of ``model`` on a split part (a frame from :func:`hea_dvae.data.paper_split`).

    Returns
    -------
    dict
        ``n``, ``accuracy``, ``auc``, ``brier`` of q(y|e), and the
        reconstruction errors of :func:`reconstruction_errors`
        (``mae_all``, ``mae_present``, ``element_set_recovered``), obtained by
        encoding and decoding each alloy with its true label.
    """
    fractions, features, labels = as_arrays(frame)
    probabilities = model.predict_proba(features)
    reconstructed = reconstruct(model, fractions, labels)
    return {
        "n": int(len(labels)),
        "accuracy": accuracy(labels, probabilities),
        "auc": roc_auc(labels, probabilities),
        "brier": brier(labels, probabilities),
        **reconstruction_errors(fractions, reconstructed),
    }


def summarize(scores, columns=None, decimals: int = 3) -> pd.DataFrame:
    """Mean and standard deviation over runs, and a ``mean ± std`` text column.

    Parameters
    ----------
    scores : DataFrame or list of dict
        One row per run (e.g. one per seed), one column per metric.
    columns : list of str, optional
        Metrics to summarise; default every numeric column but ``n`` and ``seed``.
    decimals : int
        Rounding of the text column.

    Returns
    -------
    DataFrame
        Index: metric; columns ``mean``, ``std`` (sample, ddof=1), ``runs``
        and ``mean ± std``.
    """
    frame = pd.DataFrame(scores)
    if columns is None:
        columns = [c for c in frame.select_dtypes("number").columns if c not in ("n", "seed")]
    values = frame[list(columns)]
    out = pd.DataFrame({"mean": values.mean(), "std": values.std(ddof=1), "runs": len(frame)})
    out["mean ± std"] = [
        f"{m:.{decimals}f} ± {s:.{decimals}f}" for m, s in zip(out["mean"], out["std"].fillna(0))
    ]
    return out


def comparison_table(runs: dict, columns, decimals: int = 3) -> pd.DataFrame:
    """One row per method: ``mean ± std`` over its runs, or the value of a single run.

    Parameters
    ----------
    runs : dict
        method name -> DataFrame with one row per run and a column per metric
        (missing metrics are shown as empty).
    columns : list of str
        Metrics to show, in order.
    """
    table = {}
    for name, frame in runs.items():
        frame = pd.DataFrame(frame)
        row = {}
        for column in columns:
            if column not in frame:
                row[column] = ""
                continue
            values = frame[column].astype(float)
            if len(values) > 1:
                row[column] = f"{values.mean():.{decimals}f} ± {values.std(ddof=1):.{decimals}f}"
            else:
                row[column] = f"{values.iloc[0]:.{decimals}f}"
        row["runs"] = len(frame)
        table[name] = row
    return pd.DataFrame.from_dict(table, orient="index")[[*columns, "runs"]]
