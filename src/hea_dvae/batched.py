"""Many SSVAE training runs as one batched computation.

:func:`hea_dvae.train.fit` trains one model in about 8,000 Adam steps of a
few small matrix products each, and most of its time goes to the per-step
work of Python and autograd. :func:`fit_many` trains a list of runs (seeds,
data subsets, recipes) at once: the parameters of the K runs are stacked
along a leading dimension, every layer is one batched matrix product
(``torch.baddbmm``) over the K runs, and one call of the fused Adam kernel
updates them all, so that the per-step overhead is paid once for K models
and what remains is arithmetic.

Each run gets what :func:`hea_dvae.train.fit` gives it: the scaler fitted
on its labelled and unlabelled features, the prior fitted on its labelled
alloys, the loss of :meth:`hea_dvae.model.SSVAE.loss`, its own learning-rate
schedule, KL warm-up, evaluations, the two snapshots and early stopping.
It even draws the same random numbers: the initial weights, the order of
the mini-batches and the z noise come from the same seeded streams as in
:func:`~hea_dvae.train.fit` (one :class:`torch.Generator` per run for the
order, one for the noise). The results are nevertheless not bitwise equal
to :func:`~hea_dvae.train.fit`'s: the batched kernels add in another order,
and a few thousand Adam steps turn last-bit differences into another
trajectory, as another CPU would. They agree within seed noise.

How runs share one computation
------------------------------
- **Shapes.** Runs trained together must have the same network widths,
  ``z_dim``, input widths, ``batch_size`` and device
  (:func:`compatible_groups`); everything else may differ per run.
- **Rows.** A step of a run holds its mini-batch of alloys (for
  ``encoder_y``) and the (alloy, label) rows that ``encoder_z`` and the
  decoder see: each alloy with its label (y = 0 if unlabelled), then each
  unlabelled alloy again with y = 1, as in
  :meth:`~hea_dvae.model.SSVAE.loss`. The K runs' steps are padded to common
  sizes (multiples of :data:`ALLOY_ALIGN` and :data:`ROW_ALIGN`), always at
  the end; padding carries weight 0, so it adds exact zeros to the
  gradients.
- **Masking.** A run with a smaller pool has fewer steps per epoch. Runs are
  ordered by steps per epoch, so the runs taking step ``s`` of an epoch are
  a prefix of the stack; the others sit that step out, their parameters and
  Adam state untouched.
- **Adam.** Parameters, gradients and moments live in two flat buffers of
  shape (K, P) (the decoder's and the rest, whose learning rates differ);
  the fused Adam kernel (the one behind ``torch.optim.Adam(fused=True)``)
  updates each block of consecutive runs that share a learning rate and a
  step count.
- **Stopping.** A run that stops early (patience) or reaches its last epoch
  is finished at once (its model built from its two snapshots) and dropped
  from the stack.
- **Processes.** ``fit_many(..., processes=2)`` splits the runs between
  worker processes, one per core. Beyond one machine, the model cache
  (:func:`hea_dvae.zoo.train_missing`) runs batches as tasks of a Dask
  cluster (:func:`split_runs`, :func:`fit_batch`): the same models, on the
  same kind of CPU.

No run leaks into another
-------------------------
A run's numbers never depend on the other runs of its batch: the tests
check that runs trained beside one with shuffled labels, in batches of any
size, with one or two threads or in two processes, are bitwise identical to
the same runs trained without it. Three things had to be arranged for that:

- ``sigmoid``, ``softplus`` and its backward round differently in the
  scalar loop that finishes a tensor than in their SIMD loop, so each run's
  slab of every tensor is a whole number of vectors (the alignments above).
- With a batch of one, ``torch.bmm`` hands a product whose result has a
  single column to a matrix-vector kernel that adds in another order than
  the batched kernel; such products (``encoder_y``'s output layer, and a
  one-input layer's backward) are computed as a broadcast product and a row
  sum instead (:func:`_product`).
- A column sum over rows (the bias gradients) adds in blocks of 16 rows, so
  padding between a run's rows would shift its rows against the blocks:
  padding only ever comes after a run's last row.

Speed
-----
On a 2-core AMD EPYC (AVX2, 2.45 GHz), one thread, the default recipe costs
about 12 s per model in batches of 10 to 100 runs, against about 36 s for
one :func:`~hea_dvae.train.fit` run. What remains is arithmetic: the batched
products run at about 90 % of the core's peak and take some 40 % of the
time, ``softplus`` and its gradient (about 5 ns per activation) another
30 %. ``processes=2`` uses both cores. Two threads in one process are only
as good on an otherwise idle machine: when another process holds a core,
each of the ~150 parallel operations of a step waits for the descheduled
thread, and training becomes many times slower. ``torch.compile`` (minutes
to compile, no faster) and ``torch.func.vmap`` (1.4 to 2 times slower) were
tried and not kept. ``benchmarks/bench_train.py`` measures.
"""

from __future__ import annotations

import math
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .config import show_progress
from .data import as_arrays
from .model import (
    SSVAE,
    SSVAEConfig,
    bernoulli_kl,
    bernoulli_nll,
    gaussian_kl,
    multinomial_log_coefficient,
    multinomial_log_prob,
)
from .priors import prior_of_run
from .scores import reconstruction_errors, roc_auc
from .recipe import TrainConfig, classifier_key, fit_scaler, learning_rate, pool_arrays, vae_key
from .workers import run as run_in_workers

#: What trains a model, in the model cache's keys: a change of the trainer's
#: arithmetic is a new version (its models are other models).
TRAINER = "batched 1"

#: A step's alloys are padded to a multiple of this, its (alloy, label) rows
#: to a multiple of ROW_ALIGN. Every run's slab of a (K, alloys) or (K, rows,
#: hidden) tensor is then a whole number of SIMD vectors, also when two
#: threads split a tensor in halves: no run lands in the scalar remainder
#: loop of ``sigmoid`` or ``softplus`` (and its backward), which rounds
#: differently from their vector loop, so a run's numbers cannot depend on
#: its place in the stack.
ALLOY_ALIGN = 16
ROW_ALIGN = 8
#: Each run's row of the flat parameter buffers is padded to a multiple of this.
PARAM_ALIGN = 64
#: Held by a :func:`fit_many` call while it trains in this process.
_ONE_CALL_AT_A_TIME = threading.Lock()
#: Adam settings of :func:`hea_dvae.train.fit` (``torch.optim.Adam`` defaults).
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


