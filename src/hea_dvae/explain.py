r"""Explaining the phase classifier q(y|e): exact Shapley values and the empirical rules.

The classifier head of the SSVAE reads only the eight engineered features
(:data:`hea_dvae.features.FEATURES`), so exact Shapley values are cheap:
:func:`shap_values` enumerates all :math:`2^8 = 256` feature coalitions
with :class:`shap.explainers.Exact`, replacing the features outside a
coalition by those of background alloys (interventional Shapley values of
an independent masker). For alloy :math:`i` and output :math:`f`, the values
:math:`\phi_{ij}` add up exactly:

.. math:: \sum_j \phi_{ij} = f(e_i) - \mathbb E_{b}[f(e_b)],

the prediction minus the base value (the mean output over the background).

The rest summarises explanations (:func:`mean_abs_shap`,
:func:`importance_table`, :func:`pairwise_kendall`) and holds the model
against the empirical rules of :func:`hea_dvae.rules.rules_verdict`
(:func:`rules_versus_model`, :func:`agreement_with_rules`).

Every function takes the model (an SSVAE or an ensemble: anything with a
``classify_logits(e: Tensor)`` of raw features) as an argument.
"""

from __future__ import annotations

import itertools
from typing import Mapping

import numpy as np
import pandas as pd
import shap
import torch
from scipy.stats import kendalltau
from tqdm.auto import tqdm

from . import checks
from .config import show_progress
from .features import ELEMENTS, FEATURES
from .rules import rules_verdict

#: What a Shapley value can explain: q(y=1|e), or its log-odds.
OUTPUTS = ("probability", "logit")

