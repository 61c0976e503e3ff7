"""Training: learns a synthetic rule, is reproducible, restores the best weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from hea_dvae.features import ELEMENTS, FEATURES
from hea_dvae.metrics import reconstruct, reconstruction_errors, roc_auc
from hea_dvae.model import SSVAEConfig
from hea_dvae.data import as_arrays
from hea_dvae.recipe import fit_scaler
from hea_dvae.train import TrainConfig, fit
from synthetic import synthetic_split

FAST = TrainConfig(model=SSVAEConfig(hidden=(32, 32)), epochs=150, patience=60, eval_every=1)



@pytest.fixture(scope="module")
def split():
    return synthetic_split(200, 100, 60, 200)


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
                "val_loss", "val_bce", "val_auc", "val_accuracy", "val_mae_all",
                "val_element_set_recovered", "lr", "seconds"}
    assert expected <= set(history.columns)
    assert history["epoch"].tolist() == list(range(1, len(history) + 1))
    best = history.attrs["best_epoch"]
    assert history["val_auc"].iloc[best - 1] == history["val_auc"].max()
    best_vae = history.attrs["best_vae_epoch"]
    assert history["val_mae_all"].iloc[best_vae - 1] == history["val_mae_all"].min()
    # The returned model combines the two selected snapshots, not the last epoch.
    p = model.predict_proba(split["validation"])
    assert roc_auc(split["validation"]["label"], p) == pytest.approx(history["val_auc"].max())
    x, _, y = as_arrays(split["validation"])
    errors = reconstruction_errors(x, reconstruct(model, x, y))
    assert errors["mae_all"] == pytest.approx(history["val_mae_all"].min(), rel=1e-5)
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
    short = TrainConfig(model=SSVAEConfig(hidden=(8, 8)), epochs=15, patience=100)
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
    config = TrainConfig(model=SSVAEConfig(hidden=(8, 8)), epochs=3, batch_size=64, eval_every=1)
    model, history = fit(arrays["labelled"], arrays["unlabelled"][:2], arrays["validation"],
                         config, seed=0, progress=False)
    assert len(history) == 3
    full = TrainConfig(model=SSVAEConfig(hidden=(8, 8)), epochs=7, batch_size=None, eval_every=3)
    _, history = fit(split["labelled"], split["unlabelled"], split["validation"], full, seed=0, progress=False)
    assert history["epoch"].tolist() == [3, 6, 7]  # every eval_every epochs, and the last
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


@pytest.mark.slow
def test_baseline_predictions_average_the_seeded_baselines(split):
    from hea_dvae.baselines import _fit_and_predict, baseline_predictions

    y = as_arrays(split["test"])[2]
    averaged = baseline_predictions(split, seeds=[0, 1])
    runs = [_fit_and_predict(split, seed, "test") for seed in (0, 1)]
    np.testing.assert_allclose(averaged["random_forest"], (runs[0]["random_forest"] + runs[1]["random_forest"]) / 2)
    np.testing.assert_array_equal(averaged["logistic_regression"], runs[0]["logistic_regression"])
    assert not np.array_equal(runs[0]["random_forest"], runs[1]["random_forest"])
    assert all(len(p) == len(y) for p in averaged.values())
    with pytest.raises(ValueError, match="seeds is empty"):
        baseline_predictions(split, seeds=[])
    with pytest.raises(ValueError, match="part 'train'"):
        baseline_predictions(split, seeds=[0], part="train")


@pytest.mark.parametrize(
    "bad, word",
    [
        ({"lr": 0.0}, "lr"),
        ({"epochs": 0}, "epochs"),
        ({"epochs": 2.5}, "epochs"),
        ({"patience": -3}, "patience"),
        ({"batch_size": 0}, "batch_size"),
        ({"select_classifier": "accuracy"}, "select_classifier"),
        ({"select_vae": "auc"}, "select_vae"),
        ({"lr_schedule": "step"}, "lr_schedule"),
        ({"prior": 1.5}, "prior"),
        ({"prior": "informed"}, "prior"),
        ({"eval_every": 0}, "eval_every"),
        ({"decoder_lr_scale": -1}, "decoder_lr_scale"),
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
    config = TrainConfig(model=FAST.model, epochs=80, patience=80, eval_every=1,
                         select_classifier="loss", select_vae="loss")
    _, history = fit(split["labelled"], split["unlabelled"], split["validation"], config, seed=3, progress=False)
    assert history["val_bce"].iloc[history.attrs["best_epoch"] - 1] == history["val_bce"].min()
    assert history["val_loss"].iloc[history.attrs["best_vae_epoch"] - 1] == history["val_loss"].min()


def test_patience_stops_when_neither_part_improves(split):
    config = TrainConfig(model=FAST.model, epochs=400, patience=15, eval_every=5, lr_schedule="constant")
    _, history = fit(split["labelled"], split["unlabelled"], split["validation"], config, seed=3, progress=False)
    last = max(history.attrs["best_epoch"], history.attrs["best_vae_epoch"])
    assert history.attrs["epochs_run"] == last + 15 < 400


def test_cosine_schedule_decays_to_zero_and_decoder_runs_faster(split):
    config = TrainConfig(model=FAST.model, epochs=20, eval_every=1, decoder_lr_scale=3.0)
    _, history = fit(split["labelled"], split["unlabelled"], split["validation"], config, seed=3, progress=False)
    steps_per_epoch = -(-300 // config.batch_size)
    total = 20 * steps_per_epoch
    expected = [config.lr * 0.5 * (1 + np.cos(np.pi * (e * steps_per_epoch - 1) / total)) for e in history["epoch"]]
    np.testing.assert_allclose(history["lr"], expected, rtol=1e-12)
    assert history["lr"].iloc[-1] < 1e-3 * config.lr


def test_expert_prior_is_fitted_on_labelled_alloys_and_recorded(split):
    config = TrainConfig(model=SSVAEConfig(hidden=(8, 8)), epochs=3, prior="expert")
    _, history = fit(split["labelled"], split["unlabelled"], split["validation"], config, seed=0, progress=False)
    assert history.attrs["prior"]["kind"] == "expert" and history.attrs["prior"]["n_fitted"] == 200
    constant = TrainConfig(model=SSVAEConfig(hidden=(8, 8)), epochs=3, prior=0.7)
    _, history = fit(split["labelled"], split["unlabelled"], split["validation"], constant, seed=0, progress=False)
    assert history.attrs["prior"]["r"] == 0.7


def test_fit_seeds_trains_one_model_per_seed(split):
    from hea_dvae.zoo import fit_seeds

    config = TrainConfig(model=FAST.model, epochs=30, patience=30)
    models, histories = fit_seeds(split, config, seeds=[5, 6], workers=1, progress=False)
    assert sorted(models) == [5, 6] and sorted(histories) == [5, 6]
    assert histories[5].attrs["seed"] == 5
    p5, p6 = (models[s].predict_proba(split["test"]) for s in (5, 6))
    assert not np.allclose(p5, p6)
    again, _ = fit(split["labelled"], split["unlabelled"], split["validation"], config, seed=5, progress=False)
    np.testing.assert_array_equal(again.predict_proba(split["test"]), p5)
    with pytest.raises(ValueError, match="seeds"):
        fit_seeds(split, config, seeds=[], workers=1)