@dataclass(frozen=True, eq=False)
class Run:
    """One training run for :func:`fit_many`: the arguments of :func:`hea_dvae.train.fit`.

    Attributes
    ----------
    labelled, unlabelled, validation : DataFrame or tuple of arrays
        Parts of a split, as :func:`hea_dvae.data.as_arrays` accepts;
        ``unlabelled`` may be ``None`` or empty.
    config : TrainConfig
        The recipe; ``num_threads`` is ignored (see :func:`fit_many`).
    seed : int
        Seeds initialisation, batch order and z noise.
    """

    labelled: Any
    unlabelled: Any
    validation: Any
    config: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 42


def shape_key(config: TrainConfig) -> tuple:
    """What runs trained together must share: widths, batch size and device."""
    model = config.model
    return (model.n_features, model.n_elements, model.hidden, model.z_dim, config.batch_size,
            torch.device(config.device).type)


def compatible_groups(runs: Sequence[Run]) -> list[list[int]]:
    """Partition runs into groups that :func:`fit_many` can train as one batch.

    Parameters
    ----------
    runs : sequence of Run

    Returns
    -------
    list of list of int
        Indices into ``runs``, grouped by :func:`shape_key` of their
        configuration, in order of first appearance.
    """
    groups: dict[tuple, list[int]] = {}
    for index, run in enumerate(runs):
        groups.setdefault(shape_key(_check_run(run, index).config), []).append(index)
    return list(groups.values())


def _check_run(run, index: int) -> Run:
    if not isinstance(run, Run):
        raise ValueError(f"run {index} is a {type(run).__name__}, not a hea_dvae.batched.Run")
    if not isinstance(run.config, TrainConfig):
        raise ValueError(f"run {index}: config must be a TrainConfig, got {type(run.config).__name__}")
    if isinstance(run.seed, bool) or not isinstance(run.seed, (int, np.integer)):
        raise ValueError(f"run {index}: seed must be an integer, got {run.seed!r}")
    return run


# --------------------------------------------------------------------------
# One run's data, prior and initial weights


@dataclass
class _Prepared:
    """Everything of one run that does not change while training."""

    index: int
    run: Run
    config: TrainConfig
    xs: np.ndarray          # (n, 30): labelled alloys first, then unlabelled
    es: np.ndarray          # (n, 8) raw features
    ys: np.ndarray          # (n,) labels, 0 for unlabelled alloys
    n_sup: int
    prior: Any
    prior_all: np.ndarray   # (n,) p(y=1) of each alloy of the pool
    mean: np.ndarray
    std: np.ndarray
    val_x: np.ndarray
    val_e: np.ndarray
    val_y: np.ndarray
    initial: dict           # state dict of the initial SSVAE
    order_generator: torch.Generator
    noise_generator: torch.Generator
    batch_size: int
    steps_per_epoch: int
    total_steps: int
    warmup_steps: int

    @property
    def n(self) -> int:
        return len(self.xs)


def _prepare(run: Run, index: int) -> _Prepared:
    """Data, scaler, prior and initial weights of a run, exactly as :func:`hea_dvae.train.fit` makes them."""
    config = run.config
    try:
        sup_x, sup_e, sup_y, unsup_x, unsup_e = pool_arrays(run.labelled, run.unlabelled)
        val_x, val_e, val_y = as_arrays(run.validation)
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"run {index}: {error}") from error
    model_config = config.model
    for name, part in (("labelled", (sup_x, sup_e)), ("unlabelled", (unsup_x, unsup_e)),
                       ("validation", (val_x, val_e))):
        x, e = part
        if x.ndim != 2 or x.shape[1] != model_config.n_elements or e.ndim != 2 or e.shape[1] != model_config.n_features:
            raise ValueError(f"run {index}: {name} compositions and features must have "
                             f"{model_config.n_elements} and {model_config.n_features} columns, got shapes "
                             f"{x.shape} and {e.shape}")
    if len(sup_x) == 0:
        raise ValueError(f"run {index}: no labelled alloys")
    if len(val_x) == 0:
        raise ValueError(f"run {index}: no validation alloys")
    for name, labels in (("labelled", sup_y), ("validation", val_y)):
        if len(labels) and not np.isin(labels, (0.0, 1.0)).all():
            raise ValueError(f"run {index}: {name} labels must be 0 or 1 (found NaN or other values)")

    xs = np.concatenate([sup_x, unsup_x])
    es = np.concatenate([sup_e, unsup_e])
    ys = np.concatenate([sup_y, np.zeros(len(unsup_x), np.float32)])
    mean, std = fit_scaler(es)
    prior, prior_all = prior_of_run(config.prior, sup_x, sup_y, xs)

    # The same sequence of seeded draws as train.fit, on a private copy of the
    # global generator: the initial weights, then the z noise.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(run.seed))
        model = SSVAE(model_config, mean, std)
        noise_generator = torch.Generator().set_state(torch.get_rng_state())
    if config.log_scale_init is not None:
        with torch.no_grad():
            model.encoder_z.log_scale.bias.fill_(config.log_scale_init)
    n = len(xs)
    batch_size = n if config.batch_size is None else min(config.batch_size, n)
    steps_per_epoch = math.ceil(n / batch_size)
    return _Prepared(
        index=index, run=run, config=config, xs=xs, es=es, ys=ys, n_sup=len(sup_x), prior=prior,
        prior_all=prior_all, mean=mean, std=std, val_x=val_x, val_e=val_e, val_y=val_y,
        initial={k: v.detach().clone() for k, v in model.state_dict().items()},
        order_generator=torch.Generator().manual_seed(int(run.seed)),
        noise_generator=noise_generator, batch_size=batch_size, steps_per_epoch=steps_per_epoch,
        total_steps=config.epochs * steps_per_epoch,
        warmup_steps=config.kl_warmup_epochs * steps_per_epoch,
    )


# --------------------------------------------------------------------------
# Stacked parameters: two flat buffers of shape (K, P)


