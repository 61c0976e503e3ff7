"""Batched training: each run as train.fit trains it, and no run leaks into another."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from hea_dvae import batched
from hea_dvae.batched import Run, compatible_groups, fit_many
from hea_dvae.data import as_arrays
from hea_dvae.model import SSVAE, SSVAEConfig
from hea_dvae.scores import roc_auc
from hea_dvae.train import TrainConfig
from oracle_trainer import fit_one_at_a_time
from synthetic import synthetic_split

SMALL = SSVAEConfig(hidden=(32, 32))
FAST = TrainConfig(model=SMALL, epochs=12, eval_every=2, batch_size=64)


@pytest.fixture(scope="module")
def split():
    return synthetic_split(200, 100, 60, 100)


@pytest.fixture(scope="module")
def tiny():
    """A pool of 30 alloys: one step per epoch where the large split takes five."""
    return synthetic_split(20, 10, 15)


def run(part, config=FAST, seed=1, labelled=None) -> Run:
    return Run(part["labelled"] if labelled is None else labelled, part["unlabelled"], part["validation"],
               config, seed)


def assert_same(first, second):
    """Bitwise the same model and history (apart from the wall time)."""
    (model_a, history_a), (model_b, history_b) = first, second
    state_a, state_b = model_a.state_dict(), model_b.state_dict()
    assert state_a.keys() == state_b.keys()
    for name in state_a:
        assert torch.equal(state_a[name], state_b[name]), name
    pd.testing.assert_frame_equal(history_a.drop(columns="seconds"), history_b.drop(columns="seconds"),
                                  check_exact=True)
    assert history_a.attrs == history_b.attrs


def test_batch_of_one_tracks_the_one_at_a_time_loop(split):
    config = TrainConfig(model=SMALL, epochs=20, eval_every=1, batch_size=64)
    model_a, history_a = fit_one_at_a_time(split["labelled"], split["unlabelled"], split["validation"], config,
                                           seed=7)
    [(model_b, history_b)] = fit_many([run(split, config, seed=7)], progress=False)
    # Same columns and metadata: callers cannot tell the two apart.
    assert list(history_b.columns) == list(history_a.columns)
    assert history_b.attrs == history_a.attrs
    # The same seeded draws (weights, batch order, z noise): only rounding differs,
    # so the curves agree closely at first and stay within seed noise after.
    columns = ["loss", "reconstruction", "kl_z", "y_prior", "classification", "val_loss", "val_mae_all"]
    np.testing.assert_allclose(history_b[columns].to_numpy(), history_a[columns].to_numpy(), rtol=1e-3)
    assert history_b["lr"].tolist() == history_a["lr"].tolist()
    assert abs(history_b["val_auc"].iloc[-1] - history_a["val_auc"].iloc[-1]) < 0.02
    p_a = model_a.predict_proba(split["test"])
    p_b = model_b.predict_proba(split["test"])
    assert np.abs(p_a - p_b).max() < 0.05


def test_history_and_selected_model(split):
    config = TrainConfig(model=SMALL, epochs=30, eval_every=3, batch_size=64)
    [(model, history)] = fit_many([run(split, config, seed=3)], progress=False)
    assert isinstance(model, SSVAE) and not model.training
    assert history["epoch"].tolist() == list(range(3, 31, 3))
    assert set(history.attrs) == {"best_epoch", "best_vae_epoch", "epochs_run", "seed", "train_config", "prior"}
    assert history.attrs["epochs_run"] == 30 and history.attrs["seed"] == 3
    assert history.attrs["train_config"] == config.to_dict()
    # The classifier comes from the best validation AUC, the VAE from the lowest MAE.
    best = history.set_index("epoch")
    assert best.loc[history.attrs["best_epoch"], "val_auc"] == history["val_auc"].max()
    assert best.loc[history.attrs["best_vae_epoch"], "val_mae_all"] == history["val_mae_all"].min()
    x, e, y = as_arrays(split["validation"])
    assert roc_auc(y, model.predict_proba(e)) == pytest.approx(history["val_auc"].max(), abs=1e-3)
    # The scaler is the run's own (labelled + unlabelled features).
    pool = np.concatenate([as_arrays(split["labelled"])[1], as_arrays(split["unlabelled"], False)[1]])
    np.testing.assert_allclose(model.feature_mean.numpy(), pool.mean(0), rtol=1e-5)


def test_batched_loss_equals_the_model_loss(split):
    """The batched loss and its gradients are SSVAE.loss's, on a mixed batch without sampling."""
    config = TrainConfig(model=SMALL, epochs=1, batch_size=None, sample=False, prior="expert")
    prepared = batched._prepare(run(split, config, seed=5), 0)
    trainer = batched._Trainer([prepared], torch.device("cpu"), progress=False)
    data = batched._build_epoch(trainer.states, trainer.pool, SMALL.z_dim, torch.device("cpu"))
    k, n_alloys, n_rows = data.shapes[0]
    alloys = {name: value[0, :, :n_alloys] for name, value in data.alloys.items()}
    rows = {name: value[0, :, :n_rows] for name, value in data.rows.items()}
    outputs = batched.batched_forward(trainer.stack.net(1), alloys["e_std"], rows["x_in_y"], rows["noise"])
    parts = batched.batched_loss_parts(outputs, alloys, rows, trainer._alpha(1))
    real = data.real[0, 0].bool()
    total = sum(parts[name][0, real].sum() for name in batched.PARTS)
    total.backward()

    model = SSVAE(SMALL, prepared.mean, prepared.std)
    model.load_state_dict(prepared.initial)
    # Full batch: the step holds the whole pool, in order.
    assert torch.equal(real.nonzero().squeeze(1), torch.arange(prepared.n))
    ys = torch.from_numpy(np.where(np.arange(prepared.n) < prepared.n_sup, prepared.ys, np.nan).astype(np.float32))
    expected, expected_parts = model.loss(prepared.xs, prepared.es, ys, prior=prepared.prior_all, sample=False,
                                          reduction="none")
    for name in batched.PARTS:
        torch.testing.assert_close(parts[name][0, real], expected_parts[name], rtol=1e-5, atol=1e-4)
    expected.sum().backward()
    grads = batched._Layout(SMALL).flatten({name: p.grad for name, p in model.named_parameters()})
    for group in range(2):
        torch.testing.assert_close(trainer.stack.grads[group][0], grads[group], rtol=1e-4, atol=1e-3)


