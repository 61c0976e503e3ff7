"""The semi-supervised VAE (Kingma et al.'s M2) for high-entropy alloys, in plain PyTorch.

The model follows Zeng, Khan & Post (arXiv:2409.06740): a classifier of the
single-phase label from eight engineered features, and a VAE of the
composition whose latent space is conditioned on that label. The three
networks are named for the distribution they parametrise, as in pyro's
``ss_vae_M2`` example: ``encoder_y``, ``encoder_z`` and ``decoder``.

Notation: ``x`` is the composition (atomic fractions over the 30 elements of
:data:`hea_dvae.features.ELEMENTS`), ``y`` the label (1 = single phase),
``z`` the latent vector and ``e`` the raw engineered features
(:data:`hea_dvae.features.FEATURES`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .elements import FEATURES
from .identity import predictor_identity, state_digest
from .upstream import fetch

N_ELEMENTS = 30
N_FEATURES = 8

#: Key prefixes of the authors' released ``ssvae.model`` -> our parameter names.
_RELEASED_KEY_MAP = {
    "encoder_y.sequential_mlp.1.": "encoder_y.layers.0.",
    "encoder_y.sequential_mlp.3.": "encoder_y.layers.2.",
    "encoder_y.sequential_mlp.5.": "encoder_y.layers.4.",
    "encoder_z.sequential_mlp.1.": "encoder_z.body.layers.0.",
    "encoder_z.sequential_mlp.3.": "encoder_z.body.layers.2.",
    "encoder_z.sequential_mlp.5.0.0.": "encoder_z.loc.",
    "encoder_z.sequential_mlp.5.1.0.": "encoder_z.log_scale.",
    "decoder.sequential_mlp.1.": "decoder.layers.0.",
    "decoder.sequential_mlp.3.": "decoder.layers.2.",
    "decoder.sequential_mlp.5.": "decoder.layers.4.",
}


@dataclass
class SSVAEConfig:
    """Architecture and loss settings of :class:`SSVAE`; round-trips to JSON.

    Parameters
    ----------
    z_dim : int
        Dimension of the latent vector ``z``.
    hidden : tuple of int
        Widths of the hidden layers of each of the three networks.
    total_count : float
        Total count of the multinomial ``p(x|y,z)``. The observation is the
        composition in at.%, i.e. counts ``total_count * x``; the default 100
        makes one count one atomic percent.
    alpha : float
        Weight of the supervised classification loss ``alpha * BCE(q(y|e), y)``
        on labelled alloys (the authors' ``aux_loss_multiplier``; their
        ``train.py`` used 10).
    prior_y : float
        Default prior probability ``p(y=1)``; a per-alloy tensor can be passed
        to :meth:`SSVAE.loss` instead.
    encoder_input_scale : float
        ``encoder_z`` sees ``encoder_input_scale * x``. The default 100 feeds
        it compositions in at.%, as the authors' model (and their released
        weights) did; 1 would feed fractions, which trains more slowly.
    n_elements, n_features : int
        Width of ``x`` and of ``e``.
    table : str
        Name of the element table the features were computed with (see
        :func:`hea_dvae.features.featurize`).
    """

    z_dim: int = 2
    hidden: tuple[int, ...] = (100, 100)
    total_count: float = 100.0
    alpha: float = 10.0
    prior_y: float = 0.5
    encoder_input_scale: float = 100.0
    n_elements: int = N_ELEMENTS
    n_features: int = N_FEATURES
    table: str = "paper"

    def __post_init__(self):
        self.hidden = tuple(int(h) for h in self.hidden)
        if not 0 < self.prior_y < 1:
            raise ValueError(f"prior_y must be in (0, 1), got {self.prior_y}")
        if self.z_dim < 1 or not self.hidden or min(self.hidden) < 1:
            raise ValueError(f"invalid sizes: z_dim={self.z_dim}, hidden={self.hidden}")

    def to_dict(self) -> dict:
        """Plain-JSON dictionary (tuples become lists)."""
        out = asdict(self)
        out["hidden"] = list(self.hidden)
        return out

    @classmethod
    def from_dict(cls, values: dict) -> "SSVAEConfig":
        """Inverse of :meth:`to_dict`; unknown keys are an error, not ignored."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown SSVAEConfig fields: {unknown}")
        return cls(**values)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> "SSVAEConfig":
        return cls.from_dict(json.loads(text))