@dataclass(frozen=True)
class _Segment:
    """One linear layer in the flat buffers: weight (n_in, n_out), then bias (n_out)."""

    name: str       # state-dict prefix; "encoder_z.head" holds loc and log_scale side by side
    n_in: int
    n_out: int
    group: int      # 0: encoder_y and encoder_z, 1: decoder (its own learning rate)
    offset: int

    @property
    def size(self) -> int:
        return self.n_in * self.n_out + self.n_out


def _aligned(n: int, unit: int) -> int:
    return -(-n // unit) * unit


class _Layout:
    """Where each layer's weights sit in the two flat buffers of one run."""

    def __init__(self, config: SSVAEConfig):
        self.z_dim = config.z_dim
        hidden = config.hidden
        layers = {
            "encoder_y": [f"encoder_y.layers.{2 * i}" for i in range(len(hidden) + 1)],
            "encoder_z": [f"encoder_z.body.layers.{2 * i}" for i in range(len(hidden))] + ["encoder_z.head"],
            "decoder": [f"decoder.layers.{2 * i}" for i in range(len(hidden) + 1)],
        }
        sizes = {
            "encoder_y": [config.n_features, *hidden, 1],
            "encoder_z": [config.n_elements + 1, *hidden, 2 * config.z_dim],
            "decoder": [config.z_dim + 1, *hidden, config.n_elements],
        }
        self.networks = {name: [] for name in layers}
        offsets = [0, 0]
        for network, names in layers.items():
            group = int(network == "decoder")
            for name, n_in, n_out in zip(names, sizes[network][:-1], sizes[network][1:]):
                segment = _Segment(name, n_in, n_out, group, offsets[group])
                offsets[group] += segment.size
                self.networks[network].append(segment)
        self.widths = tuple(_aligned(n, PARAM_ALIGN) for n in offsets)

    @property
    def segments(self) -> list[_Segment]:
        return [segment for network in self.networks.values() for segment in network]

    def _linear_state(self, segment: _Segment, state: dict) -> tuple[torch.Tensor, torch.Tensor]:
        if segment.name != "encoder_z.head":
            return state[f"{segment.name}.weight"], state[f"{segment.name}.bias"]
        weight = torch.cat([state["encoder_z.loc.weight"], state["encoder_z.log_scale.weight"]])
        bias = torch.cat([state["encoder_z.loc.bias"], state["encoder_z.log_scale.bias"]])
        return weight, bias

    def flatten(self, state: dict) -> list[torch.Tensor]:
        """A run's state dict -> its two rows of the flat buffers."""
        rows = [torch.zeros(width) for width in self.widths]
        for segment in self.segments:
            weight, bias = self._linear_state(segment, state)
            row, start = rows[segment.group], segment.offset
            # Stored as (n_in, n_out), the layout torch.bmm(h, weight) reads.
            row[start:start + segment.n_in * segment.n_out] = weight.detach().t().reshape(-1)
            row[start + segment.n_in * segment.n_out:start + segment.size] = bias.detach()
        return rows

    def unflatten(self, rows: Sequence[torch.Tensor]) -> dict:
        """Inverse of :meth:`flatten`: SSVAE state-dict entries (without the scaler)."""
        state = {}
        for segment in self.segments:
            row, start = rows[segment.group], segment.offset
            middle = start + segment.n_in * segment.n_out
            weight = row[start:middle].reshape(segment.n_in, segment.n_out).t().clone()
            bias = row[middle:start + segment.size].clone()
            if segment.name == "encoder_z.head":
                z = self.z_dim
                state.update({"encoder_z.loc.weight": weight[:z], "encoder_z.loc.bias": bias[:z],
                              "encoder_z.log_scale.weight": weight[z:], "encoder_z.log_scale.bias": bias[z:]})
            else:
                state.update({f"{segment.name}.weight": weight, f"{segment.name}.bias": bias})
        return state


class _Stack:
    """Parameters, gradients and Adam moments of K runs, with per-layer views for the forward pass."""

    def __init__(self, layout: _Layout, rows: list[list[torch.Tensor]], device):
        self.layout = layout
        self.params = [torch.stack([r[g] for r in rows]).to(device) for g in range(2)]
        self.grads = [torch.zeros_like(p) for p in self.params]
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self._views: dict[int, dict] = {}

    def __len__(self) -> int:
        return self.params[0].shape[0]

    def keep(self, rows: list[int]) -> None:
        """Keep only the runs at these positions (in this order)."""
        index = torch.tensor(rows, dtype=torch.long, device=self.params[0].device)
        for buffers in (self.params, self.grads, self.exp_avg, self.exp_avg_sq):
            buffers[:] = [b.index_select(0, index) for b in buffers]
        self._views.clear()

    def net(self, k: int) -> dict[str, list[tuple[torch.Tensor, torch.Tensor]]]:
        """(weight, bias) leaf views of the first ``k`` runs, per network; gradients land in ``grads``."""
        if k not in self._views:
            self._views[k] = {
                network: [self._linear(segment, k) for segment in segments]
                for network, segments in self.layout.networks.items()
            }
        return self._views[k]

    def _linear(self, segment: _Segment, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        middle = segment.offset + segment.n_in * segment.n_out
        out = []
        for begin, end, shape in ((segment.offset, middle, (k, segment.n_in, segment.n_out)),
                                  (middle, segment.offset + segment.size, (k, 1, segment.n_out))):
            leaf = self.params[segment.group][:k, begin:end].view(shape).requires_grad_()
            leaf.grad = self.grads[segment.group][:k, begin:end].view(shape)
            out.append(leaf)
        return out[0], out[1]

    def run_rows(self, position: int) -> list[torch.Tensor]:
        return [p[position].clone() for p in self.params]


# --------------------------------------------------------------------------
# The batched forward pass and loss


def _product(h: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``torch.bmm(h, weight)``, except where bmm would not be the same for every K.

    With a batch of one, bmm hands a product whose result has one column to
    a matrix-vector kernel that adds in another order than the batched one;
    such products (a layer with one output, or with one input, whose
    backward has one column) are a broadcast product and a row sum instead,
    which do not depend on the batch.
    """
    n_in, n_out = weight.shape[-2:]
    if n_out == 1:
        return (h * weight.transpose(1, 2)).sum(-1, keepdim=True)
    if n_in == 1:
        return h * weight
    return torch.bmm(h, weight)


def _linear(h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    if min(weight.shape[-2:]) == 1:
        return _product(h, weight) + bias
    return torch.baddbmm(bias, h, weight)


def _mlp(h: torch.Tensor, layers, last_activation: bool = False) -> torch.Tensor:
    for i, (weight, bias) in enumerate(layers):
        h = _linear(h, weight, bias)
        if last_activation or i < len(layers) - 1:
            h = F.softplus(h)
    return h


def batched_forward(net: dict, e_std: torch.Tensor, x_in_y: torch.Tensor, noise: torch.Tensor):
    """The three networks of K runs: q(y|e) on alloys, q(z|x,y) and p(x|y,z) on (alloy, label) rows.

    Parameters
    ----------
    net : dict
        ``encoder_y``, ``encoder_z``, ``decoder``: lists of (weight (K, n_in,
        n_out), bias (K, 1, n_out)); ``encoder_z``'s last entry holds the loc
        and log-scale heads side by side.
    e_std : Tensor (K, alloys, 8)
        Standardised features.
    x_in_y : Tensor (K, rows, 31)
        ``[encoder_input_scale * x, y]`` of each (alloy, label) row, the
        input of ``encoder_z`` in :meth:`hea_dvae.model.SSVAE.branch_terms`.
    noise : Tensor (K, rows, z_dim)
        Standard normal draws for z (zeros: z is the mean).

    Returns
    -------
    logits_y : Tensor (K, alloys)
    loc, log_scale : Tensor (K, rows, z_dim)
    logits_x : Tensor (K, rows, 30)
    """
    z_dim = noise.shape[-1]
    logits_y = _mlp(e_std, net["encoder_y"]).squeeze(-1)
    *body, (head_weight, head_bias) = net["encoder_z"]
    h = _mlp(x_in_y, body, last_activation=True)
    loc, log_scale = _linear(h, head_weight, head_bias).split(z_dim, dim=-1)
    z = loc + torch.exp(log_scale) * noise
    logits_x = _mlp(torch.cat([z, x_in_y[..., -1:]], dim=-1), net["decoder"])
    return logits_y, loc, log_scale, logits_x


def batched_loss_parts(outputs, alloys: dict, rows: dict, alpha: torch.Tensor) -> dict:
    """Per-alloy parts of :meth:`hea_dvae.model.SSVAE.loss` for K runs, each (K, alloys).

    Row ``i`` of the (alloy, label) rows is alloy ``i`` with its label (y = 0
    if it is unlabelled); an unlabelled alloy's row with y = 1 is
    ``alloys["second_row"]``. So a labelled alloy takes its label's branch,
    an unlabelled one both branches weighted by q(y|e), as in
    :meth:`~hea_dvae.model.SSVAE.loss`, whose helpers compute every term.

    Parameters
    ----------
    outputs : tuple
        :func:`batched_forward`'s.
    alloys : dict of str -> Tensor (K, alloys)
        ``y`` (0 where unlabelled), ``labelled`` (bool), ``prior`` (p(y=1)),
        ``label_prior`` (-log p(y) of a labelled alloy) and ``second_row``.
    rows : dict of str -> Tensor (K, rows[, 30])
        ``counts`` (``total_count * x``) and ``log_coefficient`` of each row.
    alpha : Tensor (K, 1)
        Weight of each run's classification loss.
    """
    logits_y, loc, log_scale, logits_x = outputs
    n = logits_y.shape[1]
    reconstruction = -multinomial_log_prob(rows["counts"], logits_x, rows["log_coefficient"])
    kl_z = gaussian_kl(loc, log_scale)
    labelled, y, second = alloys["labelled"], alloys["y"], alloys["second_row"]
    q1 = torch.sigmoid(logits_y)
    one, zero = torch.ones_like(q1), torch.zeros_like(q1)
    # (1, 0) on a labelled alloy's rows, (1 - q1, q1) on an unlabelled one's.
    weight0 = torch.where(labelled, one, 1 - q1)
    weight1 = torch.where(labelled, zero, q1)
    classification = alpha * F.binary_cross_entropy_with_logits(logits_y, y, reduction="none")
    return {
        "reconstruction": weight0 * reconstruction[:, :n] + weight1 * reconstruction.gather(1, second),
        "kl_z": weight0 * kl_z[:, :n] + weight1 * kl_z.gather(1, second),
        "y_prior": torch.where(labelled, alloys["label_prior"], bernoulli_kl(logits_y, alloys["prior"])),
        "classification": torch.where(labelled, classification, zero),
    }


PARTS = ("reconstruction", "kl_z", "y_prior", "classification")


# --------------------------------------------------------------------------
# Per-run alloys, stacked and padded


def _alloy_fields(p: _Prepared, x: np.ndarray, e: np.ndarray, y: np.ndarray, labelled: np.ndarray,
                  prior: np.ndarray) -> dict[str, torch.Tensor]:
    """The per-alloy inputs of the loss that do not change while training."""
    model = p.config.model
    x_t = torch.from_numpy(np.array(x, dtype=np.float32))
    counts = model.total_count * x_t
    y_t, prior_t = torch.from_numpy(np.array(y, np.float32)), torch.from_numpy(np.array(prior, np.float32))
    mean, std = torch.from_numpy(p.mean), torch.from_numpy(p.std)
    return {
        # The same float32 operations as SSVAE._encode and SSVAE.classify_logits.
        "x_in": x_t * model.encoder_input_scale,
        "e_std": (torch.from_numpy(np.array(e, np.float32)) - mean) / std,
        "counts": counts,
        "log_coefficient": multinomial_log_coefficient(counts),
        "y": y_t,
        "labelled": torch.from_numpy(np.array(labelled, bool)),
        "prior": prior_t,
        "label_prior": bernoulli_nll(y_t, prior_t),
    }


def _stack_padded(fields: list[dict[str, torch.Tensor]], device, align: int = 1) -> dict[str, torch.Tensor]:
    """Stack runs' alloy fields into (K, n, ...), repeating alloy 0 as padding (finite, weighted 0).

    ``n`` is the largest number of alloys, rounded up to a multiple of ``align``.
    """
    n_max = _aligned(max(len(f["y"]) for f in fields), align)
    out = {}
    for name in fields[0]:
        parts = []
        for f in fields:
            value = f[name]
            pad = value[:1].expand(n_max - len(value), *value.shape[1:])
            parts.append(torch.cat([value, pad]))
        out[name] = torch.stack(parts).to(device)
    return out


def _pool_fields(p: _Prepared) -> dict[str, torch.Tensor]:
    labelled = np.arange(p.n) < p.n_sup
    return _alloy_fields(p, p.xs, p.es, p.ys, labelled, p.prior_all)


def _validation_fields(p: _Prepared) -> dict[str, torch.Tensor]:
    # train.fit's validation loss uses the model's prior_y, not the run's prior.
    n = len(p.val_y)
    return _alloy_fields(p, p.val_x, p.val_e, p.val_y, np.ones(n, bool), np.full(n, p.config.model.prior_y))


@dataclass
class _Plan:
    """One run's epoch: which alloys and (alloy, label) rows each step holds.

    Arrays have one row per step; -1 marks padding.
    """

    alloys: np.ndarray       # (steps, batch_size): pool index of each alloy
    rows: np.ndarray         # (steps, batch_size + most unlabelled): pool index of each row
    row_label: np.ndarray    # (steps, ...): y of each row
    second_row: np.ndarray   # (steps, batch_size): row of an unlabelled alloy with y = 1
    noise: np.ndarray        # (steps, ..., z_dim)


def _epoch_plan(p: _Prepared, z_dim: int) -> _Plan:
    """A run's mini-batches of one epoch, with the random draws of :func:`hea_dvae.train.fit`.

    One ``randperm`` per epoch orders the pool; per step, one ``randn`` of
    (labelled + 2 x unlabelled alloys, z_dim) gives z noise read as
    [labelled alloys, unlabelled with y = 0, unlabelled with y = 1], as
    :meth:`~hea_dvae.model.SSVAE.loss` reads it. A step's rows are its alloys
    in order (each with its label, or y = 0), then its unlabelled alloys
    again with y = 1.
    """
    n, size, steps = p.n, p.batch_size, p.steps_per_epoch
    order = (torch.randperm(n, generator=p.order_generator) if size < n else torch.arange(n)).numpy()
    step, slot = np.divmod(np.arange(n), size)
    labelled = order < p.n_sup
    unlabelled = ~labelled
    n_lab = np.bincount(step[labelled], minlength=steps)
    n_unl = np.bincount(step[unlabelled], minlength=steps)
    n_alloys = n_lab + n_unl
    # Rank of each alloy among its step's labelled (unlabelled) alloys.
    rank_lab = np.cumsum(labelled) - 1 - (np.cumsum(n_lab) - n_lab)[step]
    rank_unl = np.cumsum(unlabelled) - 1 - (np.cumsum(n_unl) - n_unl)[step]
    second = n_alloys[step] + rank_unl   # row of an unlabelled alloy with y = 1

    width = size + int(n_unl.max())
    alloys = np.full((steps, size), -1)
    rows = np.full((steps, width), -1)
    row_label = np.zeros((steps, width), np.float32)
    second_row = np.zeros((steps, size), np.int64)
    alloys[step, slot] = order
    rows[step, slot] = order
    row_label[step, slot] = np.where(labelled, p.ys[order], 0)
    second_row[step, slot] = np.where(labelled, slot, second)
    rows[step[unlabelled], second[unlabelled]] = order[unlabelled]
    row_label[step[unlabelled], second[unlabelled]] = 1

    noise = np.zeros((steps, width, z_dim), np.float32)
    if p.config.sample:
        draws = n_lab + 2 * n_unl
        eps = torch.cat([torch.randn(int(m), z_dim, generator=p.noise_generator) for m in draws]).numpy()
        first = (np.cumsum(draws) - draws)[step]
        noise[step, slot] = eps[np.where(labelled, first + rank_lab, first + n_lab[step] + rank_unl)]
        u = unlabelled
        noise[step[u], second[u]] = eps[first[u] + n_lab[step[u]] + n_unl[step[u]] + rank_unl[u]]
    return _Plan(alloys, rows, row_label, second_row, noise)


@dataclass
class _Epoch:
    """Mini-batches of one epoch for the active runs; step s is ``[s]`` of each tensor."""

    alloys: dict[str, torch.Tensor]   # (steps, K, alloys, ...)
    rows: dict[str, torch.Tensor]     # (steps, K, rows, ...)
    real: torch.Tensor                # (steps, K, alloys): 1 for an alloy, 0 for padding
    count: torch.Tensor               # (steps, K): alloys of each run in the step (1 if none)
    shapes: list[tuple[int, int, int]]  # per step: runs taking it (a prefix), alloys, rows


def _build_epoch(states: list, pool: dict[str, torch.Tensor], z_dim: int, device) -> _Epoch:
    plans = [_epoch_plan(state.prepared, z_dim) for state in states]
    k = len(plans)
    steps = max(len(plan.alloys) for plan in plans)
    n_alloys = _aligned(max(plan.alloys.shape[1] for plan in plans), ALLOY_ALIGN)
    # Row i is alloy i: there are at least as many rows as (padded) alloys.
    n_rows = max(_aligned(max(plan.rows.shape[1] for plan in plans), ROW_ALIGN), n_alloys)
    alloys = np.full((steps, k, n_alloys), -1)
    rows = np.full((steps, k, n_rows), -1)
    row_label = np.zeros((steps, k, n_rows), np.float32)
    second_row = np.zeros((steps, k, n_alloys), np.int64)
    noise = np.zeros((steps, k, n_rows, z_dim), np.float32)
    for position, plan in enumerate(plans):
        s, a, r = len(plan.alloys), plan.alloys.shape[1], plan.rows.shape[1]
        alloys[:s, position, :a] = plan.alloys
        rows[:s, position, :r] = plan.rows
        row_label[:s, position, :r] = plan.row_label
        second_row[:s, position, :a] = plan.second_row
        noise[:s, position, :r] = plan.noise
    real = alloys >= 0
    count = real.sum(-1)
    used_rows = (rows >= 0).sum(-1).max(-1)
    shapes = []
    for s in range(steps):
        step_alloys = _aligned(int(count[s].max()), ALLOY_ALIGN)
        shapes.append((int((count[s] > 0).sum()), step_alloys,
                       max(_aligned(int(used_rows[s]), ROW_ALIGN), step_alloys)))

    runs = torch.arange(k, device=device).view(1, k, 1)
    alloy_index = torch.from_numpy(np.maximum(alloys, 0)).to(device)
    row_index = torch.from_numpy(np.maximum(rows, 0)).to(device)
    alloy_fields = {name: pool[name][runs, alloy_index] for name in ("e_std", "y", "labelled", "prior", "label_prior")}
    alloy_fields["second_row"] = torch.from_numpy(second_row).to(device)
    labels = torch.from_numpy(row_label).to(device).unsqueeze(-1)
    row_fields = {
        "x_in_y": torch.cat([pool["x_in"][runs, row_index], labels], dim=-1),
        "counts": pool["counts"][runs, row_index],
        "log_coefficient": pool["log_coefficient"][runs, row_index],
        "noise": torch.from_numpy(noise).to(device),
    }
    return _Epoch(alloy_fields, row_fields, torch.from_numpy(real.astype(np.float32)).to(device),
                  torch.from_numpy(np.maximum(count, 1).astype(np.float32)).to(device), shapes)


def _validation_batch(fields: dict[str, torch.Tensor], z_dim: int) -> tuple[dict, dict]:
    """Validation alloys as one step: every alloy labelled, one row each."""
    k, n = fields["y"].shape
    alloys = {name: fields[name] for name in ("e_std", "y", "labelled", "prior", "label_prior")}
    alloys["second_row"] = torch.arange(n, device=fields["y"].device).expand(k, n)
    rows = {
        "x_in_y": torch.cat([fields["x_in"], fields["y"].unsqueeze(-1)], dim=-1),
        "counts": fields["counts"],
        "log_coefficient": fields["log_coefficient"],
        "noise": torch.zeros(k, n, z_dim, device=fields["y"].device),
    }
    return alloys, rows


# --------------------------------------------------------------------------
# Training


@dataclass
class _RunState:
    """What changes while a run trains: its history, snapshots and schedule."""

    prepared: _Prepared
    schedule: tuple            # runs with equal schedules share learning rates and Adam steps
    records: list = field(default_factory=list)
    best: dict = field(default_factory=lambda: {
        part: {"key": (-math.inf, -math.inf), "epoch": 0, "rows": None} for part in ("classifier", "vae")})

    @property
    def config(self) -> TrainConfig:
        return self.prepared.config

    def due(self, epoch: int) -> bool:
        return epoch % self.config.eval_every == 0 or epoch == self.config.epochs


def _schedule(p: _Prepared) -> tuple:
    c = p.config
    return (c.lr, c.lr_schedule, c.decoder_lr_scale, c.weight_decay, p.steps_per_epoch, p.total_steps,
            p.warmup_steps)


#: Parameters of the classifier and of the VAE in a state dict (see train._part_state).
_PART_PREFIXES = {"classifier": ("encoder_y.",), "vae": ("encoder_z.", "decoder.")}


def _validation_scores(p: _Prepared, total: torch.Tensor, classification: torch.Tensor, probability: np.ndarray,
                       reconstructed: np.ndarray) -> dict:
    """One run's validation scores (the keys of train.fit's history) from its rows of the batched pass."""
    n = len(p.val_y)
    alpha = p.config.model.alpha
    probability = probability[:n]
    errors = reconstruction_errors(p.val_x, reconstructed[:n])
    return {
        "val_loss": total[:n].mean().item(),
        "val_bce": classification[:n].mean().item() / alpha if alpha else float("nan"),
        "val_auc": roc_auc(p.val_y, probability),
        "val_accuracy": float(((probability > 0.5) == (p.val_y == 1)).mean()),
        "val_mae_all": errors["mae_all"],
        "val_element_set_recovered": errors["element_set_recovered"],
    }


def _run_result(layout: _Layout, state: _RunState, last_rows: torch.Tensor, epoch: int,
                device) -> tuple[SSVAE, pd.DataFrame]:
    """A finished run's model (each part's best snapshot, else its last weights) and history."""
    p = state.prepared
    weights = dict(p.initial)
    weights.update(layout.unflatten(last_rows))
    for part, prefixes in _PART_PREFIXES.items():
        rows = state.best[part]["rows"]
        if rows is not None:
            weights.update({name: value for name, value in layout.unflatten(rows).items()
                            if name.startswith(prefixes)})
    model = SSVAE(p.config.model)
    model.load_state_dict(weights)
    model.to(device).eval()
    history = pd.DataFrame.from_records(state.records)
    history.attrs.update(
        best_epoch=state.best["classifier"]["epoch"], best_vae_epoch=state.best["vae"]["epoch"],
        epochs_run=int(epoch), seed=p.run.seed, train_config=p.config.to_dict(), prior=p.prior.to_dict(),
    )
    return model, history


class _Trainer:
    """The K runs of one batch, trained epoch by epoch until each has stopped."""

    def __init__(self, prepared: list[_Prepared], device, progress: bool):
        # Runs with more steps per epoch first: those taking step s are then a
        # prefix of the stack; equal schedules side by side share Adam calls.
        prepared = sorted(prepared, key=lambda p: (-p.steps_per_epoch, _schedule(p), p.index))
        self.device = device
        self.progress = progress
        model = prepared[0].config.model
        self.z_dim = model.z_dim
        self.layout = _Layout(model)
        self.states = [_RunState(p, _schedule(p)) for p in prepared]
        self.stack = _Stack(self.layout, [self.layout.flatten(p.initial) for p in prepared], device)
        self.pool = _stack_padded([_pool_fields(p) for p in prepared], device)
        self.validation = _stack_padded([_validation_fields(p) for p in prepared], device, ALLOY_ALIGN)
        self.results: dict[int, tuple[SSVAE, pd.DataFrame]] = {}
        self._segments: dict[int, list[tuple[int, int]]] = {}

    # -- per-run vectors ---------------------------------------------------------
    def _alpha(self, k: int) -> torch.Tensor:
        return torch.tensor([[s.config.model.alpha] for s in self.states[:k]], device=self.device)

    def segments(self, k: int) -> list[tuple[int, int]]:
        """Blocks [begin, end) of the first k runs that share a schedule."""
        if k not in self._segments:
            blocks, begin = [], 0
            for end in range(1, k + 1):
                if end == k or self.states[end].schedule != self.states[begin].schedule:
                    blocks.append((begin, end))
                    begin = end
            self._segments[k] = blocks
        return self._segments[k]

    # -- one epoch ---------------------------------------------------------------
    def train_epoch(self, epoch: int) -> torch.Tensor:
        """All steps of ``epoch``; returns each run's summed loss and parts, (K, 5) float64."""
        data = _build_epoch(self.states, self.pool, self.z_dim, self.device)
        totals = torch.zeros(len(self.states), 1 + len(PARTS), dtype=torch.float64, device=self.device)
        alpha = self._alpha(len(self.states))
        for step, (k, n_alloys, n_rows) in enumerate(data.shapes):
            alloys = {name: value[step, :k, :n_alloys] for name, value in data.alloys.items()}
            rows = {name: value[step, :k, :n_rows] for name, value in data.rows.items()}
            for grads in self.stack.grads:
                grads[:k].zero_()
            outputs = batched_forward(self.stack.net(k), alloys["e_std"], rows["x_in_y"], rows["noise"])
            parts = batched_loss_parts(outputs, alloys, rows, alpha[:k])
            real = data.real[step, :k, :n_alloys].unsqueeze(-1)
            sums = (torch.stack([parts[name] for name in PARTS], dim=-1) * real).sum(1)
            loss = sums.sum(-1)
            warm = self._kl_warmup(epoch, step, k)
            if warm is not None:
                # Anneal the KL of z in, as train.fit does (and report the annealed loss, as it does).
                loss = loss - warm * sums[:, 1]
            (loss / data.count[step, :k]).sum().backward()
            self._adam(epoch, step, k)
            totals[:k] += torch.cat([loss.detach().unsqueeze(1), sums.detach()], dim=1)
        return totals

    def _global_step(self, epoch: int, step: int, begin: int) -> int:
        return (epoch - 1) * self.states[begin].prepared.steps_per_epoch + step

    def _kl_warmup(self, epoch: int, step: int, k: int) -> torch.Tensor | None:
        weights = None
        for begin, end in self.segments(k):
            warmup = self.states[begin].prepared.warmup_steps
            current = self._global_step(epoch, step, begin)
            if warmup and current < warmup:
                if weights is None:
                    weights = torch.zeros(k, device=self.device)
                weights[begin:end] = 1 - current / warmup
        return weights

    def _adam(self, epoch: int, step: int, k: int) -> None:
        stack = self.stack
        beta1, beta2 = ADAM_BETAS
        for begin, end in self.segments(k):
            config = self.states[begin].config
            current = self._global_step(epoch, step, begin)
            rate = learning_rate(config, current, self.states[begin].prepared.total_steps)
            steps = torch.tensor(float(current + 1))
            for group, scale in ((0, 1.0), (1, config.decoder_lr_scale)):
                torch._fused_adam_(
                    [stack.params[group][begin:end]], [stack.grads[group][begin:end]],
                    [stack.exp_avg[group][begin:end]], [stack.exp_avg_sq[group][begin:end]], [], [steps],
                    lr=rate * scale, beta1=beta1, beta2=beta2, weight_decay=config.weight_decay,
                    eps=ADAM_EPS, amsgrad=False, maximize=False,
                )

    # -- evaluation, snapshots, stopping ---------------------------------------------
    @torch.no_grad()
    def validate(self) -> list[dict]:
        """Validation scores of every active run (the keys of train.fit's history)."""
        k = len(self.states)
        alloys, rows = _validation_batch(self.validation, self.z_dim)
        outputs = batched_forward(self.stack.net(k), alloys["e_std"], rows["x_in_y"], rows["noise"])
        parts = batched_loss_parts(outputs, alloys, rows, self._alpha(k))
        total = parts["reconstruction"] + parts["kl_z"] + parts["y_prior"] + parts["classification"]
        # Each validation alloy's row carries its label: decoded at z = mean, as train.fit scores it.
        reconstructed = torch.softmax(outputs[3], dim=-1).cpu().numpy()
        probabilities = torch.sigmoid(outputs[0]).cpu().numpy()
        return [_validation_scores(state.prepared, total[position], parts["classification"][position],
                                   probabilities[position], reconstructed[position])
                for position, state in enumerate(self.states)]

    def evaluate(self, epoch: int, totals: torch.Tensor, seconds: float) -> list[int]:
        """Record the runs due at ``epoch``, keep their snapshots; return the positions that stop."""
        due = [position for position, state in enumerate(self.states) if state.due(epoch)]
        if not due:
            return []
        scores = self.validate()
        totals = totals.cpu().numpy()
        stopping = []
        for position in due:
            state, p = self.states[position], self.states[position].prepared
            last_step = epoch * p.steps_per_epoch - 1
            record = {"epoch": epoch, **dict(zip(("loss", *PARTS), (totals[position] / p.n).tolist()))}
            record.update(scores[position])
            record.update(lr=learning_rate(p.config, last_step, p.total_steps), seconds=seconds)
            state.records.append(record)
            for part, key in (("classifier", classifier_key(p.config, record)), ("vae", vae_key(p.config, record))):
                if key > state.best[part]["key"]:
                    state.best[part].update(key=key, epoch=epoch, rows=self.stack.run_rows(position))
            last_improvement = max(state.best["classifier"]["epoch"], state.best["vae"]["epoch"])
            patience_over = epoch >= p.config.min_epochs and epoch - last_improvement >= p.config.patience
            if patience_over or epoch == p.config.epochs:
                stopping.append(position)
        return stopping

    def finish(self, positions: list[int], epoch: int) -> None:
        """Build the models of the runs at ``positions`` and drop them from the stack."""
        for position in positions:
            state = self.states[position]
            self.results[state.prepared.index] = _run_result(self.layout, state, self.stack.run_rows(position),
                                                             epoch, self.device)
        keep = [i for i in range(len(self.states)) if i not in set(positions)]
        self.states = [self.states[i] for i in keep]
        if keep:
            self.stack.keep(keep)
            index = torch.tensor(keep, device=self.device)
            self.pool = {name: value.index_select(0, index) for name, value in self.pool.items()}
            self.validation = {name: value.index_select(0, index) for name, value in self.validation.items()}
        self._segments.clear()

    def train(self) -> dict[int, tuple[SSVAE, pd.DataFrame]]:
        start = time.perf_counter()
        last_epoch = max(s.config.epochs for s in self.states)
        bar = tqdm(range(1, last_epoch + 1), disable=not self.progress, desc="training", unit="epoch")
        for epoch in bar:
            totals = self.train_epoch(epoch)
            stopping = self.evaluate(epoch, totals, time.perf_counter() - start)
            if stopping:
                self.finish(stopping, epoch)
            if not self.states:
                break
            bar.set_postfix(runs=len(self.states))
        bar.close()
        return self.results


def fit_many(runs: Sequence[Run], progress: bool | None = None, threads: int | None = None,
             processes: int = 1) -> list[tuple[SSVAE, pd.DataFrame]]:
    """Train several SSVAE runs as one batched computation.

    Each run is trained as :func:`hea_dvae.train.fit` would train it (same
    data handling, prior, loss, schedule, selection and stopping, same seeded
    draws); see the module docstring for how the runs share the work. The
    results are not bitwise equal to :func:`~hea_dvae.train.fit`'s (other
    kernels add in another order) but agree within seed noise. A run's
    result never depends on which other runs share its batch, so it is also
    the same whatever ``processes`` and ``threads`` (1 or 2) are. Calls
    from several threads of one process run one after another (they would
    otherwise mix their draws from torch's global generator).

    Parameters
    ----------
    runs : sequence of Run
        Runs of one :func:`compatible_groups` group (same widths, z_dim,
        batch_size and device).
    progress : bool, optional
        A progress bar over epochs; by default unless ``$HEA_DVAE_PROGRESS=0``.
    threads : int, optional
        Torch intra-op threads while training (restored afterwards); by
        default the runs' ``config.num_threads`` (1 in the default recipe),
        or torch's setting if that is None. Two threads pay off only on an
        otherwise idle machine (see the module docstring); prefer
        ``processes``.
    processes : int
        Split the runs into this many batches of about equal cost, each
        trained in its own worker process (:mod:`hea_dvae.workers`: a few
        seconds to start; safe from a plain script or a notebook). One
        process per core is faster than two threads.

    Returns
    -------
    list of (SSVAE, DataFrame)
        For each run, in the order given: the selected model in eval mode,
        and its history with :func:`hea_dvae.train.fit`'s columns and
        ``attrs``. ``seconds`` is the wall time since its batch started.

    Raises
    ------
    ValueError
        No runs, runs of different shapes (split them with
        :func:`compatible_groups`), a device other than the CPU, or a run
        whose data is unusable (no labelled or validation alloys, labels
        missing or not 0/1).
    """
    runs = list(runs)
    if not runs:
        raise ValueError("runs is empty: give at least one Run")
    groups = compatible_groups(runs)
    if len(groups) > 1:
        raise ValueError(
            f"these runs cannot share one batch: {len(groups)} groups of different network widths, "
            f"z_dim, batch_size or device (run indices {groups}); train each group of "
            "hea_dvae.batched.compatible_groups(runs) with its own fit_many call")
    for name, value in (("threads", threads), ("processes", processes)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"{name} must be a positive integer{' or None' if name == 'threads' else ''}, "
                             f"got {value!r}")
    if torch.device(runs[0].config.device).type != "cpu":
        raise ValueError(f"fit_many trains on the CPU only, not on {runs[0].config.device!r}")
    # Calls from several threads of one process (a Dask worker with several
    # threads) take turns: the initial weights are drawn from torch's global
    # generator, and the thread count and warning filters are process-wide.
    with _ONE_CALL_AT_A_TIME:
        prepared = [_prepare(run, index) for index, run in enumerate(runs)]
        if processes > 1 and len(runs) > 1:
            return _fit_in_processes(runs, prepared, processes, threads)
        device = torch.device(runs[0].config.device)
        threads = threads or runs[0].config.num_threads
        previous = torch.get_num_threads()
        if threads:
            torch.set_num_threads(threads)
        try:
            with warnings.catch_warnings():
                # Gradients are accumulated into views of one flat buffer on purpose.
                warnings.filterwarnings("ignore", message="grad and param do not obey the gradient layout contract")
                results = _Trainer(prepared, device, show_progress(progress)).train()
        finally:
            torch.set_num_threads(previous)
    return [results[index] for index in range(len(runs))]


def _fit_in_processes(runs: list[Run], prepared: list[_Prepared], processes: int, threads: int | None):
    """:func:`fit_many` with the runs split into ``processes`` batches of about equal cost.

    The batches run in fresh worker processes (:mod:`hea_dvae.workers`),
    which never re-run the calling script and stop with it.
    """
    batches = _balanced([p.n * p.config.epochs for p in prepared], processes)
    jobs = [([runs[i] for i in batch], threads) for batch in batches]
    results: list = [None] * len(runs)
    for batch, trained in zip(batches, run_in_workers(fit_batch, jobs, len(jobs))):
        for index, result in zip(batch, trained):
            results[index] = result
    return results


def _balanced(costs: Sequence[int], parts: int) -> list[list[int]]:
    """Indices of ``costs`` dealt into at most ``parts`` batches of about equal total cost."""
    # Greedy: the costliest first, each to the least loaded batch.
    batches: list[list[int]] = [[] for _ in range(min(parts, len(costs)))]
    loads = [0] * len(batches)
    for index in sorted(range(len(costs)), key=lambda i: -costs[i]):
        lightest = loads.index(min(loads))
        batches[lightest].append(index)
        loads[lightest] += costs[index]
    return batches


def split_runs(runs: Sequence[Run], parts: int) -> list[list[int]]:
    """Split runs into at most ``parts`` batches of about equal cost, as ``fit_many(..., processes=parts)`` does.

    A run costs its pool of alloys (labelled and unlabelled) times its
    epochs. Used to cut a batch into tasks for a cluster; each batch is
    trained by :func:`fit_batch`.

    Returns
    -------
    list of list of int
        Indices into ``runs``, each batch non-empty.
    """
    costs = []
    for run in runs:
        sup_x, _, _, unsup_x, _ = pool_arrays(run.labelled, run.unlabelled)
        costs.append((len(sup_x) + len(unsup_x)) * run.config.epochs)
    return _balanced(costs, parts)


def fit_batch(job) -> list:
    """``fit_many(runs, progress=False, threads=threads)`` of ``job = (runs, threads)``.

    The task that worker processes (:mod:`hea_dvae.workers`) and Dask
    workers run: one picklable argument, results that pickle (the models
    and their histories, ``attrs`` included).
    """
    runs, threads = job
    return fit_many(runs, progress=False, threads=threads)