def test_no_run_leaks_into_another(split):
    """Runs beside one with shuffled labels are bitwise those trained without it."""
    labels = split["labelled"]["label"].to_numpy()
    shuffled = split["labelled"].assign(label=np.random.default_rng(0).permutation(labels))
    clean = fit_many([run(split, seed=s) for s in (1, 2, 3)], progress=False)
    mixed = fit_many([run(split, seed=1), run(split, seed=9, labelled=shuffled), run(split, seed=2),
                      run(split, seed=3), run(split, seed=4, labelled=shuffled)], progress=False)
    for i, j in ((0, 0), (1, 2), (2, 3)):
        assert_same(clean[i], mixed[j])
    # ... and the run alone is the same again (a batch of one takes no other kernel).
    assert_same(clean[1], fit_many([run(split, seed=2)], progress=False)[0])
    # The shuffled run did learn something else.
    assert not torch.equal(mixed[1][0].encoder_y.layers[0].weight, mixed[4][0].encoder_y.layers[0].weight)


@pytest.mark.slow
def test_two_threads_do_not_leak_either(split):
    config = TrainConfig(model=SMALL, epochs=4, eval_every=2, batch_size=64)
    clean = fit_many([run(split, config, seed=s) for s in (1, 2)], progress=False, threads=2)
    mixed = fit_many([run(split, config, seed=s) for s in (1, 7, 2)], progress=False, threads=2)
    assert_same(clean[0], mixed[0])
    assert_same(clean[1], mixed[2])


def test_a_tiny_pool_padded_beside_a_large_one_is_trained_as_alone(split, tiny):
    alone = fit_many([run(tiny, seed=4)], progress=False)[0]
    together = fit_many([run(split, seed=1), run(tiny, seed=4), run(split, seed=2)], progress=False)
    assert_same(alone, together[1])
    # The tiny pool (30 alloys, one step per epoch) still trained every epoch.
    assert together[1][1]["epoch"].tolist() == list(range(2, 13, 2))
    assert_same(fit_many([run(split, seed=2)], progress=False)[0], together[2])


def test_early_stopping_of_one_run_does_not_disturb_the_others(split):
    quitter = TrainConfig(model=SMALL, epochs=40, eval_every=1, patience=1, batch_size=64)
    config = TrainConfig(model=SMALL, epochs=20, eval_every=2, batch_size=64)
    together = fit_many([run(split, config, seed=1), run(split, quitter, seed=5), run(split, config, seed=2)],
                        progress=False)
    stopped = together[1][1]
    assert stopped.attrs["epochs_run"] < 40
    assert stopped["epoch"].iloc[-1] == stopped.attrs["epochs_run"]
    assert_same(fit_many([run(split, quitter, seed=5)], progress=False)[0], together[1])
    others = fit_many([run(split, config, seed=1), run(split, config, seed=2)], progress=False)
    assert_same(others[0], together[0])
    assert_same(others[1], together[2])


