"""The model cache and the ensemble predictor."""

from __future__ import annotations

import multiprocessing
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from hea_dvae import checkpoint, zoo
from hea_dvae.data import as_arrays
from hea_dvae.model import SSVAEConfig
from hea_dvae.train import TrainConfig
from hea_dvae.model import model_digest
from hea_dvae.predictors import Ensemble
from synthetic import synthetic_split

TINY = TrainConfig(model=SSVAEConfig(hidden=(8, 8)), epochs=4, batch_size=64, eval_every=2)


@pytest.fixture(scope="module")
def split():
    return synthetic_split(120, 60, 60, 80)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HEA_DVAE_CACHE_DIR", str(tmp_path / "models"))
    return tmp_path / "models" / "ssvae"


def _count_fits(monkeypatch) -> list:
    calls = []
    real = zoo.fit

    def counting(*args, **kwargs):
        calls.append(kwargs.get("seed"))
        return real(*args, **kwargs)

    monkeypatch.setattr(zoo, "fit", counting)
    return calls


def _parts(split):
    return split["labelled"], split["unlabelled"], split["validation"]


def _same_weights(a, b) -> bool:
    return all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())


def test_second_request_loads_the_same_model_without_training(split, cache, monkeypatch):
    calls = _count_fits(monkeypatch)
    first, history = zoo.cached_fit(*_parts(split), TINY, seed=1)
    second, history_again = zoo.cached_fit(*_parts(split), TINY, seed=1)
    assert calls == [1]
    assert _same_weights(first, second)
    assert history_again["val_auc"].tolist() == pytest.approx(history["val_auc"].tolist())
    assert history_again.attrs["best_epoch"] == history.attrs["best_epoch"]
    assert len([p for p in cache.iterdir() if p.is_dir()]) == 1


@pytest.mark.parametrize(
    "change",
    [
        lambda s, c, seed: (s, replace(c, lr=2e-3), seed),
        lambda s, c, seed: (s, c, seed + 1),
        lambda s, c, seed: ({**s, "labelled": s["labelled"].iloc[1:]}, c, seed),
        lambda s, c, seed: ({**s, "validation": s["validation"].assign(k=s["validation"]["k"] + 1)}, c, seed),
        lambda s, c, seed: (s, replace(c, prior=0.3), seed),
    ],
    ids=["config", "seed", "labelled-alloys", "validation-feature", "prior"],
)
def test_a_changed_key_trains_anew(split, cache, monkeypatch, change):
    calls = _count_fits(monkeypatch)
    zoo.cached_fit(*_parts(split), TINY, seed=1)
    other_split, other_config, other_seed = change(split, TINY, 1)
    zoo.cached_fit(*_parts(other_split), other_config, seed=other_seed)
    assert len(calls) == 2
    assert len([p for p in cache.iterdir() if p.is_dir()]) == 2


def test_unlabelled_labels_and_test_part_are_not_in_the_key(split, cache, monkeypatch):
    calls = _count_fits(monkeypatch)
    zoo.cached_fit(*_parts(split), TINY, seed=1)
    flipped = split["unlabelled"].assign(label=1 - split["unlabelled"]["label"])
    zoo.cached_fit(split["labelled"], flipped, split["validation"], TINY, seed=1)
    assert calls == [1]


@pytest.mark.parametrize("damage", ["truncate-weights", "flip-a-byte", "remove-history", "garbage-config"])
def test_a_damaged_entry_is_retrained_never_loaded(split, cache, monkeypatch, damage):
    model, _ = zoo.cached_fit(*_parts(split), TINY, seed=2)
    (entry,) = [p for p in cache.iterdir() if p.is_dir()]
    weights = entry / checkpoint.WEIGHTS_FILE
    if damage == "truncate-weights":
        weights.write_bytes(weights.read_bytes()[:100])
    elif damage == "flip-a-byte":
        data = bytearray(weights.read_bytes())
        data[-5] ^= 0xFF  # still a loadable file, with one wrong weight
        weights.write_bytes(bytes(data))
    elif damage == "remove-history":
        (entry / zoo.HISTORY_FILE).unlink()
    else:
        (entry / checkpoint.CONFIG_FILE).write_text("{not json")
    calls = _count_fits(monkeypatch)
    again, _ = zoo.cached_fit(*_parts(split), TINY, seed=2)
    assert calls == [2]
    assert _same_weights(model, again)  # retrained: same seed, same machine, same model
    assert zoo._load_entry(entry, zoo.model_key(*_parts(split), TINY, 2)) is not None


def _request(arguments):
    folder, seed = arguments
    import os

    os.environ["HEA_DVAE_CACHE_DIR"] = folder
    split = synthetic_split(120, 60, 60)
    model, _ = zoo.cached_fit(*_parts(split), TINY, seed=seed)
    return model_digest(model)


@pytest.mark.slow
def test_two_processes_asking_for_the_same_model_share_one_entry(split, cache):
    folder = str(cache.parent)
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        digests = pool.map(_request, [(folder, 3), (folder, 3)])
    assert digests[0] == digests[1]
    entries = [p for p in cache.iterdir() if p.is_dir()]
    assert len(entries) == 1 and not list(cache.glob(".*partial*"))
    loaded, _ = zoo.cached_fit(*_parts(split), TINY, seed=3)
    assert model_digest(loaded) == digests[0]