def _feature_array(features) -> np.ndarray:
    if isinstance(features, pd.DataFrame):
        missing = [c for c in FEATURES if c not in features.columns]
        if missing:
            raise ValueError(f"features lack the columns {missing}")
        features = features[list(FEATURES)]
    array = np.asarray(features, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != len(FEATURES):
        raise ValueError(f"features must have shape (n, {len(FEATURES)}), got {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError("features must be finite")
    return array


def model_output(model, output="probability"):
    """A numpy function of raw features: the model's probability or logit.

    Parameters
    ----------
    model : SSVAE or Ensemble
        Anything with ``classify_logits(e: Tensor) -> Tensor``.
    output : {"probability", "logit"} or sequence of them
        One output gives values of shape (n,); a sequence gives (n, k), one
        column per output, from a single pass through the network.
    """
    outputs = [output] if isinstance(output, str) else list(output)
    unknown = [o for o in outputs if o not in OUTPUTS]
    if unknown or not outputs:
        raise ValueError(f"output must be one or more of {OUTPUTS}, got {output!r}")

    @torch.no_grad()
    def evaluate(features) -> np.ndarray:
        e = torch.from_numpy(np.array(features, dtype=np.float32)).reshape(-1, len(FEATURES))
        logits = model.classify_logits(e)
        columns = [torch.sigmoid(logits) if o == "probability" else logits for o in outputs]
        values = torch.stack(columns, dim=-1).double().numpy()
        return values[:, 0] if isinstance(output, str) else values

    return evaluate


def background_sample(background, size: int | None = None, seed: int = 0) -> np.ndarray:
    """The background alloys' features, or a seeded subsample of ``size`` of them (row order kept)."""
    background = _feature_array(background)
    if size is None:
        return background
    size = checks.integer("background size", size, minimum=1)
    if size >= len(background):
        return background
    rows = np.sort(np.random.default_rng(seed).choice(len(background), size=size, replace=False))
    return background[rows]


def shap_values(
    model,
    features,
    background,
    output: str = "probability",
    background_size: int | None = None,
    seed: int = 0,
    chunk: int = 32,
    progress: bool | None = None,
) -> shap.Explanation:
    """Exact Shapley values of the classifier over the eight features.

    Parameters
    ----------
    model : SSVAE or Ensemble
        Anything with ``classify_logits(e: Tensor)`` of raw features.
    features : DataFrame or array-like (n, 8)
        Raw features of the alloys to explain.
    background : DataFrame or array-like (m, 8)
        Raw features of the background alloys (e.g. the labelled training
        alloys): a feature outside a coalition takes their values.
    output : {"probability", "logit"}
        Explain q(y=1|e), or its log-odds.
    background_size : int, optional
        Use a seeded subsample of this many background alloys (the cost is
        ``n * 256 * m`` network evaluations).
    seed : int
        Seed of the background subsample.
    chunk : int
        Alloys explained per call (memory: ``chunk * 256 * m`` rows).
    progress : bool, optional
        Progress bar; default from ``$HEA_DVAE_PROGRESS``.

    Returns
    -------
    shap.Explanation
        ``values`` (n, 8), ``base_values`` (n,) (the mean output over the
        background), ``data`` (the features) and ``feature_names``
        (:data:`FEATURES`). ``values.sum(1) + base_values`` is the output.
    """
    if not isinstance(output, str):
        raise ValueError(f"output must be one of {OUTPUTS}; for several, use shap_values_by_output")
    return shap_values_by_output(model, features, background, (output,), background_size, seed, chunk,
                                 progress)[output]


def shap_values_by_output(
    model,
    features,
    background,
    outputs=OUTPUTS,
    background_size: int | None = None,
    seed: int = 0,
    chunk: int = 32,
    progress: bool | None = None,
) -> dict[str, shap.Explanation]:
    """:func:`shap_values` of several outputs at the cost of one (one pass through the network).

    Returns
    -------
    dict
        output name -> :class:`shap.Explanation`, as from :func:`shap_values`.
    """
    outputs = list(outputs)
    function = model_output(model, outputs)  # checks the names
    explained = _feature_array(features)
    reference = background_sample(background, background_size, seed)
    checks.integer("chunk", chunk, minimum=1)
    masker = shap.maskers.Independent(reference, max_samples=len(reference))
    explainer = shap.explainers.Exact(function, masker)
    values, base_values = [], []
    starts = range(0, len(explained), chunk)
    for start in tqdm(starts, desc="exact SHAP", unit="chunk", disable=not show_progress(progress)):
        part = explainer(explained[start:start + chunk], silent=True)
        # shap gives (rows, features, outputs) and (rows, outputs).
        values.append(np.asarray(part.values, dtype=np.float64).reshape(-1, len(FEATURES), len(outputs)))
        base_values.append(np.asarray(part.base_values, dtype=np.float64).reshape(-1, len(outputs)))
    values = np.concatenate(values) if values else np.zeros((0, len(FEATURES), len(outputs)))
    base_values = np.concatenate(base_values) if base_values else np.zeros((0, len(outputs)))
    return {
        name: shap.Explanation(
            values=values[:, :, k],
            base_values=base_values[:, k],
            data=explained,
            feature_names=list(FEATURES),
            output_names=name,
        )
        for k, name in enumerate(outputs)
    }


def mean_abs_shap(explanation: shap.Explanation) -> pd.Series:
    """Mean absolute Shapley value of each feature, largest first (the beeswarm's order)."""
    values = np.abs(np.asarray(explanation.values)).mean(axis=0)
    names = list(explanation.feature_names or FEATURES)
    return pd.Series(values, index=pd.Index(names, name="feature"), name="mean_abs_shap").sort_values(
        ascending=False, kind="stable"
    )


def importance_table(explanations: Mapping[str, shap.Explanation]) -> pd.DataFrame:
    """Mean |SHAP| of every feature (rows, :data:`FEATURES` order) for each explanation (columns)."""
    if not explanations:
        raise ValueError("no explanations given")
    return pd.DataFrame(
        {name: mean_abs_shap(explanation).reindex(list(FEATURES)) for name, explanation in explanations.items()}
    )


def importance_ranks(importance: pd.DataFrame) -> pd.DataFrame:
    """Rank of each feature within each column of :func:`importance_table` (1 = most important)."""
    return importance.rank(ascending=False, method="min").astype(int)


def pairwise_kendall(importance: pd.DataFrame) -> pd.DataFrame:
    """Kendall's tau between the feature rankings of every pair of columns.

    Returns
    -------
    DataFrame
        ``first``, ``second`` (column names) and ``tau`` (1: same order of
        all eight features; 0: unrelated; -1: reversed).
    """
    rows = []
    for first, second in itertools.combinations(importance.columns, 2):
        tau = kendalltau(importance[first], importance[second]).statistic
        rows.append({"first": first, "second": second, "tau": float(tau)})
    return pd.DataFrame(rows, columns=["first", "second", "tau"])


def value_correlation(explanation: shap.Explanation, feature: str) -> float:
    """Pearson correlation of ``feature``'s value with its Shapley value over the explained alloys.

    The direction in which the feature acts: positive when high values push
    the output up (toward single phase for the probability), negative when
    they push it down; what a dependence plot shows, as one number.
    """
    names = list(explanation.feature_names or FEATURES)
    if feature not in names:
        raise ValueError(f"unknown feature {feature!r}; the explanation has {names}")
    column = names.index(feature)
    values = np.asarray(explanation.data, dtype=float)[:, column]
    shapley = np.asarray(explanation.values, dtype=float)[:, column]
    if len(values) < 2 or values.std() == 0 or shapley.std() == 0:
        raise ValueError(f"{feature!r} or its Shapley values are constant over the explained alloys: "
                         "no correlation")
    return float(np.corrcoef(values, shapley)[0, 1])


def order_agreement(importance: pd.Series, reference_order) -> float:
    """Kendall's tau between a mean-|SHAP| series and a reference order (most important first)."""
    reference_order = list(reference_order)
    if sorted(reference_order) != sorted(importance.index):
        raise ValueError(f"the reference order {reference_order} must name the features {list(importance.index)}")
    reference_rank = pd.Series(np.arange(len(reference_order), 0, -1), index=reference_order)
    return float(kendalltau(importance.reindex(reference_order), reference_rank).statistic)


# --------------------------------------------------------------------------
# The model against the empirical rules


def rules_versus_model(frame: pd.DataFrame, probability, threshold: float = 0.5) -> pd.DataFrame:
    """One row per alloy: label, the model's verdict and the rules' verdicts.

    Parameters
    ----------
    frame : DataFrame
        ``formula``, the 8 features and ``label``.
    probability : array-like (n,)
        The model's q(y=1|e) for the frame's alloys.
    threshold : float
        The model says "single phase" above it.

    Returns
    -------
    DataFrame
        ``formula``, ``n_elements`` (if the frame has the 30 fractions),
        ``label``, ``probability``, ``model`` (bool) and the columns of
        :func:`hea_dvae.rules.rules_verdict` (``omega``, ``delta``,
        ``vec``, ..., the boolean rules and ``single_phase``).
    """
    probability = np.asarray(probability, dtype=np.float64).reshape(-1)
    if len(probability) != len(frame):
        raise ValueError(f"{len(frame)} alloys but {len(probability)} probabilities")
    verdict = rules_verdict(frame[list(FEATURES)]).reset_index(drop=True)
    head = pd.DataFrame(
        {
            "formula": frame["formula"].to_numpy(),
            "label": frame["label"].to_numpy(),
            "probability": probability,
            "model": probability > threshold,
        }
    )
    if all(symbol in frame.columns for symbol in ELEMENTS):
        head.insert(1, "n_elements", (frame[list(ELEMENTS)].to_numpy() > 0).sum(axis=1))
    return pd.concat([head, verdict.drop(columns=["delta_h_mix", "delta_s_mix"], errors="ignore")], axis=1)


def agreement_with_rules(table: pd.DataFrame, rules=("yang2012", "guo2011", "single_phase")) -> pd.DataFrame:
    """How often the model and each rule agree, and how often each is right.

    Parameters
    ----------
    table : DataFrame
        From :func:`rules_versus_model`.
    rules : sequence of str
        Boolean verdict columns to compare.

    Returns
    -------
    DataFrame
        One row per rule: ``agree`` (share of alloys where rule and model
        say the same), ``rule_accuracy``, ``model_accuracy`` (against the
        labels), and the counts of disagreements won by each side:
        ``model_right`` and ``rule_right``.
    """
    label = table["label"].to_numpy() == 1
    model = table["model"].to_numpy(dtype=bool)
    rows = {}
    for rule in rules:
        verdict = table[rule].to_numpy(dtype=bool)
        differ = verdict != model
        rows[rule] = {
            "agree": float((~differ).mean()),
            "rule_accuracy": float((verdict == label).mean()),
            "model_accuracy": float((model == label).mean()),
            "disagreements": int(differ.sum()),
            "model_right": int((differ & (model == label)).sum()),
            "rule_right": int((differ & (verdict == label)).sum()),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def disagreements(table: pd.DataFrame, rule: str = "single_phase") -> pd.DataFrame:
    """The alloys on which the model and ``rule`` disagree, with who is right.

    Returns the rows of ``table`` where they differ, with a ``right`` column
    (``"model"`` or ``"rule"``), sorted by it and then by probability.
    """
    differ = table[rule].astype(bool) != table["model"].astype(bool)
    out = table.loc[differ].copy()
    out["right"] = np.where(out["model"] == (out["label"] == 1), "model", "rule")
    return out.sort_values(["right", "probability"], ascending=[True, False], kind="stable")
