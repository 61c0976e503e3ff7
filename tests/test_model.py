"""The SSVAE: shapes, gradients, the loss's pieces, and the authors' released weights."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from hea_dvae import paper
from hea_dvae.data import fetch, paper_split
from hea_dvae.metrics import evaluate
from hea_dvae.model import (
    SSVAE,
    SSVAEConfig,
    bernoulli_kl,
    gaussian_kl,
    load_released_model,
    multinomial_log_prob,
)

N_ELEMENTS, N_FEATURES = 30, 8


def random_batch(n=12, seed=0):
    """Compositions of 2-5 elements, raw-scaled features and mixed labels."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, N_ELEMENTS), np.float32)
    for row in x:
        chosen = rng.choice(N_ELEMENTS, size=rng.integers(2, 6), replace=False)
        row[chosen] = rng.dirichlet(np.ones(len(chosen)))
    e = (rng.normal(size=(n, N_FEATURES)) * [50, 2, 300, 1, 3, 0.05, 2, 10] + [170, 9, 1800, 7, 5, 0.1, 12, -8])
    y = rng.integers(0, 2, size=n).astype(np.float32)
    return torch.tensor(x), torch.tensor(e, dtype=torch.float32), torch.tensor(y)


@pytest.fixture
def model():
    torch.manual_seed(0)
    _, e, _ = random_batch(200, seed=1)
    return SSVAE(SSVAEConfig(hidden=(16, 16)), e.mean(0), e.std(0))


def test_shapes_and_outputs(model):
    x, e, y = random_batch(7)
    mean, std = model.encode(x, y)
    assert mean.shape == std.shape == (7, 2)
    assert (std > 0).all()
    fractions = model.decode(mean, y)
    assert fractions.shape == (7, N_ELEMENTS)
    assert torch.allclose(fractions.sum(1), torch.ones(7), atol=1e-6)
    assert (fractions >= 0).all()

    p = model.predict_proba(e.numpy())
    assert isinstance(p, np.ndarray) and p.shape == (7,)
    assert ((p > 0) & (p < 1)).all()
    np.testing.assert_array_equal(p, model.predict_proba(e))
    assert model.predict_proba(e[0].numpy()).shape == (1,)
    # A scalar label broadcasts to every alloy.
    torch.testing.assert_close(model.encode(x, 1.0)[0], model.encode(x, torch.ones(7))[0])


def test_predict_proba_restores_training_mode(model):
    model.train()
    model.predict_proba(random_batch(3)[1])
    assert model.training


def test_classify_logits_is_differentiable_in_raw_features(model):
    _, e, _ = random_batch(5)
    e = e.clone().requires_grad_(True)
    model.classify_logits(e).sum().backward()
    assert e.grad is not None and e.grad.abs().sum() > 0
    # The scaler is applied inside: logits depend on raw features via (e - mean) / std.
    expected = model.encoder_y((e - model.feature_mean) / model.feature_std).squeeze(-1)
    torch.testing.assert_close(model.classify_logits(e), expected)


def test_gradients_reach_all_three_networks(model):
    x, e, y = random_batch(16)
    y[::3] = float("nan")  # some unlabelled alloys in the same batch
    loss, parts = model.loss(x, e, y)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    for name in ("encoder_y", "encoder_z", "decoder"):
        grads = [p.grad for p in getattr(model, name).parameters()]
        assert all(g is not None and torch.isfinite(g).all() for g in grads), name
        assert sum(g.abs().sum() for g in grads) > 0, name
    # Buffers are not trained.
    assert not model.feature_mean.requires_grad


def test_loss_parts_add_up(model):
    x, e, y = random_batch(10)
    y[:4] = float("nan")
    total, parts = model.loss(x, e, y, sample=False, reduction="none")
    assert total.shape == (10,)
    torch.testing.assert_close(total, sum(parts.values()))
    assert (parts["classification"][:4] == 0).all()
    assert (parts["classification"][4:] > 0).all()
    mean, mean_parts = model.loss(x, e, y, sample=False)
    torch.testing.assert_close(mean, total.mean())
    torch.testing.assert_close(mean_parts["kl_z"], parts["kl_z"].mean())