class MLP(nn.Module):
    """Linear layers with softplus between them, as in the authors' networks.

    ``sizes = (n_in, h1, ..., n_out)``; with ``final_activation`` the last
    linear layer is also followed by a softplus (for a shared trunk).
    """

    def __init__(self, sizes, final_activation: bool = False):
        super().__init__()
        modules: list[nn.Module] = []
        pairs = list(zip(sizes[:-1], sizes[1:]))
        for i, (n_in, n_out) in enumerate(pairs):
            modules.append(nn.Linear(n_in, n_out))
            if i < len(pairs) - 1 or final_activation:
                modules.append(nn.Softplus())
        self.layers = nn.Sequential(*modules)

    def forward(self, inputs: Tensor) -> Tensor:
        return self.layers(inputs)


class GaussianEncoder(nn.Module):
    """A trunk and two heads: the mean and the log standard deviation."""

    def __init__(self, n_in: int, hidden, n_out: int):
        super().__init__()
        self.body = MLP((n_in, *hidden), final_activation=True)
        self.loc = nn.Linear(hidden[-1], n_out)
        self.log_scale = nn.Linear(hidden[-1], n_out)

    def forward(self, inputs: Tensor) -> tuple[Tensor, Tensor]:
        h = self.body(inputs)
        return self.loc(h), self.log_scale(h)


def _as_tensor(values, device) -> Tensor:
    if isinstance(values, Tensor):
        return values.to(device=device, dtype=torch.float32)
    # np.array copies: frames from pandas can hand out read-only buffers.
    return torch.from_numpy(np.array(values, dtype=np.float32)).to(device)


def _label_column(y, n: int, device) -> Tensor:
    """Labels as an (n, 1) float column; accepts a scalar, (n,) or (n, 1)."""
    y = _as_tensor(y, device)
    if y.dim() == 0:
        return y.expand(n, 1)
    return y.reshape(n, 1)


def multinomial_log_coefficient(counts: Tensor) -> Tensor:
    """log of the multinomial coefficient n! / prod(c_i!) per row, via ``lgamma``."""
    return torch.lgamma(counts.sum(-1) + 1) - torch.lgamma(counts + 1).sum(-1)


def multinomial_log_prob(counts: Tensor, logits: Tensor, log_coefficient: Tensor | None = None) -> Tensor:
    """log Multinomial(counts | softmax(logits)) per row, for real-valued counts.

    ``log_softmax`` keeps ``0 * log p`` finite without clamping, and the
    multinomial coefficient uses ``lgamma`` so fractional counts (e.g. 100/3)
    are fine. ``log_coefficient``, if given, is
    :func:`multinomial_log_coefficient` of ``counts`` computed beforehand
    (it does not depend on the model, so a training loop can compute it once).
    """
    if log_coefficient is None:
        log_coefficient = multinomial_log_coefficient(counts)
    return log_coefficient + (counts * F.log_softmax(logits, dim=-1)).sum(-1)


def gaussian_kl(loc: Tensor, log_scale: Tensor) -> Tensor:
    """KL(N(loc, exp(log_scale)^2) || N(0, I)) per row, analytically."""
    return 0.5 * (loc.pow(2) + torch.exp(2 * log_scale) - 1).sum(-1) - log_scale.sum(-1)


def bernoulli_nll(y: Tensor, prior: Tensor) -> Tensor:
    """-log Bernoulli(y | prior) per alloy: the prior term of a labelled alloy."""
    return -(y * torch.log(prior) + (1 - y) * torch.log1p(-prior))


