"""Supervised baselines on the same split and the same 8 engineered features.

Each baseline sees only the labelled alloys (plus the validation set, for the
one that needs early stopping); none sees the unlabelled compositions. They
answer: how much of the SSVAE's accuracy comes from the semi-supervised VAE,
and how much from the features alone?
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .data import as_arrays
from .features import FEATURES
from .model import MLP
from .scores import accuracy, brier, roc_auc
from .recipe import fit_scaler


class FeatureClassifier:
    """A fitted scikit-learn classifier of the 8 features as a one-member predictor.

    It satisfies :class:`hea_dvae.predictors.Predictor`, so it scores
    alloys wherever an ensemble does (not in gradient inversion or latent
    decoding: it has no gradients and no decoder). Its spread is not
    available (NaN): one model.
    """

    n_members = 1
    temperature = 1.0
    #: Names of the columns :meth:`featurize` returns.
    features = FEATURES

    def __init__(self, estimator, table: str, name: str):
        self.estimator, self.table, self.name = estimator, table, name
        self.identity = f"{name}, {table} table"

    def featurize(self, x) -> np.ndarray:
        from .features import featurize

        return np.asarray(featurize(np.asarray(x, dtype=float), table=self.table))

    def member_probabilities(self, e) -> np.ndarray:
        return self.estimator.predict_proba(np.asarray(e, dtype=float).reshape(-1, 8))[:, 1][None, :]

    def predict_proba(self, e) -> np.ndarray:
        return self.member_probabilities(e)[0]

    def predict_spread(self, e) -> np.ndarray:
        return np.full(len(np.atleast_2d(e)), np.nan)

    def member(self, index: int) -> "FeatureClassifier":
        if index != 0:
            raise IndexError(f"{self.name} has one member, not {index + 1}")
        return self


def fitted_forest(split: dict, table: str, seed: int = 42) -> FeatureClassifier:
    """The random forest of :func:`sklearn_baselines`, fitted on ``split``'s labelled alloys, as a predictor.

    ``split``'s feature columns must be those of ``table``
    (:func:`hea_dvae.data.split_with_table`).
    """
    _, e, y = as_arrays(split["labelled"])
    forest = sklearn_baselines(seed)["random_forest"].fit(e, y)
    return FeatureClassifier(forest, table, "random forest")


class ClassifierHead(torch.nn.Module):
    """The SSVAE's ``encoder_y`` on its own: standardise, MLP, sigmoid."""

    def __init__(self, feature_mean, feature_std, hidden=(100, 100)):
        super().__init__()
        self.encoder_y = MLP((len(feature_mean), *hidden, 1))
        self.register_buffer("feature_mean", torch.as_tensor(feature_mean, dtype=torch.float32))
        self.register_buffer("feature_std", torch.as_tensor(feature_std, dtype=torch.float32))

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        return self.encoder_y((e - self.feature_mean) / self.feature_std).squeeze(-1)

    @torch.no_grad()
    def predict_proba(self, features) -> np.ndarray:
        e = torch.tensor(np.asarray(features, dtype=np.float32))
        return torch.sigmoid(self(e)).numpy()


def fit_classifier_head(
    labelled,
    validation,
    hidden=(100, 100),
    lr: float = 3e-3,
    epochs: int = 2000,
    patience: int = 300,
    seed: int = 42,
) -> ClassifierHead:
    """Train :class:`ClassifierHead` with BCE on labelled alloys only.

    Full batch Adam; model selection as in :func:`hea_dvae.train.fit`
    (validation AUC, ties broken by validation BCE, patience).
    """
    _, e, y = as_arrays(labelled)
    _, val_e, val_y = as_arrays(validation)
    torch.manual_seed(seed)
    head = ClassifierHead(*fit_scaler(e), hidden=hidden)
    optimiser = torch.optim.Adam(head.parameters(), lr=lr)
    e_t, y_t = torch.tensor(e), torch.tensor(y)
    val_e_t, val_y_t = torch.tensor(val_e), torch.tensor(val_y)
    best_key, best_epoch, best_state = (-np.inf, -np.inf), 0, copy.deepcopy(head.state_dict())
    for epoch in range(1, epochs + 1):
        head.train()
        loss = F.binary_cross_entropy_with_logits(head(e_t), y_t)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        head.eval()
        with torch.no_grad():
            val_logits = head(val_e_t)
            val_loss = F.binary_cross_entropy_with_logits(val_logits, val_y_t).item()
        key = (roc_auc(val_y, torch.sigmoid(val_logits).numpy()), -val_loss)
        if key > best_key:
            best_key, best_epoch, best_state = key, epoch, copy.deepcopy(head.state_dict())
        if epoch - best_epoch >= patience:
            break
    head.load_state_dict(best_state)
    return head.eval()