def test_unlabelled_loss_is_exact_enumeration_of_labelled_pieces(model):
    x, e, _ = random_batch(9)
    prior = torch.linspace(0.2, 0.8, 9)
    unsup, _ = model.loss(x, e, None, prior=prior, sample=False, reduction="none")

    pieces = {}
    for label in (0.0, 1.0):
        _, parts = model.loss(x, e, torch.full((9,), label), prior=prior, sample=False, reduction="none")
        pieces[label] = parts["reconstruction"] + parts["kl_z"]
    with torch.no_grad():
        q1 = torch.sigmoid(model.classify_logits(e)).double()
    q1, prior64 = q1.double(), prior.double()
    kl_y = q1 * torch.log(q1 / prior64) + (1 - q1) * torch.log((1 - q1) / (1 - prior64))
    by_hand = (1 - q1) * pieces[0.0].double() + q1 * pieces[1.0].double() + kl_y
    torch.testing.assert_close(unsup.double(), by_hand, rtol=1e-5, atol=1e-4)


def test_labelled_loss_by_hand(model):
    x, e, y = random_batch(6)
    prior = torch.tensor([0.1, 0.3, 0.5, 0.5, 0.7, 0.9])
    total, parts = model.loss(x, e, y, prior=prior, sample=False, reduction="none")
    expected_prior = -torch.where(y == 1, prior.log(), (1 - prior).log())
    torch.testing.assert_close(parts["y_prior"], expected_prior)
    p = torch.sigmoid(model.classify_logits(e))
    bce = -(y * p.log() + (1 - y) * (1 - p).log())
    torch.testing.assert_close(parts["classification"], model.config.alpha * bce, rtol=1e-5, atol=1e-5)



def test_reconstruction_term_is_the_multinomial_of_at_percent_counts(model):
    # Equimolar alloys of 2, 4 and 5 elements: integer at.%, so torch's
    # Multinomial (integer counts only) can serve as the reference.
    x = torch.zeros(3, N_ELEMENTS)
    x[0, [0, 1]] = 0.5
    x[1, [0, 1, 2, 3]] = 0.25
    x[2, [4, 5, 6, 7, 8]] = 0.2
    _, e, _ = random_batch(3)
    y = torch.tensor([1.0, 0.0, 1.0])
    _, parts = model.loss(x, e, y, sample=False, reduction="none")
    mean, _ = model.encode(x, y)  # sample=False decodes the mean of q(z|x,y)
    reference = torch.distributions.Multinomial(100, logits=model.decoder_logits(mean, y))
    torch.testing.assert_close(parts["reconstruction"], -reference.log_prob(torch.round(100 * x)),
                               rtol=1e-5, atol=1e-3)


def test_prior_must_be_a_probability(model):
    x, e, y = random_batch(4)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        model.loss(x, e, y, prior=torch.tensor([0.5, 1.0, 0.5, 0.5]))


def test_sampled_loss_is_reproducible_with_a_seed(model):
    x, e, y = random_batch(8)
    torch.manual_seed(3)
    first, _ = model.loss(x, e, y)
    torch.manual_seed(3)
    second, _ = model.loss(x, e, y)
    torch.manual_seed(4)
    third, _ = model.loss(x, e, y)
    assert first.item() == second.item()
    assert first.item() != third.item()


def test_multinomial_log_prob_matches_torch_for_integer_counts():
    torch.manual_seed(0)
    logits = torch.randn(5, 30)
    counts = torch.distributions.Multinomial(100, logits=logits).sample()
    expected = torch.distributions.Multinomial(100, logits=logits).log_prob(counts)
    torch.testing.assert_close(multinomial_log_prob(counts, logits), expected, rtol=1e-5, atol=1e-3)
    # Extreme logits stay finite where a softmax followed by log would give -inf * 0.
    logits = torch.tensor([[80.0, -80.0, 0.0]])
    assert torch.isfinite(multinomial_log_prob(torch.tensor([[100.0, 0.0, 0.0]]), logits)).all()