def bernoulli_kl(logits: Tensor, prior: Tensor) -> Tensor:
    """KL(Bernoulli(sigmoid(logits)) || Bernoulli(prior)) per alloy."""
    q1 = torch.sigmoid(logits)
    # logsigmoid of the logits is exact where sigmoid would round to 0 or 1.
    return q1 * (F.logsigmoid(logits) - torch.log(prior)) + (1 - q1) * (
        F.logsigmoid(-logits) - torch.log1p(-prior)
    )


class OneMember:
    """One model as a predictor (:class:`hea_dvae.predictors.Predictor`): one member, no spread.

    Mixed into :class:`SSVAE`, so that one trained model goes wherever an
    ensemble does (``predict``, the design routes, the screen).
    """

    @property
    def name(self) -> str:
        return f"one SSVAE ({self.config.table} table)"

    @property
    def table(self) -> str:
        """Element table of the features the classifier reads."""
        return self.config.table

    @property
    def identity(self) -> str:
        """The same identity as a one-member ensemble of this model (see :func:`predictor_identity`)."""
        return predictor_identity([model_digest(self)], 1.0)

    @property
    def members(self) -> list["SSVAE"]:
        return [self]

    n_members = 1
    temperature = 1.0

    @property
    def features(self) -> tuple[str, ...]:
        """Names of the classifier's inputs: the 8 features, the 31 descriptors, or ``input_0``, ... otherwise."""
        if self.config.n_features == len(FEATURES):
            return FEATURES
        from .descriptors import MODEL_INPUTS

        if self.config.n_features == len(MODEL_INPUTS):
            return MODEL_INPUTS
        return tuple(f"input_{i}" for i in range(self.config.n_features))

    def member(self, index: int) -> "SSVAE":
        if index != 0:
            raise IndexError(f"one model has one member (0), not {index}")
        return self

    def featurize(self, x) -> np.ndarray:
        """What the classifier reads of fractions (n, 30), with this model's element table.

        The 8 features; for a model of 31 inputs, the descriptors as
        :func:`hea_dvae.descriptors.model_inputs` gives them.
        """
        from .descriptors import MODEL_INPUTS, model_inputs
        from .features import featurize

        x = np.asarray(x, dtype=float)
        if self.features == FEATURES:
            return np.asarray(featurize(x, table=self.config.table))
        if self.features == MODEL_INPUTS:
            return model_inputs(np.atleast_2d(x), table=self.config.table).to_numpy(dtype=float)
        raise ValueError(f"a model of {self.config.n_features} inputs reads neither the {len(FEATURES)} features "
                         f"nor the {len(MODEL_INPUTS)} descriptors: give it its inputs")

    def member_probabilities(self, e) -> np.ndarray:
        """:meth:`predict_proba` as one member's row, shape (1, n)."""
        return self.predict_proba(e).astype(float)[None, :]

    def predict_spread(self, e) -> np.ndarray:
        """NaN for every alloy: one model has no members to disagree."""
        return np.full(len(np.atleast_2d(np.asarray(e))), np.nan)

    def member_logits(self, e) -> Tensor:
        """:meth:`classify_logits` as one member's row, shape (1, n); differentiable."""
        return self.classify_logits(_as_tensor(e, self.device).reshape(-1, self.config.n_features))[None, :]