@pytest.mark.slow
def test_fit_seeds_in_two_processes_equals_one_process(split, tmp_path, monkeypatch):
    monkeypatch.setenv("HEA_DVAE_CACHE_DIR", str(tmp_path / "a"))
    one, _ = zoo.fit_seeds(split, TINY, seeds=[0, 1], workers=1, progress=False)
    monkeypatch.setenv("HEA_DVAE_CACHE_DIR", str(tmp_path / "b"))
    two, histories = zoo.fit_seeds(split, TINY, seeds=[0, 1], workers=2, progress=False)
    assert sorted(two) == [0, 1] and histories[1].attrs["seed"] == 1
    for seed in (0, 1):
        assert model_digest(one[seed]) == model_digest(two[seed])
    assert zoo.clear() == 2
    assert not (tmp_path / "b" / "ssvae").exists()


def test_ensemble_is_the_mean_of_its_members_with_their_spread(split, cache):
    models, _ = zoo.fit_seeds(split, TINY, seeds=[0, 1, 2], workers=1, progress=False)
    members = [models[s] for s in (0, 1, 2)]
    ensemble = Ensemble(members)
    _, e, _ = as_arrays(split["test"])
    each = np.stack([m.predict_proba(e) for m in members])
    np.testing.assert_allclose(ensemble.predict_proba(e), each.mean(0), rtol=1e-6)
    np.testing.assert_allclose(ensemble.predict_spread(e), each.std(0), rtol=1e-5, atol=1e-7)
    assert (ensemble.predict_spread(e) > 0).any()
    single = Ensemble(members[:1])
    assert np.isnan(single.predict_spread(e)).all()  # one member: not available
    # The differentiable logit is the logit of the mean probability.
    logits = ensemble.classify_logits(torch.tensor(e))
    np.testing.assert_allclose(torch.sigmoid(logits).detach().numpy(), ensemble.predict_proba(e), rtol=1e-4)
    # Identity: the members and the temperature.
    assert ensemble.identity == Ensemble(members).identity
    assert ensemble.identity != Ensemble(members, temperature=2.0).identity
    assert ensemble.identity != Ensemble(members[:2]).identity
    with pytest.raises(ValueError, match="temperature"):
        Ensemble(members, temperature=0.0)
    with pytest.raises(ValueError, match="at least one"):
        Ensemble([])


def test_temperature_softens_an_overconfident_ensemble():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400).astype(float)
    # Right on average but five times too sure of itself.
    true_logits = rng.normal(0, 1.5, 400) + 1.5 * (2 * labels - 1)
    noisy = (rng.random(400) < 1 / (1 + np.exp(-true_logits))).astype(float)
    members = np.stack([5 * true_logits + rng.normal(0, 0.1, 400) for _ in range(3)])
    temperature = zoo.fit_ensemble_temperature(members, noisy)
    assert 3.5 < temperature < 7
    check = zoo.temperature_check(members, noisy)
    assert check["helps"] and check["nll_with"] < check["nll_without"]
    calibrated = np.stack([true_logits] * 3)
    assert zoo.fit_ensemble_temperature(calibrated, noisy) == pytest.approx(1.0, abs=0.2)
    # A well-calibrated ensemble gains less than the margin: scaling it is not worth a change.
    check = zoo.temperature_check(calibrated, noisy)
    assert not check["helps"] and check["nll_without"] - check["nll_with"] < zoo.MIN_TEMPERATURE_GAIN
    assert zoo.temperature_check(calibrated, noisy, min_gain=-0.0 + 0.0)["nll_with"] == check["nll_with"]
    with pytest.raises(ValueError, match="min_gain"):
        zoo.temperature_check(calibrated, noisy, min_gain=-1)


@pytest.mark.needs_data
def test_default_predictor_with_a_smaller_recipe_is_never_indexed_as_the_default(cache, monkeypatch):
    # A smoke profile asks for fewer seeds and epochs: other models, not the command line's predictor.
    calls, indexed = [], []
    fake = SimpleNamespace(temperature=1.0, name="ensemble")
    monkeypatch.setattr(zoo, "seed_ensemble", lambda split, config, seeds, **kwargs: (
        calls.append((config.epochs, config.model.table, list(seeds))) or (fake, {})))
    monkeypatch.setattr(zoo, "write_index", lambda *args, **kwargs: indexed.append(args))
    monkeypatch.setattr(zoo, "entry_of", lambda *args: "entry")
    assert zoo.default_predictor(seeds=2, epochs=3) is fake
    assert calls == [(3, zoo.DEFAULT_TABLE, [0, 1])] and not indexed
    # The defaults, given or not, are the default predictor: trained (or found) and indexed.
    for options in ({}, {"seeds": len(zoo.DEFAULT_SEEDS), "epochs": TrainConfig().epochs}):
        assert zoo.default_predictor(**options) is fake
    assert calls[1:] == [(TrainConfig().epochs, zoo.DEFAULT_TABLE, list(zoo.DEFAULT_SEEDS))] * 2
    assert len(indexed) == 2
    with pytest.raises(ValueError, match="seeds"):
        zoo.default_predictor(seeds=0)
