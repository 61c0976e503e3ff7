"""Training: learns a synthetic rule, is reproducible, restores the best weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from hea_dvae.features import ELEMENTS, FEATURES
from hea_dvae.metrics import roc_auc
from hea_dvae.model import SSVAEConfig
from hea_dvae.data import as_arrays
from hea_dvae.train import TrainConfig, fit, fit_scaler
from synthetic import synthetic_alloys

FAST = TrainConfig(model=SSVAEConfig(hidden=(32, 32)), epochs=150, patience=60, min_epochs=0)



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


@pytest.mark.parametrize(
    "bad, word",
    [
        ({"lr": 0.0}, "lr"),
        ({"epochs": 0}, "epochs"),
        ({"epochs": 2.5}, "epochs"),
        ({"patience": -3}, "patience"),
        ({"batch_size": 0}, "batch_size"),
        ({"select": "accuracy"}, "select"),
        ({"weight_decay": -1e-3}, "weight_decay"),
    ],
)
def test_nonsense_training_parameters_are_refused(bad, word):
    with pytest.raises(ValueError, match=word):
        TrainConfig(**bad)


def test_model_config_from_dict_in_train_config():
    config = TrainConfig(model={"z_dim": 3, "hidden": [16]})
    assert config.model.z_dim == 3 and config.model.hidden == (16,)


def test_selection_by_validation_loss_picks_the_lowest_loss(split):
    config = TrainConfig(model=FAST.model, epochs=80, patience=80, min_epochs=0, select="loss")
    _, history = fit(split["labelled"], split["unlabelled"], split["validation"], config, seed=3, progress=False)
    best = history.attrs["best_epoch"]
    assert history["val_loss"].iloc[best - 1] == history["val_loss"].min()


def test_fit_seeds_trains_one_model_per_seed(split):
    from hea_dvae.train import fit_seeds

    config = TrainConfig(model=FAST.model, epochs=30, patience=30, min_epochs=0)
    models, histories = fit_seeds(split, config, seeds=[5, 6], progress=False)
    assert sorted(models) == [5, 6] and sorted(histories) == [5, 6]
    assert histories[5].attrs["seed"] == 5
    p5, p6 = (models[s].predict_proba(split["test"]) for s in (5, 6))
    assert not np.allclose(p5, p6)
    again, _ = fit(split["labelled"], split["unlabelled"], split["validation"], config, seed=5, progress=False)
    np.testing.assert_array_equal(again.predict_proba(split["test"]), p5)
    with pytest.raises(ValueError, match="seeds"):
        fit_seeds(split, config, seeds=[])
