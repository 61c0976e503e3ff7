"""The paper's generator: decode a chosen latent vector with a label, round, re-score.

The decoder :math:`p(x \\mid y, z)` turns any latent vector ``z`` and label
``y`` into a composition; :func:`decode_latent` rounds it (the authors'
rounding, or onto the constraints) and scores it with the whole predictor.
Latent work decodes with ONE member (``predictor.members[0]``): the latent
spaces of models trained from different seeds are not aligned.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..compositions import formula_on_grid, round_as_authors
from ..predictors import differentiable
from .projection import limits, project
from .tables import candidates, describe, stamp


def decoder_model(predictor):
    """The SSVAE that decodes for ``predictor``: its first member."""
    return differentiable(predictor).members[0]


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
        nearest ``step`` on its own in float32, zeros dropped, see
        :func:`hea_dvae.compositions.round_as_authors`); with them,
        :func:`project`.
    step : float
        Rounding step (fraction; 0.01 = 1 at.%).

    Returns
    -------
    DataFrame
        ``z1``.., ``y``, ``formula``, ``p_single_phase``, ``spread`` and the
        30 fractions; provenance in ``attrs``.
    """
    model = decoder_model(predictor)
    z = np.atleast_2d(np.asarray(z, dtype=float))
    y = np.broadcast_to(np.asarray(y, dtype=float), (len(z),)).copy()
    if not (np.isfinite(z).all() and np.isfinite(y).all()):
        raise ValueError("the latent vector z and the label y must be finite numbers")
    if ((y < 0) | (y > 1)).any():
        raise ValueError(f"the decoder label y must lie in [0, 1], got {y[(y < 0) | (y > 1)][0]:g}")
    if z.shape[1] != model.config.z_dim:
        raise ValueError(f"z must have {model.config.z_dim} components for this model, got {z.shape[1]}")
    import torch  # decoding runs the model

    with torch.no_grad():
        decoded = model.decode(z, y).double().cpu().numpy()
    x, formulas = round_decoded(decoded, constraints, step)
    latent = {f"z{i + 1}": z[:, i] for i in range(z.shape[1])}
    frame = candidates(x, formulas, predictor, **latent, y=y)
    return stamp(frame, predictor, route="latent", z=z, y=y, step=step,
                 constraints=describe(constraints))


def round_decoded(decoded: np.ndarray, constraints, step: float) -> tuple[np.ndarray, list[str]]:
    """Decoded compositions rounded: the authors' way without constraints, else projected onto them.

    Returns the fractions (rows renormalised to sum to 1) and the formulas
    as rounded (the authors' amounts may sum to 99 at.%).
    """
    if constraints is None:
        amounts = round_as_authors(decoded, step)
        return amounts / amounts.sum(axis=1, keepdims=True), [formula_on_grid(a, step) for a in amounts]
    x = project(decoded, constraints, step)
    grid = limits(constraints, step).step
    return x, [formula_on_grid(row, grid) if np.isfinite(row).all() else "" for row in x]