class SSVAE(OneMember, nn.Module):
    r"""Semi-supervised VAE: phase classifier and label-conditioned composition VAE.

    Generative model, for an alloy with composition ``x`` (fractions over
    :math:`K = 30` elements, observed as counts :math:`c = N x` with
    :math:`N` = ``total_count``)::

        p(z)       = Normal(z | 0, I)                          z in R^{z_dim}
        p(y)       = Bernoulli(y | pi)                         pi = prior_y, or per alloy
        p(x | y,z) = Multinomial(N x | N, softmax(decoder([z, y])))

    Inference model (guide); ``e`` are the 8 engineered features of ``x``,
    standardised with the mean and standard deviation of the training pool
    (stored as buffers ``feature_mean``, ``feature_std``)::

        q(y | e)   = Bernoulli(y | sigmoid(encoder_y((e - mean) / std)))
        q(z | x,y) = Normal(z | mu, diag(sigma^2)),
                     (mu, log sigma) = encoder_z([s x, y])     s = encoder_input_scale

    Loss per alloy (the negative evidence lower bound plus the supervised
    term of Kingma et al., 2014). Labelled alloys::

        L(x, y) = -E_q(z|x,y)[log p(x|y,z)] + KL(q(z|x,y) || p(z)) - log p(y)
                  + alpha * BCE(q(y|e), y)

    Unlabelled alloys, enumerating both labels exactly::

        U(x) = sum_y q(y|e) [-E_q(z|x,y)[log p(x|y,z)] + KL(q(z|x,y) || p(z))]
               + KL(q(y|e) || p(y))

    Both KL terms are analytic; the expectation over ``z`` uses one
    reparameterised sample (or the mean, with ``sample=False``).

    Parameters
    ----------
    config : SSVAEConfig, optional
        Sizes and loss settings; the defaults follow the paper.
    feature_mean, feature_std : array-like of shape (8,), optional
        Scaler of the raw features; identity (0, 1) when omitted.
    """

    def __init__(self, config: SSVAEConfig | None = None, feature_mean=None, feature_std=None):
        super().__init__()
        self.config = config = config or SSVAEConfig()
        hidden = config.hidden
        self.encoder_y = MLP((config.n_features, *hidden, 1))
        self.encoder_z = GaussianEncoder(config.n_elements + 1, hidden, config.z_dim)
        self.decoder = MLP((config.z_dim + 1, *hidden, config.n_elements))
        mean = torch.zeros(config.n_features) if feature_mean is None else _as_tensor(feature_mean, "cpu")
        std = torch.ones(config.n_features) if feature_std is None else _as_tensor(feature_std, "cpu")
        self.register_buffer("feature_mean", mean.reshape(config.n_features).clone())
        self.register_buffer("feature_std", std.reshape(config.n_features).clone())

    @property
    def device(self) -> torch.device:
        return self.feature_mean.device

    def set_scaler(self, feature_mean, feature_std) -> None:
        """Set the feature scaler (raw features -> inputs of ``encoder_y``)."""
        std = _as_tensor(feature_std, self.device).reshape(-1)
        if (std <= 0).any():
            raise ValueError("feature standard deviations must be positive")
        self.feature_mean.copy_(_as_tensor(feature_mean, self.device).reshape(-1))
        self.feature_std.copy_(std)

    # -- q(y|e) ------------------------------------------------------------
    def classify_logits(self, e: Tensor) -> Tensor:
        """Logits of q(y=1|e), shape (n,), from RAW features; differentiable in ``e``."""
        return self.encoder_y((e - self.feature_mean) / self.feature_std).squeeze(-1)

    @torch.no_grad()
    def predict_proba(self, features) -> np.ndarray:
        """Probability of a single phase, q(y=1|e), as a numpy array of shape (n,).

        Parameters
        ----------
        features : array-like, Tensor or DataFrame of shape (n, 8) or (8,)
            Raw (unstandardised) engineered features in
            :data:`hea_dvae.features.FEATURES` order. A DataFrame is read by
            column name.
        """
        if hasattr(features, "columns"):
            features = features[list(FEATURES)].to_numpy(dtype=np.float32)
        e = _as_tensor(features, self.device).reshape(-1, self.config.n_features)
        was_training = self.training
        self.eval()
        try:
            return torch.sigmoid(self.classify_logits(e)).cpu().numpy()
        finally:
            self.train(was_training)

    # -- q(z|x,y) and p(x|y,z) ----------------------------------------------
    def _encode(self, x: Tensor, y_col: Tensor) -> tuple[Tensor, Tensor]:
        inputs = torch.cat([x * self.config.encoder_input_scale, y_col], dim=-1)
        return self.encoder_z(inputs)

    def encode(self, x, y) -> tuple[Tensor, Tensor]:
        """Mean and standard deviation of q(z|x,y), each of shape (n, z_dim).

        ``x`` are fractions of shape (n, 30); ``y`` is a scalar or (n,) label
        (a probability in [0, 1] is accepted, as the authors did when
        reconstructing).
        """
        x = _as_tensor(x, self.device).reshape(-1, self.config.n_elements)
        loc, log_scale = self._encode(x, _label_column(y, x.shape[0], self.device))
        return loc, torch.exp(log_scale)

    def decoder_logits(self, z, y) -> Tensor:
        """Unnormalised log probabilities of p(x|y,z), shape (n, 30)."""
        z = _as_tensor(z, self.device).reshape(-1, self.config.z_dim)
        return self.decoder(torch.cat([z, _label_column(y, z.shape[0], self.device)], dim=-1))

    def decode(self, z, y) -> Tensor:
        """Composition probabilities softmax(decoder([z, y])), shape (n, 30), rows sum to 1."""
        return torch.softmax(self.decoder_logits(z, y), dim=-1)

    # -- loss ----------------------------------------------------------------
    def _prior(self, prior, n: int) -> Tensor:
        prior = self.config.prior_y if prior is None else prior
        prior = _as_tensor(prior, self.device)
        prior = prior.expand(n) if prior.dim() == 0 else prior.reshape(n)
        if not ((prior > 0) & (prior < 1)).all():
            raise ValueError("the prior p(y=1) must lie strictly between 0 and 1")
        return prior

    def branch_terms(self, x: Tensor, y, sample: bool = True) -> tuple[Tensor, Tensor]:
        """Reconstruction -log p(x|y,z) (one z draw) and KL(q(z|x,y)||p(z)), each (n,)."""
        y_col = _label_column(y, x.shape[0], self.device)
        loc, log_scale = self._encode(x, y_col)
        z = loc + torch.exp(log_scale) * torch.randn_like(loc) if sample else loc
        logits = self.decoder(torch.cat([z, y_col], dim=-1))
        reconstruction = -multinomial_log_prob(self.config.total_count * x, logits)
        return reconstruction, gaussian_kl(loc, log_scale)

    def loss(self, x, e, y=None, prior=None, sample: bool = True, reduction: str = "mean"):
        """Per-alloy semi-supervised loss (see the class docstring) and its parts.

        Parameters
        ----------
        x : Tensor (n, 30)
            Compositions as fractions.
        e : Tensor (n, 8)
            Raw engineered features.
        y : Tensor (n,), optional
            Labels in {0, 1}; NaN marks an unlabelled alloy, and ``None``
            means all are unlabelled. One call thus handles a mixed batch.
        prior : float or Tensor (n,), optional
            p(y=1), constant or per alloy; defaults to ``config.prior_y``.
        sample : bool
            Draw z by reparameterisation; ``False`` uses the mean of q(z|x,y)
            (deterministic, for evaluation and tests).
        reduction : {"mean", "sum", "none"}
            How to reduce over alloys.

        Returns
        -------
        loss : Tensor
            Scalar, or (n,) for ``reduction="none"``.
        parts : dict of str -> Tensor
            ``reconstruction`` (label-weighted for unlabelled alloys), ``kl_z``,
            ``y_prior`` (-log p(y) if labelled, KL(q(y|e)||p(y)) if not) and
            ``classification`` (alpha * BCE, 0 if unlabelled), reduced alike.
        """
        x = _as_tensor(x, self.device)
        e = _as_tensor(e, self.device)
        n = x.shape[0]
        labelled = torch.zeros(n, dtype=torch.bool, device=self.device)
        y_filled = torch.zeros(n, device=self.device)
        if y is not None:
            y = _as_tensor(y, self.device).reshape(n)
            labelled = ~torch.isnan(y)
            # Zeros, not NaN, in the unused branch: NaN * 0 would poison gradients.
            y_filled = torch.where(labelled, y, y_filled)
        prior = self._prior(prior, n)
        logits_y = self.classify_logits(e)
        sup = labelled.nonzero().squeeze(1)
        unsup = (~labelled).nonzero().squeeze(1)
        n_sup, n_unsup = len(sup), len(unsup)

        # One pass through encoder_z and decoder: labelled alloys with their
        # label, then each unlabelled alloy twice, with y=0 and with y=1.
        rows_y = torch.cat([y_filled[sup], torch.zeros(n_unsup, device=self.device),
                            torch.ones(n_unsup, device=self.device)])
        reconstruction, kl_z = self.branch_terms(torch.cat([x[sup], x[unsup], x[unsup]]), rows_y, sample)
        sup_reconstruction, *unsup_reconstruction = reconstruction.split([n_sup, n_unsup, n_unsup])
        sup_kl_z, *unsup_kl_z = kl_z.split([n_sup, n_unsup, n_unsup])

        sup_logits, sup_y, sup_prior = logits_y[sup], y_filled[sup], prior[sup]
        sup_parts = {
            "reconstruction": sup_reconstruction,
            "kl_z": sup_kl_z,
            "y_prior": bernoulli_nll(sup_y, sup_prior),
            "classification": self.config.alpha
            * F.binary_cross_entropy_with_logits(sup_logits, sup_y, reduction="none"),
        }
        unsup_logits = logits_y[unsup]
        q1 = torch.sigmoid(unsup_logits)
        q = torch.stack([1 - q1, q1])
        unsup_parts = {
            "reconstruction": (q * torch.stack(unsup_reconstruction)).sum(0),
            "kl_z": (q * torch.stack(unsup_kl_z)).sum(0),
            "y_prior": bernoulli_kl(unsup_logits, prior[unsup]),
            "classification": torch.zeros_like(q1),
        }
        # Back to the caller's alloy order.
        order = torch.argsort(torch.cat([sup, unsup]))
        parts = {name: torch.cat([sup_parts[name], unsup_parts[name]])[order] for name in sup_parts}
        total = sum(parts.values())
        if reduction == "none":
            return total, parts
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        reduce = torch.mean if reduction == "mean" else torch.sum
        return reduce(total), {name: reduce(value) for name, value in parts.items()}


