"""Training: learns a synthetic rule, is reproducible, restores the best weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from hea_dvae.features import ELEMENTS, FEATURES
from hea_dvae.metrics import roc_auc
from hea_dvae.model import SSVAEConfig
from hea_dvae.train import TrainConfig, as_arrays, fit, fit_scaler

FAST = TrainConfig(model=SSVAEConfig(hidden=(32, 32)), epochs=150, patience=60, min_epochs=0)


def synthetic_alloys(n, seed):
    """Alloys of 2-5 elements whose label is the sign of one (raw-scaled) feature."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, len(ELEMENTS)))
    for row in x:
        chosen = rng.choice(len(ELEMENTS), size=rng.integers(2, 6), replace=False)
        row[chosen] = rng.dirichlet(np.ones(len(chosen)))
    e = rng.normal(size=(n, len(FEATURES))) * [50, 2, 300, 1, 3, 0.05, 2, 10] + [170, 9, 1800, 7, 5, 0.1, 12, -8]
    label = (e[:, 4] > 5).astype(int)  # only delta matters
    frame = pd.DataFrame(x, columns=list(ELEMENTS)).assign(**dict(zip(FEATURES, e.T)), label=label)
    frame.insert(0, "formula", [f"alloy{seed}_{i}" for i in range(n)])
    return frame


@pytest.fixture(scope="module")
def split():
    return {
        "labelled": synthetic_alloys(200, 0),
        "unlabelled": synthetic_alloys(100, 1),
        "validation": synthetic_alloys(60, 2),
        "test": synthetic_alloys(200, 3),
    }


@pytest.fixture(scope="module")
def trained(split):
    return fit(split["labelled"], split["unlabelled"], split["validation"], FAST, seed=7, progress=False)


def test_learns_a_synthetic_rule(split, trained):
    model, _ = trained
    p = model.predict_proba(split["test"])
    assert roc_auc(split["test"]["label"], p) > 0.9


def test_history_and_best_weights_restored(split, trained):
    model, history = trained
    expected = {"epoch", "loss", "reconstruction", "kl_z", "y_prior", "classification",
                "val_loss", "val_bce", "val_auc", "val_accuracy", "seconds"}
    assert expected <= set(history.columns)
    assert history["epoch"].tolist() == list(range(1, len(history) + 1))
    best = history.attrs["best_epoch"]
    assert history["val_auc"].iloc[best - 1] == history["val_auc"].max()
    # The returned model is the selected one, not the last one.
    p = model.predict_proba(split["validation"])
    assert roc_auc(split["validation"]["label"], p) == pytest.approx(history["val_auc"].max())
    assert not model.training
    # Training reduced the loss.
    assert history["loss"].iloc[-1] < history["loss"].iloc[0]


def test_scaler_is_fitted_on_labelled_and_unlabelled(split, trained):
    model, _ = trained
    pool = pd.concat([split["labelled"], split["unlabelled"]])[list(FEATURES)].to_numpy(np.float32)
    mean, std = fit_scaler(pool)
    np.testing.assert_allclose(model.feature_mean.numpy(), mean, rtol=1e-5)
    np.testing.assert_allclose(model.feature_std.numpy(), std, rtol=1e-5)
    # Validation features are not part of it.
    with_validation = pd.concat([split["labelled"], split["unlabelled"], split["validation"]])
    assert not np.allclose(model.feature_mean.numpy(), with_validation[list(FEATURES)].mean().to_numpy())


def test_same_seed_same_model_and_unlabelled_labels_ignored(split):
    short = TrainConfig(model=SSVAEConfig(hidden=(8, 8)), epochs=15, patience=100, min_epochs=0)
    first, history_a = fit(split["labelled"], split["unlabelled"], split["validation"], short, seed=3, progress=False)
    # Flipping the labels of the unlabelled alloys must change nothing.
    flipped = split["unlabelled"].assign(label=1 - split["unlabelled"]["label"])
    second, history_b = fit(split["labelled"], flipped, split["validation"], short, seed=3, progress=False)
    third, _ = fit(split["labelled"], split["unlabelled"], split["validation"], short, seed=4, progress=False)
    pd.testing.assert_series_equal(history_a["loss"], history_b["loss"])
    for key, value in first.state_dict().items():
        torch.testing.assert_close(value, second.state_dict()[key], rtol=0, atol=0)
    assert not np.array_equal(first.predict_proba(split["test"]), third.predict_proba(split["test"]))


def test_arrays_mini_batches_and_no_unlabelled(split):
    arrays = {name: as_arrays(frame) for name, frame in split.items()}
    config = TrainConfig(model=SSVAEConfig(hidden=(8, 8)), epochs=3, batch_size=64, min_epochs=0)
    model, history = fit(arrays["labelled"], arrays["unlabelled"][:2], arrays["validation"],
                         config, seed=0, progress=False)
    assert len(history) == 3
    assert model.predict_proba(arrays["test"][1]).shape == (200,)
    model, history = fit(split["labelled"], None, split["validation"], config, seed=0, progress=False)
    assert np.isfinite(history["loss"]).all()


def test_validation_needs_labels(split):
    x, e, _ = as_arrays(split["validation"])
    with pytest.raises(ValueError, match="labels are required"):
        fit(split["labelled"], split["unlabelled"], (x, e), FAST, progress=False)


def test_baselines_learn_the_synthetic_rule(split):
    from hea_dvae.baselines import run_baselines

    table = run_baselines(split, seed=0)
    assert table["baseline"].tolist() == ["logistic_regression", "random_forest",
                                          "gradient_boosting", "classifier_head"]
    assert (table["part"] == "test").all() and (table["n"] == 200).all()
    assert (table["auc"] > 0.9).all()
    assert ((table["brier"] >= 0) & (table["brier"] < 0.25)).all()
    pd.testing.assert_frame_equal(table, run_baselines(split, seed=0))  # seeded
