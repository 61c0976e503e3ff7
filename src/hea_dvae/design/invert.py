"""Moving alloys toward a target probability of a single phase: the paper's loop and gradients.

label-flip inversion (:func:`invert_flip`)
    The paper's Fig. 7 loop: encode the current alloy with its predicted
    probability :math:`p`, decode with :math:`1 - p`, round, re-score, repeat
    until :math:`p` exceeds the target.
gradient inversion (:func:`invert_gradient`)
    Beyond the paper: optimise the composition on the simplex (a softmax over
    the allowed elements) through the differentiable featurizer and the
    classifier toward the target probability, with a penalty on the distance
    from the seed and on the constraints; then round and check.

Both return an :class:`Inversion`: every step, and the final alloys with
``success`` (the target reached by an alloy of at least two elements),
``distance`` from the seed and whether the constraints admit it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from ..checks import integer, number
from ..compositions import as_fractions, composition_distance, formula_on_grid
from ..config import show_progress
from ..elements import ELEMENTS
from ..features import featurize
from ..predictors import differentiable, score
from .constraints import as_constraints
from .decode import decoder_model, round_decoded
from .projection import admitted, limits, project, support
from .tables import candidates, describe, stamp

#: A design succeeds only as an alloy: a pure element reaching the target is
#: not a design (the data hold no pure element, so the model never saw one).
MIN_ALLOY_ELEMENTS = 2

#: Gradient inversion starts absent allowed elements at this fraction (0.1 at.%).
TRACE = 1e-3

#: Weight of the squared bound violations in the gradient inversion's loss.
BOUND_WEIGHT = 1e3


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
    """Names (the formulas as written, else at.% formulas) and fractions of the starting alloys."""
    if isinstance(seeds, str):
        seeds = [seeds]
    x = as_fractions(seeds)
    if isinstance(seeds, (list, tuple)) and all(isinstance(s, str) for s in seeds):
        return list(seeds), x
    return [formula_on_grid(row, 0.001) for row in x], x


def _check_target(target: float) -> float:
    return number("target probability", target, 0, 1, low_open=True, high_open=True)


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
    max_steps = integer("max_steps", max_steps, 0)
    names, x_seed = _seeds(seeds)
    model = decoder_model(predictor)
    if constraints is not None:
        x_seed, _ = round_decoded(x_seed, constraints, step)
    rows, finals = [], []
    for name, start in zip(names, x_seed):
        x, formula = start.copy(), name
        for iteration in range(max_steps + 1):
            p, spread = (v[0] for v in score(predictor, x[None]))
            rows.append({"seed": name, "step": iteration, "formula": formula, "p_single_phase": p,
                         "spread": spread, "distance": float(composition_distance(x, start)[0, 0]),
                         **dict(zip(ELEMENTS, x))})
            if p >= target or iteration == max_steps:
                break
            y_in = p if label == "probability" else float(p >= 0.5)
            with torch.no_grad():
                z, _ = model.encode(x[None], y_in)
                decoded = model.decode(z, 1.0 - y_in).double().cpu().numpy()
            (x,), (formula,) = round_decoded(decoded, constraints, step)
            if not np.isfinite(x).all():
                break
        finals.append(rows[-1] | {"steps": iteration})
    trajectory = pd.DataFrame(rows)
    final = _finish(pd.DataFrame(finals), target, constraints)
    parameters = dict(route="invert", method="flip", target=target, max_steps=max_steps, label=label,
                      step=step, constraints=describe(constraints))
    return Inversion(stamp(trajectory, predictor, **parameters), stamp(final, predictor, **parameters))


def _finish(final: pd.DataFrame, target: float, constraints) -> pd.DataFrame:
    x = final[list(ELEMENTS)].to_numpy(dtype=float)
    sizes = (x > 0).sum(axis=1)
    final.insert(final.columns.get_loc("distance") + 1, "n_elements", sizes)
    final.insert(final.columns.get_loc("p_single_phase"), "success",
                 (final["p_single_phase"] >= target) & (sizes >= MIN_ALLOY_ELEMENTS))
    final.insert(final.columns.get_loc("n_elements") + 1, "admitted", admitted(x, constraints))
    return final


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
    number("distance_weight", distance_weight, 0)
    number("learning_rate", learning_rate, 0, low_open=True)
    number("margin", margin)
    integer("steps", steps, 0)
    integer("refine_steps", refine_steps, 0)
    integer("record_every", record_every, 1)
    predictor = differentiable(predictor)
    constraints = as_constraints(constraints)
    bounds = limits(constraints, step)
    names, x_seed = _seeds(seeds)
    goal = math.log(target / (1 - target)) + margin
    seed_t = torch.as_tensor(x_seed, dtype=torch.float64)
    upper_t = torch.as_tensor(bounds.upper, dtype=torch.float64)
    lower_t = torch.as_tensor(bounds.lower, dtype=torch.float64)
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
        pool = np.broadcast_to(bounds.allowed, x_seed.shape)
        start = np.where(pool, x_seed, 0.0)
        x_free = run(pool, start, steps, 1, 0, False)
        keep = np.zeros_like(pool)
        for r, row in enumerate(x_free):
            keep[r, support(row, bounds)] = True
        x_kept = run(keep, np.where(keep, x_free, 0.0), refine_steps, 2, steps, True)
    finally:
        bar.close()
    x_final = project(x_kept, constraints, bounds.step)
    formulas = [formula_on_grid(row, bounds.step) if np.isfinite(row).all() else "" for row in x_final]
    final = candidates(np.nan_to_num(x_final), formulas, predictor, seed=names)
    final.insert(final.columns.get_loc("spread") + 1, "distance",
                 np.diag(composition_distance(np.nan_to_num(x_final), x_seed)))
    final["steps"] = steps + refine_steps
    final = _finish(final, target, constraints)
    final.loc[~np.isfinite(x_final).all(axis=1), ["success", "admitted"]] = False
    trajectory = pd.DataFrame(records)
    parameters = dict(route="invert", method="gradient", target=target, distance_weight=distance_weight,
                      steps=steps, refine_steps=refine_steps, learning_rate=learning_rate, margin=margin,
                      step=bounds.step, constraints=describe(constraints))
    return Inversion(stamp(trajectory, predictor, **parameters), stamp(final, predictor, **parameters))


def _record(records: list, names, x: torch.Tensor, logit: torch.Tensor, distance: torch.Tensor, phase: int, step: int):
    x = x.detach().numpy()
    p = torch.sigmoid(logit.detach()).numpy()
    for name, row, p_row, d in zip(names, x, p, distance.detach().numpy()):
        records.append({"seed": name, "step": step, "phase": phase,
                        "formula": formula_on_grid(row, 0.001), "p_single_phase": float(p_row),
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
    return stamp(table, predictor, route="compare", target=target, constraints=describe(constraints),
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


def summarize_by_member(seeds, predictor, target: float = 0.9, constraints=None, flip=None, gradient=None) -> pd.DataFrame:
    """:func:`summarize_inversions` of :func:`compare_inversions` with each member of an ensemble alone.

    How much the comparison depends on the training run: the spread over
    members is the seed-to-seed spread of a single model's numbers. Index:
    ``member`` (0, 1, ...) and ``method``.
    """
    frames = {}
    for i in range(predictor.n_members):
        frames[i] = summarize_inversions(compare_inversions(seeds, predictor.member(i), target=target,
                                                            constraints=constraints, flip=flip, gradient=gradient))
    return pd.concat(frames, names=["member", "method"])