def released_config() -> SSVAEConfig:
    """Configuration matching the authors' released ``models/ssvae.model``.

    Their ``encoder_z`` was trained on at.% (``x * 100``) and their
    ``encoder_y`` on raw features, so the input scale is 100 and the scaler
    is the identity. Their pyro model declared ``total_count=101`` although
    the counts sum to 100; we use 100, which only affects loss values.
    """
    return SSVAEConfig(z_dim=2, hidden=(100, 100), total_count=100.0, alpha=10.0,
                       encoder_input_scale=100.0)


def convert_released_state_dict(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Rename the authors' ``sequential_mlp`` keys to this module's parameter names."""
    converted = {}
    for key, value in state.items():
        for old, new in _RELEASED_KEY_MAP.items():
            if key.startswith(old):
                converted[new + key[len(old):]] = value
                break
        else:
            raise ValueError(f"unexpected key {key!r} in the released weights")
    return converted


def load_released_model(path: str | Path | None = None, device="cpu") -> SSVAE:
    """The authors' trained SSVAE, mapped onto :class:`SSVAE` (in eval mode).

    Parameters
    ----------
    path : path-like, optional
        The released ``ssvae.model`` state dict; by default the pinned,
        checksum-verified copy from :func:`hea_dvae.data.fetch`.
    device : str or torch.device
        Where to put the model.

    Notes
    -----
    The file is read with ``torch.load(..., weights_only=True)``, which
    refuses to unpickle anything but tensors.
    """
    if path is None:
        path = fetch("ssvae.model")
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = SSVAE(released_config())
    # The scaler buffers are ours (identity for raw features), not in the file.
    converted = convert_released_state_dict(state)
    converted["feature_mean"] = model.feature_mean
    converted["feature_std"] = model.feature_std
    model.load_state_dict(converted, strict=True)
    return model.to(device).eval()



def model_digest(model: nn.Module) -> str:
    """SHA-256 of a model's tensors (names, shapes and values) in a fixed order: the model's identity."""
    return state_digest((name, tensor.detach().cpu().contiguous().numpy())
                        for name, tensor in model.state_dict().items())