def test_runs_with_their_own_recipes(split, tiny):
    """lr, schedule, epochs, evaluation, prior, warm-up, decay, alpha: each run its own, as alone."""
    recipes = [
        TrainConfig(model=SMALL, epochs=10, eval_every=5, batch_size=64, lr=1e-3, decoder_lr_scale=1.0),
        TrainConfig(model=SMALL, epochs=14, eval_every=7, batch_size=64, prior="expert", kl_warmup_epochs=4),
        TrainConfig(model=SMALL, epochs=9, eval_every=3, batch_size=64, lr_schedule="constant", weight_decay=1e-3),
        TrainConfig(model=SSVAEConfig(hidden=(32, 32), alpha=3.0, total_count=50.0), epochs=8, batch_size=64,
                    log_scale_init=None, select_vae="loss", select_classifier="loss"),
        TrainConfig(model=SMALL, epochs=6, eval_every=2, batch_size=64, sample=False),
    ]
    parts = [split, split, tiny, split, tiny]
    runs = [run(part, recipe, seed=10 + i) for i, (part, recipe) in enumerate(zip(parts, recipes))]
    together = fit_many(runs, progress=False)
    for one, result in zip(runs, together):
        assert_same(fit_many([one], progress=False)[0], result)
        model, history = result
        assert history.attrs["epochs_run"] == one.config.epochs
        assert history.attrs["train_config"] == one.config.to_dict()
    # Each agrees with the one-at-a-time loop on its first evaluation (same draws, other rounding).
    for one, (_, history) in zip(runs, together):
        _, reference = fit_one_at_a_time(one.labelled, one.unlabelled, one.validation, one.config, seed=one.seed)
        assert history.attrs["prior"] == reference.attrs["prior"]
        first = ["loss", "reconstruction", "kl_z", "y_prior", "classification", "val_loss", "lr"]
        np.testing.assert_allclose(history[first].iloc[0].to_numpy(float), reference[first].iloc[0].to_numpy(float),
                                   rtol=1e-4)


def test_compatible_groups_and_bad_input(split):
    other = TrainConfig(model=SSVAEConfig(hidden=(16, 16)), epochs=2, batch_size=64)
    runs = [run(split), run(split, other), run(split, seed=2), run(split, TrainConfig(model=SMALL, batch_size=32))]
    assert compatible_groups(runs) == [[0, 2], [1], [3]]
    with pytest.raises(ValueError, match="compatible_groups"):
        fit_many(runs, progress=False)
    with pytest.raises(ValueError, match="empty"):
        fit_many([], progress=False)
    with pytest.raises(ValueError, match="not a hea_dvae.batched.Run"):
        fit_many([(split["labelled"], split["unlabelled"], split["validation"])], progress=False)
    no_labels = split["validation"].drop(columns="label")
    with pytest.raises(ValueError, match="run 1: labels are required"):
        fit_many([run(split), Run(split["labelled"], split["unlabelled"], no_labels, FAST, 1)], progress=False)
    nan_labels = split["labelled"].assign(label=np.nan)
    with pytest.raises(ValueError, match="run 0: labelled labels must be 0 or 1"):
        fit_many([run(split, labelled=nan_labels)], progress=False)
    with pytest.raises(ValueError, match="no validation alloys"):
        fit_many([Run(split["labelled"], None, split["validation"].iloc[:0], FAST, 1)], progress=False)
    with pytest.raises(ValueError, match="threads"):
        fit_many([run(split)], progress=False, threads=0)
    with pytest.raises(ValueError, match="processes"):
        fit_many([run(split)], progress=False, processes=0)
    with pytest.raises(ValueError, match="CPU only"):
        fit_many([run(split, TrainConfig(model=SMALL, device="cuda"))], progress=False)


def test_unlabelled_part_may_be_missing(split):
    [(model, history)] = fit_many([Run(split["labelled"], None, split["validation"], FAST, 1)], progress=False)
    assert history.attrs["epochs_run"] == FAST.epochs
    assert np.isfinite(history["loss"]).all()


@pytest.mark.slow
def test_two_processes_give_the_same_models(split, tiny):
    runs = [run(split, seed=1), run(tiny, seed=2), run(split, seed=3)]
    one = fit_many(runs, progress=False)
    two = fit_many(runs, progress=False, processes=2)
    for first, second in zip(one, two):
        assert_same(first, second)