def test_kl_terms_match_torch():
    torch.manual_seed(0)
    loc, log_scale = torch.randn(6, 2), torch.randn(6, 2) * 0.5
    q = torch.distributions.Normal(loc, log_scale.exp())
    p = torch.distributions.Normal(torch.zeros(2), torch.ones(2))
    torch.testing.assert_close(gaussian_kl(loc, log_scale), torch.distributions.kl_divergence(q, p).sum(-1))
    logits, prior = torch.randn(6), torch.rand(6) * 0.8 + 0.1
    expected = torch.distributions.kl_divergence(
        torch.distributions.Bernoulli(logits=logits), torch.distributions.Bernoulli(probs=prior)
    )
    torch.testing.assert_close(bernoulli_kl(logits, prior), expected)


def test_config_round_trips_through_json():
    cfg = SSVAEConfig(z_dim=3, hidden=(20, 10), alpha=5.0, prior_y=0.3, encoder_input_scale=100.0)
    again = SSVAEConfig.from_json(cfg.to_json())
    assert again == cfg
    assert again.hidden == (20, 10)
    with pytest.raises(ValueError, match="unknown SSVAEConfig fields"):
        SSVAEConfig.from_dict({**cfg.to_dict(), "bogus": 1})
    with pytest.raises(ValueError, match="prior_y"):
        SSVAEConfig(prior_y=1.0)


# -- the authors' released weights ----------------------------------------------


def _authors_networks(state):
    """The released networks rebuilt independently as plain nn.Sequential stacks."""

    def stack(prefix, head_keys):
        layers = [nn.Linear(*state[f"{prefix}.1.weight"].shape[::-1]), nn.Softplus(),
                  nn.Linear(*state[f"{prefix}.3.weight"].shape[::-1]), nn.Softplus()]
        layers[0].weight.data, layers[0].bias.data = state[f"{prefix}.1.weight"], state[f"{prefix}.1.bias"]
        layers[2].weight.data, layers[2].bias.data = state[f"{prefix}.3.weight"], state[f"{prefix}.3.bias"]
        heads = []
        for key in head_keys:
            head = nn.Linear(*state[f"{prefix}.{key}.weight"].shape[::-1])
            head.weight.data, head.bias.data = state[f"{prefix}.{key}.weight"], state[f"{prefix}.{key}.bias"]
            heads.append(head)
        return nn.Sequential(*layers), heads

    return {
        "encoder_y": stack("encoder_y.sequential_mlp", ["5"]),
        "encoder_z": stack("encoder_z.sequential_mlp", ["5.0.0", "5.1.0"]),
        "decoder": stack("decoder.sequential_mlp", ["5"]),
    }


@pytest.mark.needs_data
def test_released_weights_map_onto_our_model():
    path = fetch("ssvae.model")
    state = torch.load(path, weights_only=True)
    nets = _authors_networks(state)
    model = load_released_model(path)
    x, e, y = random_batch(10, seed=5)
    with torch.no_grad():
        body, (head,) = nets["encoder_y"]
        np.testing.assert_allclose(model.predict_proba(e), torch.sigmoid(head(body(e))).squeeze(-1).numpy(),
                                   rtol=1e-5)
        body, (loc_head, scale_head) = nets["encoder_z"]
        hidden = body(torch.cat([x * 100, y[:, None]], -1))  # the authors fed at.%
        mean, std = model.encode(x, y)
        torch.testing.assert_close(mean, loc_head(hidden))
        torch.testing.assert_close(std, scale_head(hidden).exp())
        body, (head,) = nets["decoder"]
        z = torch.randn(10, 2)
        torch.testing.assert_close(model.decode(z, y), torch.softmax(head(body(torch.cat([z, y[:, None]], -1))), -1))


@pytest.mark.needs_data
def test_released_model_reproduces_reported_test_numbers():
    scores = evaluate(load_released_model(), paper_split()["test"])
    assert scores["n"] == 138
    assert scores["accuracy"] == pytest.approx(paper.TEST_ACCURACY.value, abs=0.01)
    assert scores["auc"] == pytest.approx(0.915, abs=0.01)
    assert scores["mae_all"] == pytest.approx(2.22, abs=0.02)
    assert scores["mae_present"] == pytest.approx(16.1, abs=0.1)
    assert math.isfinite(scores["brier"])