def sklearn_baselines(seed: int = 42) -> dict:
    """The scikit-learn baselines, unfitted, seeded."""
    return {
        "logistic_regression": make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
        "random_forest": RandomForestClassifier(n_estimators=500, random_state=seed, n_jobs=1),
        "gradient_boosting": GradientBoostingClassifier(random_state=seed),
    }


def _fit_and_predict(split: dict, seed: int, part: str, names=None, head_epochs: int = 2000) -> dict[str, np.ndarray]:
    """Each baseline (or those in ``names``) fitted with ``seed``: probabilities on ``split[part]``."""
    _, e, y = as_arrays(split["labelled"])
    _, eval_e, _ = as_arrays(split[part])
    probabilities = {}
    for name, estimator in sklearn_baselines(seed).items():
        if names is None or name in names:
            probabilities[name] = estimator.fit(e, y.astype(int)).predict_proba(eval_e)[:, 1]
    if names is None or "classifier_head" in names:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # as in hea_dvae.train: small matrices, robust to shared cores
        try:
            head = fit_classifier_head(split["labelled"], split["validation"], seed=seed, epochs=head_epochs)
        finally:
            torch.set_num_threads(threads)
        probabilities["classifier_head"] = head.predict_proba(eval_e)
    return probabilities


#: Baselines whose fit does not depend on the seed: fitted once.
DETERMINISTIC = ("logistic_regression",)


def baseline_predictions(split: dict, seeds=(42,), part: str = "test",
                         head_epochs: int = 2000) -> dict[str, np.ndarray]:
    """Each baseline's single-phase probabilities on ``split[part]``, averaged over seeds.

    The seeded baselines (random forest, gradient boosting, classifier head)
    are fitted once per seed and their probabilities averaged, the
    counterpart of a seed ensemble; logistic regression is fitted once.

    Parameters
    ----------
    split : dict
        As from :func:`hea_dvae.data.paper_split`.
    seeds : iterable of int
        Seeds of the stochastic baselines; at least one.
    part : str
        Which part to predict (``"test"`` by default).
    head_epochs : int
        Most epochs of the classifier head (:func:`fit_classifier_head`).

    Returns
    -------
    dict
        Baseline name -> probabilities, in the order of ``split[part]``.
    """
    seeds = [int(seed) for seed in seeds]
    if not seeds:
        raise ValueError("seeds is empty: give at least one seed")
    if part not in split:
        raise ValueError(f"part {part!r} is not in the split (parts: {sorted(split)})")
    runs = [_fit_and_predict(split, seeds[0], part, head_epochs=head_epochs)]
    stochastic = [name for name in runs[0] if name not in DETERMINISTIC]
    runs += [_fit_and_predict(split, seed, part, names=stochastic, head_epochs=head_epochs) for seed in seeds[1:]]
    return {name: np.mean([run[name] for run in runs if name in run], axis=0) for name in runs[0]}


def run_baselines(split: dict, seed: int = 42, part: str = "test") -> pd.DataFrame:
    """Fit every baseline on ``split["labelled"]`` and score it on ``split[part]``.

    Parameters
    ----------
    split : dict
        As from :func:`hea_dvae.data.paper_split`.
    seed : int
        Seed of the random forest, the gradient boosting and the classifier head.
    part : str
        Which part to score (``"test"`` by default).

    Returns
    -------
    DataFrame
        One row per baseline: ``baseline``, ``part``, ``n``, ``accuracy``,
        ``auc``, ``brier``.
    """
    eval_y = as_arrays(split[part])[2]
    probabilities = _fit_and_predict(split, seed, part)
    rows = [
        {
            "baseline": name,
            "part": part,
            "n": len(eval_y),
            "accuracy": accuracy(eval_y, p),
            "auc": roc_auc(eval_y, p),
            "brier": brier(eval_y, p),
        }
        for name, p in probabilities.items()
    ]
    return pd.DataFrame(rows)
