r"""Screening every alloy of a constrained space with a trained predictor.

The space is every alloy that :class:`~hea_dvae.constraints.Constraints`
admits: element sets (all ``k``-subsets of the pool that hold the required
elements) times compositions. Without a ``step`` the composition is
equimolar (the paper's workflow: all equimolar 4- and 5-element alloys of
the 30 elements, :math:`\binom{30}{4} + \binom{30}{5} = 169{,}911`); with a
step it is every grid point within the bounds (5-element alloys, each element
5-80 at.% in 5 at.% steps: :math:`\binom{30}{5}\binom{19}{4} \approx 5.5\times
10^8`). :func:`count_space` gives the size in closed form.

How the screen stays fast and bounded
-------------------------------------
* Alloys are numbered in one fixed order (number of elements, then element
  set in lexicographic order, then grid point in lexicographic order) and cut
  into batches of ``batch_size`` consecutive alloys. A batch is generated
  from the element sets and the grid, featurised, scored and reduced to its
  own top-N and histograms; nothing larger than a batch is ever held.
* Features exploit that an alloy has only ``k`` non-zero fractions: each
  element set's properties are gathered once and combined with the grid by
  broadcasting (:func:`sparse_features`), with pair enthalpies gathered per
  pair instead of a dense 30 x 30 quadratic form; :math:`x \ln x` comes from
  a table of the grid's few values.
* The classifier ``encoder_y`` of every member is taken out of torch's
  module machinery (:class:`Scorer`) and run in float32 on chunks of
  ``chunk`` alloys, into reused buffers: one matrix product per layer (the
  bias rides on a column of ones) and a softplus compiled with numba that
  needs one ``exp`` and no logarithm (softplus was three quarters of the
  time with torch's own), with denormals flushed to zero. The five members
  of an ensemble run one after another on the same chunk, as batching them
  into one product was not faster.
* Chunks start at multiples of ``chunk`` in the global numbering whatever
  the batch size, and features and the softplus use only correctly rounded
  element-wise arithmetic, so every alloy's score is computed from exactly
  the same operands in every run: batched, resumed, threaded, multi-process
  and Dask runs give bitwise the same scores. Alloys are ranked by p, then
  by the mean logit (which still orders alloys whose p rounds to 1), then by
  their number: the top-N is identical across all of them (with the same
  ``chunk`` and the same kind of CPU).
* A long screen writes its state (batches done, running top-N,
  histograms) atomically to ``state_file``; rerunning the same call continues
  where it stopped. A state file of another screen is refused.
* Batches run on local threads or processes, or as Dask tasks on a
  ``distributed`` cluster; partial results are merged exactly (integer
  histograms, a total order on the top-N).

Scores: ``p_single_phase`` is the mean over the ensemble's members of
:math:`\sigma(\mathrm{logit}/T)`, and ``spread`` their standard deviation
(``ddof=0``; 0 with one member), as in :class:`hea_dvae.zoo.Ensemble`.

Speed (2-core Xeon, ``benchmarks/bench_screen.py``): the paper's equimolar
screen runs at about 1.3 million alloys per second on one core (the dense
``featurize`` + ``predict_proba`` path: 0.25 million) and takes under 3 s
as a whole process, most of it imports. The 5.5e8-alloy grid takes about
2.5 minutes on two worker processes with one member and 9-10 minutes with
five (3 and 12 minutes on two threads).
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import logging
import math
import os
import sys
import time
import zipfile
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass, field
from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from numba import njit
from torch import nn
from tqdm.auto import tqdm

from .config import show_progress
from .constraints import ConstraintError, Constraints, size_counts
from .elements import ELEMENTS, ENTROPY_EPS, FEATURES, GAS_CONSTANT, ElementTable, get_table
from .features import featurize, formula_from_vector
from .files import write_file
from .model import SSVAE

__all__ = [
    "FAMILIES",
    "FAMILY_NAMES",
    "ScreenResult",
    "ScreenStateError",
    "Scorer",
    "count_element_sets",
    "count_space",
    "iter_compositions",
    "paper_space",
    "screen",
    "sparse_features",
]

_INDEX = {symbol: i for i, symbol in enumerate(ELEMENTS)}

#: Element families for the screening chapter. Every element belongs to one:
#: the 3d metals Ti V Cr count as refractory (as in refractory high-entropy
#: alloys), Cu as noble, Sc as light.
FAMILIES: dict[str, tuple[str, ...]] = {
    "refractory": ("Ti", "V", "Cr", "Zr", "Nb", "Mo", "Hf", "Ta", "W", "Re"),
    "3d transition": ("Mn", "Fe", "Co", "Ni"),
    "noble": ("Cu", "Ru", "Rh", "Pd", "Ag", "Os", "Ir", "Pt", "Au"),
    "light & p-block": ("Li", "Mg", "Al", "Si", "Sc", "Zn", "Sn"),
}
#: Family names plus ``"mixed"``: an alloy belongs to the family holding more
#: than half of its atoms, else to "mixed".
FAMILY_NAMES: tuple[str, ...] = (*FAMILIES, "mixed")
#: Family number of each of the 30 elements, in ELEMENTS order.
_FAMILY_OF = np.array([next(i for i, members in enumerate(FAMILIES.values()) if symbol in members)
                       for symbol in ELEMENTS])

#: Alloys per batch: features, scores and histograms of one batch are in memory at once.
DEFAULT_BATCH_SIZE = 2**16
#: Alloys per classifier call; batch sizes are multiples of it.
DEFAULT_CHUNK = 1024
#: Below this many alloys ``workers=None`` runs in the calling thread.
AUTO_PARALLEL_ALLOYS = 2_000_000
#: Format of the state file; bump when its content changes.
STATE_FORMAT = 1
# Grids of one element set up to this size are generated whole when sliced.
_SMALL_GRID = 4096
_PROPERTY_ORDER = ("k", "vm", "tm", "vac", "ar", "chi")


def paper_space() -> Constraints:
    """The paper's screen: equimolar alloys of 4 and 5 of the 30 elements (169,911)."""
    return Constraints(n_elements=(4, 5))


# --------------------------------------------------------------------------
# k-sparse features


def _table_arrays(table: str | ElementTable) -> tuple[ElementTable, np.ndarray, np.ndarray]:
    table = get_table(table) if isinstance(table, str) else table
    properties = np.stack([np.asarray(table.properties[p], dtype=float) for p in _PROPERTY_ORDER])
    enthalpy = np.asarray(table.enthalpy, dtype=float)
    if not np.array_equal(enthalpy, enthalpy.T) or np.any(np.diag(enthalpy) != 0):
        raise ValueError(f"element table {table.name!r}: the enthalpy matrix must be symmetric with a zero diagonal")
    return table, properties, enthalpy


def _feature_columns(elements, fractions, entropy, properties, enthalpy) -> list[np.ndarray]:
    """The 8 features as arrays of the broadcast shape of ``elements[..., 0]`` and ``fractions[..., 0]``.

    Only element-wise arithmetic (and one square root), summed over the ``k``
    present elements in a fixed order: an alloy's features do not depend on
    the shape of the batch it is computed in.
    """
    k = elements.shape[-1]
    x = [fractions[..., j] for j in range(k)]

    def weighted(values):
        gathered = values[elements]
        total = x[0] * gathered[..., 0]
        for j in range(1, k):
            total += x[j] * gathered[..., j]
        return total

    # k, vm, tm, vac: fraction-weighted means.
    columns = [weighted(properties[p]) for p in range(4)]
    # delta and delta_chi: spreads of radius and electronegativity about their means.
    radius, mean_radius = properties[4][elements], weighted(properties[4])
    chi, mean_chi = properties[5][elements], weighted(properties[5])
    size_mismatch = x[0] * (1 - radius[..., 0] / mean_radius) ** 2
    chi_spread = x[0] * (chi[..., 0] - mean_chi) ** 2
    for j in range(1, k):
        size_mismatch += x[j] * (1 - radius[..., j] / mean_radius) ** 2
        chi_spread += x[j] * (chi[..., j] - mean_chi) ** 2
    # The offset keeps featurize's value (and its gradient) for a pure element.
    columns.append(100 * np.sqrt(size_mismatch + 1e-30))
    columns.append(np.sqrt(chi_spread + 1e-30))
    if entropy is None:
        entropy = 0
        for j in range(k):
            entropy = entropy + x[j] * np.log(x[j] + ENTROPY_EPS)
        entropy = -GAS_CONSTANT * entropy
    mixing = 0
    for i in range(k):
        for j in range(i + 1, k):
            mixing = mixing + (x[i] * x[j]) * enthalpy[elements[..., i], elements[..., j]]
    shape = np.broadcast_shapes(elements.shape[:-1], fractions.shape[:-1])
    columns.append(np.broadcast_to(entropy, shape))
    columns.append(np.broadcast_to(4 * mixing, shape))
    return columns


def sparse_features(elements, fractions, table: str | ElementTable = "paper") -> np.ndarray:
    """The 8 features of alloys given by their present elements only.

    Equal to :func:`hea_dvae.features.featurize` of the dense compositions
    (to about 1e-15 relative), at a cost proportional to the number of
    present elements ``k`` rather than to 30 (and to ``k^2/2`` rather than
    900 for the mixing enthalpy).

    Parameters
    ----------
    elements : array-like of int (..., k)
        Indices into :data:`ELEMENTS` of each alloy's present elements.
    fractions : array-like of float (..., k)
        Their atomic fractions (each alloy summing to 1); broadcast against
        ``elements``, e.g. element sets ``(s, 1, k)`` against a composition
        grid ``(1, m, k)`` give the features of all ``s * m`` alloys.
    table : str or ElementTable
        Element table, as for :func:`~hea_dvae.features.featurize`.

    Returns
    -------
    numpy.ndarray
        Shape (broadcast shape without the last axis, 8), float64.
    """
    elements = np.asarray(elements)
    fractions = np.asarray(fractions, dtype=float)
    if elements.shape[-1] != fractions.shape[-1]:
        raise ValueError(f"elements {elements.shape} and fractions {fractions.shape} differ in k")
    if not np.issubdtype(elements.dtype, np.integer) or elements.min() < 0 or elements.max() >= len(ELEMENTS):
        raise ValueError(f"elements must be integer indices into the {len(ELEMENTS)} ELEMENTS")
    sums = fractions.sum(axis=-1)
    if (fractions < 0).any() or np.abs(sums - 1).max(initial=0) > 1e-6:
        raise ValueError(f"fractions must be non-negative and sum to 1 per alloy; sums range "
                         f"{sums.min():.6g} to {sums.max():.6g}")
    _, properties, enthalpy = _table_arrays(table)
    return np.stack(_feature_columns(elements, fractions, None, properties, enthalpy), axis=-1)


# --------------------------------------------------------------------------
# The scorer: encoder_y of every member as plain float32 matrices


# Strict IEEE arithmetic (no fastmath): every element goes through the same
# correctly rounded operations whether it lands in a vector lane or in the
# loop's tail, so results do not depend on an array's length or offset.
@njit(cache=True, boundscheck=False, error_model="numpy", nogil=True)
def _softplus_from_exp(pre, growth, out):  # pragma: no cover - compiled
    """``out[:, :w] = softplus(pre)`` given ``growth = exp(pre)``; float32, ``pre`` is (n, w).

    softplus(x) = max(x, 0) + log1p(exp(-|x|)), and log1p(u) = 2 atanh(s) with
    s = u / (2 + u) <= 1/3, whose odd series to s^15 is exact to 1e-9. With
    u = exp(x) (x <= 0) or 1/exp(x) (x > 0), s is e/(2+e) or 1/(2e+1): one
    division, no logarithm; exp overflowing to inf gives s = 0, i.e. x.
    About twice as fast as torch's softplus here and as accurate (a few
    1e-7 absolute: float32 rounding of the result). ``out`` may be wider
    than ``pre`` (the column of ones that carries the next layer's bias).
    """
    one, two, zero = np.float32(1.0), np.float32(2.0), np.float32(0.0)
    rows, width = pre.shape
    for r in range(rows):
        for i in range(width):
            x, e = pre[r, i], growth[r, i]
            positive = x > zero
            numerator = one if positive else e
            denominator = two * e + one if positive else two + e
            s = numerator / denominator
            s2 = s * s
            series = np.float32(1 / 15)
            series = series * s2 + np.float32(1 / 13)
            series = series * s2 + np.float32(1 / 11)
            series = series * s2 + np.float32(1 / 9)
            series = series * s2 + np.float32(1 / 7)
            series = series * s2 + np.float32(1 / 5)
            series = series * s2 + np.float32(1 / 3)
            series = series * s2 + one
            out[r, i] = (x if positive else zero) + two * s * series


def _linear_layers(model: SSVAE) -> list[tuple[np.ndarray, np.ndarray]]:
    """``encoder_y``'s linear layers as float32 ``(in, out)`` weights and biases; softplus between."""
    modules = list(model.encoder_y.layers)
    layers = []
    for position, module in enumerate(modules):
        if position % 2 == 0:
            if not isinstance(module, nn.Linear):
                raise ValueError(f"encoder_y layer {position} is {type(module).__name__}, expected Linear")
            weight = module.weight.detach().to("cpu", torch.float32).numpy()
            bias = module.bias.detach().to("cpu", torch.float32).numpy()
            layers.append((np.ascontiguousarray(weight.T), bias.copy()))
        elif not (isinstance(module, nn.Softplus) and module.beta == 1 and module.threshold == 20):
            raise ValueError(f"encoder_y layer {position} is {module!r}, expected Softplus()")
    if len(modules) % 2 == 0 or layers[-1][0].shape[1] != 1:
        raise ValueError("encoder_y must end with a Linear layer of one output")
    return layers


class Scorer:
    """An ensemble's classifier as plain arrays, scoring features in large batches.

    ``p = mean over members of sigmoid(logit / temperature)``, with each
    member's ``encoder_y`` evaluated in float32 on features standardised
    (in float64) with that member's scaler. Picklable and small, so that it
    travels to worker processes and Dask workers once.

    Build it with :meth:`from_predictor` (an Ensemble, one SSVAE or a list of
    SSVAEs). It offers the Ensemble's feature interface:
    :meth:`member_probabilities`, :meth:`predict_proba`, :meth:`predict_spread`.

    Parameters
    ----------
    layers : list of list of (weight, bias)
        Per member, its linear layers as ``(in, out)`` float32 weights and
        ``(out,)`` biases, with softplus between them.
    feature_mean, feature_std : array-like (n_members, 8)
        Per-member feature scalers.
    temperature : float
        Logits are divided by it before the sigmoid.
    table : str or ElementTable
        Element table the members' features use.
    name : str
        Shown in summaries.
    """

    def __init__(self, layers, feature_mean, feature_std, temperature: float = 1.0,
                 table: str | ElementTable = "paper", name: str = ""):
        if not layers:
            raise ValueError("a Scorer needs at least one member")
        temperature = float(temperature)
        if not math.isfinite(temperature) or temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.layers = [[(np.ascontiguousarray(w, dtype=np.float32), np.ascontiguousarray(b, dtype=np.float32))
                        for w, b in member] for member in layers]
        self.feature_mean = np.asarray(feature_mean, dtype=float).reshape(len(layers), len(FEATURES))
        self.feature_std = np.asarray(feature_std, dtype=float).reshape(len(layers), len(FEATURES))
        if (self.feature_std <= 0).any():
            raise ValueError("feature standard deviations must be positive")
        self.temperature = temperature
        self.table, self.properties, self.enthalpy = _table_arrays(table)
        self.table_name = self.table.name
        self.name = name or f"{len(layers)} member(s), table {self.table_name}"
        self._torch_layers = None

    # -- construction ---------------------------------------------------------
    @classmethod
    def from_models(cls, models: Sequence[SSVAE], temperature: float = 1.0,
                    table: str | ElementTable | None = None, name: str = "") -> "Scorer":
        """From trained SSVAEs; ``table`` defaults to the first model's ``config.table``."""
        models = list(models)
        if not models:
            raise ValueError("no models given")
        tables = {m.config.table for m in models}
        if table is None:
            if len(tables) > 1:
                raise ValueError(f"the models use different element tables {sorted(tables)}; pass table=")
            table = models[0].config.table
        layers = [_linear_layers(m) for m in models]
        mean = np.stack([m.feature_mean.detach().cpu().double().numpy() for m in models])
        std = np.stack([m.feature_std.detach().cpu().double().numpy() for m in models])
        return cls(layers, mean, std, temperature=temperature, table=table, name=name)

    @classmethod
    def from_ensemble(cls, ensemble) -> "Scorer":
        """From a :class:`hea_dvae.zoo.Ensemble` (its members, temperature and table)."""
        return cls.from_models(ensemble.members, temperature=ensemble.temperature,
                               table=ensemble.table, name=getattr(ensemble, "name", ""))

    @classmethod
    def from_predictor(cls, predictor, temperature: float | None = None,
                       table: str | ElementTable | None = None) -> "Scorer":
        """A Scorer from a Scorer, an Ensemble-like object, one SSVAE or a list of SSVAEs."""
        if isinstance(predictor, Scorer):
            if temperature is not None or table is not None:
                raise ValueError("a Scorer already fixes its temperature and table")
            return predictor
        if hasattr(predictor, "members"):
            scorer = cls.from_ensemble(predictor)
            if temperature is None and table is None:
                return scorer
            return cls.from_models(predictor.members,
                                   temperature=predictor.temperature if temperature is None else temperature,
                                   table=predictor.table if table is None else table,
                                   name=getattr(predictor, "name", ""))
        models = [predictor] if isinstance(predictor, SSVAE) else list(predictor)
        if not all(isinstance(m, SSVAE) for m in models):
            raise TypeError("predictor must be a Scorer, an Ensemble, an SSVAE or a list of SSVAEs")
        return cls.from_models(models, temperature=1.0 if temperature is None else temperature, table=table)

    # -- identity and pickling -------------------------------------------------
    @property
    def n_members(self) -> int:
        return len(self.layers)

    @property
    def identity(self) -> str:
        """Hex digest of the weights, scalers, temperature and element table."""
        digest = hashlib.sha256()
        digest.update(repr((self.temperature, self.table_name)).encode())
        for array in (self.properties, self.enthalpy, self.feature_mean, self.feature_std):
            digest.update(np.ascontiguousarray(array).tobytes())
        for member in self.layers:
            for weight, bias in member:
                digest.update(repr(weight.shape).encode())
                digest.update(weight.tobytes())
                digest.update(bias.tobytes())
        return digest.hexdigest()

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_torch_layers"] = None
        return state

    def _tensors(self):
        if self._torch_layers is None:
            # Each layer's bias as the last row of its weights: inputs carry a
            # column of ones, so one matrix product does both (no bias pass).
            self._torch_layers = [[torch.from_numpy(np.vstack([w, b[None, :]])) for w, b in member]
                                  for member in self.layers]
        return self._torch_layers

    # -- scoring ----------------------------------------------------------------
    def featurize(self, x) -> np.ndarray:
        """Features of dense compositions (n, 30) with this scorer's table."""
        return featurize(np.asarray(x, dtype=float), table=self.table)

    @property
    def scaler_groups(self) -> list[tuple[np.ndarray, np.ndarray, list[int]]]:
        """(mean, std, members) of each distinct feature scaler, in member order."""
        groups: list = []
        for member in range(self.n_members):
            mean, std = self.feature_mean[member], self.feature_std[member]
            for group in groups:
                if np.array_equal(group[0], mean) and np.array_equal(group[1], std):
                    group[2].append(member)
                    break
            else:
                groups.append((mean, std, [member]))
        return groups

    def standardize(self, e) -> list[np.ndarray]:
        """Standardised features per scaler group, float32 arrays (9, n).

        Feature-major, with a last row of ones that carries the first layer's bias.
        """
        e = np.asarray(e, dtype=float).reshape(-1, len(FEATURES))
        out = []
        for mean, std, _ in self.scaler_groups:
            inputs = np.ones((len(FEATURES) + 1, len(e)), dtype=np.float32)
            inputs[:-1] = ((e - mean) / std).T
            out.append(inputs)
        return out

    def member_logits(self, e, chunk: int = DEFAULT_CHUNK) -> np.ndarray:
        """Logits of every member, float64 array (n_members, n), from raw features (n, 8).

        The networks run in float32 on consecutive chunks of ``chunk`` rows
        (the first starting at row 0): a row's result depends only on its
        chunk's rows.
        """
        inputs = self.standardize(e)
        return self.logits_from_standardized(inputs, chunk)

    def logits_from_standardized(self, inputs: list[np.ndarray], chunk: int = DEFAULT_CHUNK) -> np.ndarray:
        """Member logits (n_members, n) from :meth:`standardize`'s arrays."""
        n = inputs[0].shape[1]
        logits = np.empty((self.n_members, n))
        chunk = max(1, min(int(chunk), n)) if n else 1
        # Flush denormals to zero (in this thread) while the networks run: large
        # negative pre-activations make exp() denormal inside softplus, which is
        # several times slower and changes results by less than 1e-38.
        torch.set_flush_denormal(True)
        try:
            self._forward(inputs, logits, chunk)
        finally:
            torch.set_flush_denormal(False)
        return logits

    def _forward(self, inputs: list[np.ndarray], logits: np.ndarray, chunk: int) -> None:
        n = logits.shape[1]
        tensors = self._tensors()
        # One set of buffers per call, none per chunk: (chunk, width) pre-activations
        # and their exp, and (chunk, width + 1) activations whose last column is 1;
        # each as a tensor and as a numpy view of the same memory.
        buffers = {}
        for layers in tensors:
            for weight in layers[:-1]:
                width = weight.shape[1]
                if width not in buffers:
                    tensors_ = (torch.empty(chunk, width), torch.empty(chunk, width), torch.ones(chunk, width + 1))
                    buffers[width] = tensors_ + tuple(t.numpy() for t in tensors_)
        final = {layers[-1].shape[1]: torch.empty(chunk, layers[-1].shape[1]) for layers in tensors}
        with torch.no_grad():
            for group_inputs, (_, _, members) in zip(inputs, self.scaler_groups):
                features = torch.from_numpy(group_inputs)
                for member in members:
                    layers = tensors[member]
                    out = logits[member]
                    for start in range(0, n, chunk):
                        # (rows, 9) view of the feature-major array; BLAS reads it transposed.
                        h = features[:, start:start + chunk].T
                        rows = h.shape[0]
                        partial = rows < chunk  # only the last chunk of all: slice the buffers
                        for weight in layers[:-1]:
                            linear, growth, activated, linear_np, growth_np, activated_np = buffers[weight.shape[1]]
                            if partial:
                                linear, growth, activated = linear[:rows], growth[:rows], activated[:rows]
                                linear_np, growth_np = linear_np[:rows], growth_np[:rows]
                                activated_np = activated_np[:rows]
                            torch.mm(h, weight, out=linear)
                            # Below -87 exp() underflows, which is slow; exp(-87) is
                            # still a normal float and moves softplus by < 2e-38.
                            torch.clamp(linear, min=-87.0, out=growth).exp_()
                            _softplus_from_exp(linear_np, growth_np, activated_np)
                            h = activated
                        result = final[layers[-1].shape[1]]
                        result = result[:rows] if partial else result
                        torch.mm(h, layers[-1], out=result)
                        out[start:start + rows] = result[:, 0].numpy()

    def _probabilities(self, logits: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mean probability, member probabilities and mean scaled logit."""
        scaled = logits / self.temperature
        # sigmoid without overflow: exp of minus |logit| only.
        decay = np.exp(-np.abs(scaled))
        members = np.where(scaled >= 0, 1 / (1 + decay), decay / (1 + decay))
        # Sums in member order, row by row: the same operands in every run.
        total, logit = members[0].copy(), scaled[0].copy()
        for member in range(1, self.n_members):
            total += members[member]
            logit += scaled[member]
        return total / self.n_members, members, logit / self.n_members

    def member_probabilities(self, e, chunk: int = DEFAULT_CHUNK) -> np.ndarray:
        """sigmoid(logit / temperature) of every member, (n_members, n)."""
        return self._probabilities(self.member_logits(e, chunk))[1]

    def predict_proba(self, e, chunk: int = DEFAULT_CHUNK) -> np.ndarray:
        """Mean member probability of a single phase, (n,)."""
        return self._probabilities(self.member_logits(e, chunk))[0]

    def predict_spread(self, e, chunk: int = DEFAULT_CHUNK) -> np.ndarray:
        """Standard deviation over members (ddof 0), (n,); NaN (not available) with one member."""
        members = self.member_probabilities(e, chunk)
        return members.std(axis=0) if len(members) > 1 else np.full(members.shape[1], np.nan)

    def __repr__(self) -> str:
        return f"Scorer({self.name!r}, members={self.n_members}, temperature={self.temperature:g})"


# --------------------------------------------------------------------------
# Composition grids


@lru_cache(maxsize=65536)
def _count_grid(lower: tuple, upper: tuple, total: int) -> int:
    """Integer vectors with lower <= u <= upper summing to total (exact)."""
    ways = [1] + [0] * total
    for low, high in zip(lower, upper):
        prefix = list(itertools.accumulate(ways, initial=0))
        ways = [prefix[t - low + 1] - prefix[max(t - high, 0)] if t >= low else 0 for t in range(total + 1)]
    return ways[total]


def _grid_all(lower, upper, total: int) -> np.ndarray:
    """Every bounded composition of ``total`` units, (m, k) int32, in lexicographic order."""
    lower = np.asarray(lower, dtype=np.int64)
    upper = np.asarray(upper, dtype=np.int64)
    k = len(lower)
    if k == 1:
        fits = lower[0] <= total <= upper[0]
        return np.full((int(fits), 1), total, dtype=np.int32)
    rest_low = np.concatenate([np.cumsum(lower[::-1])[::-1][1:], [0]])
    rest_high = np.concatenate([np.cumsum(upper[::-1])[::-1][1:], [0]])
    prefix = np.zeros((1, 0), dtype=np.int32)
    remaining = np.array([total], dtype=np.int64)
    for i in range(k - 1):
        low = np.maximum(lower[i], remaining - rest_high[i])
        high = np.minimum(upper[i], remaining - rest_low[i])
        n = np.maximum(high - low + 1, 0)
        parent = np.repeat(np.arange(len(remaining)), n)
        values = low[parent] + (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n))
        prefix = np.column_stack([prefix[parent], values]).astype(np.int32)
        remaining = remaining[parent] - values
    return np.column_stack([prefix, remaining]).astype(np.int32)


def _grid_slice(lower: tuple, upper: tuple, total: int, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of :func:`_grid_all` without generating the others."""
    k = len(lower)
    count = _count_grid(lower, upper, total)
    stop = min(stop, count)
    if start >= stop:
        return np.zeros((0, k), dtype=np.int32)
    if stop - start == count or count <= _SMALL_GRID or k == 1:
        return _grid_all(lower, upper, total)[start:stop]
    parts, offset = [], 0
    first_low = max(lower[0], total - sum(upper[1:]))
    first_high = min(upper[0], total - sum(lower[1:]))
    for value in range(first_low, first_high + 1):
        size = _count_grid(lower[1:], upper[1:], total - value)
        if offset + size <= start:
            offset += size
            continue
        if offset >= stop:
            break
        rest = _grid_slice(lower[1:], upper[1:], total - value, max(start - offset, 0), min(stop - offset, size))
        parts.append(np.column_stack([np.full(len(rest), value, dtype=np.int32), rest]))
        offset += size
    return np.concatenate(parts)


@dataclass
class _Grid:
    """Compositions of one element set: units, fractions and the entropy of each row."""

    units: np.ndarray  # (m, k) int32; equimolar: ones, with total = k
    fractions: np.ndarray  # (m, k)
    entropy: np.ndarray  # (m,)
    total: int  # units per alloy (k for equimolar)


def _entropy_from_units(units: np.ndarray, total: int) -> np.ndarray:
    values = np.arange(total + 1) / total
    # x ln(x + eps) of every value a fraction can take on this grid, looked up per row.
    terms = values * np.log(values + ENTROPY_EPS)
    entropy = terms[units[:, 0]].copy()
    for j in range(1, units.shape[1]):
        entropy += terms[units[:, j]]
    return -GAS_CONSTANT * entropy


def _make_grid(units: np.ndarray, total: int) -> _Grid:
    return _Grid(units, units / total, _entropy_from_units(units, total), total)


@lru_cache(maxsize=8)
def _full_grid(lower: tuple, upper: tuple, total: int) -> _Grid:
    return _make_grid(_grid_all(lower, upper, total), total)


@lru_cache(maxsize=64)
def _equimolar_grid(k: int) -> _Grid:
    units = np.ones((1, k), dtype=np.int32)
    # 1/k exactly as composition_vector would give it, not units / k computed otherwise.
    fractions = np.full((1, k), 1 / k)
    entropy = fractions[:, 0] * np.log(fractions[:, 0] + ENTROPY_EPS)
    total = entropy.copy()
    for _ in range(1, k):
        total += entropy
    return _Grid(units, fractions, -GAS_CONSTANT * total, k)


# --------------------------------------------------------------------------
# The space: element sets and batches


@dataclass
class _Piece:
    """Consecutive alloys of one batch that share the number of elements k."""

    k: int
    sets: np.ndarray  # (s, k) indices into ELEMENTS, ascending within a set
    lower: np.ndarray | None  # (s, k) units per element, None when equimolar
    upper: np.ndarray | None
    counts: np.ndarray  # (s,) alloys of each set
    first_row: int  # first grid row of sets[0]
    stop_row: int  # end (exclusive) grid row of sets[-1]

    @property
    def weight(self) -> float:
        """Element sets covered, counting a set split between batches by its share."""
        if len(self.sets) == 1:
            return (self.stop_row - self.first_row) / self.counts[0]
        return (self.counts[0] - self.first_row) / self.counts[0] + len(self.sets) - 2 + self.stop_row / self.counts[-1]


@dataclass
class _Batch:
    index: int
    start: int  # number of its first alloy
    rows: int
    pieces: list
    weight: float  # element sets covered (for the progress bar)


class _Space:
    """The alloys a Constraints admits, in the screen's fixed order."""

    def __init__(self, constraints: Constraints):
        self.constraints = constraints
        self.total = constraints.grid_units()
        self.equimolar = self.total is None
        self.sizes = constraints.sizes()
        pool = [_INDEX[s] for s in constraints.pool()]
        self.required = np.array([_INDEX[s] for s in constraints.required], dtype=np.int64)
        self.optional = np.array([i for i in pool if i not in set(self.required)], dtype=np.int64)
        if self.equimolar:
            self.lower_fraction, self.upper_fraction = constraints.fraction_bounds()
            self.uniform = False
        else:
            self.lower_units, self.upper_units = constraints.unit_bounds()
            self.uniform = len({(self.lower_units[i], self.upper_units[i]) for i in pool}) == 1

    def n_sets(self, k: int) -> int:
        return math.comb(len(self.optional), k - len(self.required))

    def total_sets(self) -> int:
        return sum(self.n_sets(k) for k in self.sizes)

    def count(self) -> dict[int, int]:
        """Alloys by number of elements, in closed form (no enumeration)."""
        c = self.constraints
        if self.equimolar:
            out = {}
            for k in self.sizes:
                fits = (self.lower_fraction <= 1 / k + 1e-12) & (self.upper_fraction >= 1 / k - 1e-12)
                if not fits[self.required].all():
                    out[k] = 0
                    continue
                free = int(fits[self.optional].sum())
                out[k] = math.comb(free, k - len(self.required))
            return out
        pool = [_INDEX[s] for s in c.pool()]
        required = [s in c.required for s in c.pool()]
        counts = size_counts(self.lower_units[pool], self.upper_units[pool], required, self.total,
                             max(self.sizes), exact=True)
        return {k: int(counts[k]) for k in self.sizes}

    def set_blocks(self, k: int, block: int) -> Iterator[np.ndarray]:
        """Element sets of size k, (<= block, k) arrays, in lexicographic order of the free elements."""
        free = k - len(self.required)
        combos = itertools.combinations(self.optional.tolist(), free)
        while True:
            chunk = np.fromiter(itertools.chain.from_iterable(itertools.islice(combos, block)),
                                dtype=np.int64)
            if free:
                chunk = chunk.reshape(-1, free)
            else:
                # The only set is the required elements themselves, once.
                chunk = np.zeros((1, 0), dtype=np.int64)
            if len(chunk) == 0:
                return
            sets = np.concatenate([np.broadcast_to(self.required, (len(chunk), len(self.required))), chunk], axis=1)
            yield np.sort(sets, axis=1)
            if free == 0 or len(chunk) < block:
                return

    def patterns(self, k: int, sets: np.ndarray):
        """Per-set unit bounds (or None) and number of alloys."""
        if self.equimolar:
            fits = (self.lower_fraction[sets] <= 1 / k + 1e-12) & (self.upper_fraction[sets] >= 1 / k - 1e-12)
            fits = fits.all(axis=1)
            return None, None, fits.astype(np.int64)
        lower = self.lower_units[sets]
        upper = self.upper_units[sets]
        if self.uniform:
            count = _count_grid(tuple(lower[0]), tuple(upper[0]), self.total)
            return lower, upper, np.full(len(sets), count, dtype=np.int64)
        counts = np.array([_count_grid(tuple(lo), tuple(hi), self.total) for lo, hi in zip(lower, upper)],
                          dtype=np.int64)
        return lower, upper, counts

    def set_block_size(self, k: int, batch_size: int) -> int:
        if self.equimolar:
            return batch_size
        lower = tuple([int(self.lower_units[self.optional].min(initial=1))] * k)
        upper = tuple([int(self.upper_units[self.optional].max(initial=self.total))] * k)
        per_set = max(1, _count_grid(lower, upper, self.total))
        return int(min(max(batch_size // per_set + 1, 16), 1 << 16))

    def batches(self, batch_size: int) -> Iterator[_Batch]:
        """Consecutive batches of ``batch_size`` alloys (the last may be shorter)."""
        index = start = filled = 0
        pieces: list[_Piece] = []
        weight = 0.0
        for k in self.sizes:
            for sets in self.set_blocks(k, self.set_block_size(k, batch_size)):
                lower, upper, counts = self.patterns(k, sets)
                keep = counts > 0
                weight += float((~keep).sum())  # sets without an admitted alloy still count as screened
                if not keep.all():
                    sets, counts = sets[keep], counts[keep]
                    if lower is not None:
                        lower, upper = lower[keep], upper[keep]
                if not len(sets):
                    continue
                cumulative = np.cumsum(counts)
                position, end_of_block = 0, int(cumulative[-1])
                while position < end_of_block:
                    end = min(position + batch_size - filled, end_of_block)
                    first = int(np.searchsorted(cumulative, position, side="right"))
                    last = int(np.searchsorted(cumulative, end - 1, side="right"))
                    piece = _Piece(
                        k=k,
                        sets=sets[first:last + 1],
                        lower=None if lower is None else lower[first:last + 1],
                        upper=None if upper is None else upper[first:last + 1],
                        counts=counts[first:last + 1],
                        first_row=int(position - (cumulative[first] - counts[first])),
                        stop_row=int(end - (cumulative[last] - counts[last])),
                    )
                    pieces.append(piece)
                    weight += piece.weight
                    filled += end - position
                    position = end
                    if filled == batch_size:
                        yield _Batch(index, start, filled, pieces, weight)
                        index, start = index + 1, start + filled
                        filled, pieces, weight = 0, [], 0.0
        if pieces or weight:
            yield _Batch(index, start, filled, pieces, weight)


def _piece_blocks(piece: _Piece, total: int | None) -> Iterator[tuple[np.ndarray, _Grid]]:
    """(element sets, grid) blocks of a piece, in alloy order; each block's alloys are sets x grid rows."""
    if piece.lower is None:
        yield piece.sets, _equimolar_grid(piece.k)
        return
    n = len(piece.sets)
    starts = np.zeros(n, dtype=np.int64)
    stops = piece.counts.copy()
    starts[0], stops[-1] = piece.first_row, piece.stop_row
    full = (starts == 0) & (stops == piece.counts)
    same_as_previous = np.zeros(n, dtype=bool)
    same_as_previous[1:] = ((piece.lower[1:] == piece.lower[:-1]).all(axis=1)
                            & (piece.upper[1:] == piece.upper[:-1]).all(axis=1))
    j = 0
    while j < n:
        lower, upper = tuple(piece.lower[j].tolist()), tuple(piece.upper[j].tolist())
        if not full[j]:
            units = _grid_slice(lower, upper, total, int(starts[j]), int(stops[j]))
            yield piece.sets[j:j + 1], _make_grid(units, total)
            j += 1
            continue
        end = j + 1
        while end < n and full[end] and same_as_previous[end]:
            end += 1
        yield piece.sets[j:end], _full_grid(lower, upper, total)
        j = end


def iter_compositions(constraints: Constraints, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[np.ndarray]:
    """Every alloy of the space as dense fractions, (<= batch_size, 30) arrays, in screen order."""
    space = _Space(constraints)
    for batch in space.batches(batch_size):
        parts = []
        for piece in batch.pieces:
            for sets, grid in _piece_blocks(piece, space.total):
                x = np.zeros((len(sets), len(grid.fractions), len(ELEMENTS)))
                rows = np.arange(len(sets))[:, None, None]
                cols = np.arange(len(grid.fractions))[None, :, None]
                x[rows, cols, sets[:, None, :]] = grid.fractions[None, :, :]
                parts.append(x.reshape(-1, len(ELEMENTS)))
        if parts:
            yield np.concatenate(parts)


def count_space(constraints: Constraints, by_size: bool = False):
    """Number of alloys the screen of ``constraints`` covers, in closed form.

    Equimolar (no step): :math:`\\binom{n - r}{k - r}` element sets of each
    size ``k`` (``n`` pool elements whose bounds admit ``1/k``, ``r``
    required). On a grid: the coefficient of :math:`a^k t^{1/step}` in the
    generating function of :func:`hea_dvae.constraints.size_counts`, which
    for uniform bounds is :math:`\\binom{n-r}{k-r}` times the number of
    bounded compositions.

    Returns
    -------
    int, or dict of k -> int with ``by_size``
    """
    counts = _Space(constraints).count()
    return counts if by_size else sum(counts.values())


def count_element_sets(constraints: Constraints) -> int:
    """Number of element sets the screen walks through (the progress bar's total)."""
    return _Space(constraints).total_sets()


# --------------------------------------------------------------------------
# Scoring one batch


@dataclass(frozen=True)
class _Settings:
    top: int
    bins: int
    chunk: int
    total: int | None
    single_thread: bool


@dataclass
class _Top:
    """Running top-N: by p (highest first), mean logit (highest first), alloy number (lowest first)."""

    ids: np.ndarray
    p: np.ndarray
    logit: np.ndarray  # mean scaled logit: orders alloys whose p rounds to 1 (or 0)
    members: np.ndarray  # (n, n_members)
    x: np.ndarray  # (n, 30)
    e: np.ndarray  # (n, 8)

    @classmethod
    def empty(cls, n_members: int) -> "_Top":
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0), np.zeros((0, n_members)),
                   np.zeros((0, len(ELEMENTS))), np.zeros((0, len(FEATURES))))

    def merged(self, other: "_Top", n: int) -> "_Top":
        joined = [np.concatenate([a, b]) for a, b in zip(self.arrays(), other.arrays())]
        order = np.lexsort((joined[0], -joined[2], -joined[1]))[:n]
        return _Top(*(a[order] for a in joined))

    def arrays(self) -> tuple:
        return self.ids, self.p, self.logit, self.members, self.x, self.e


@dataclass(eq=False)
class _BatchResult:
    index: int
    rows: int
    weight: float
    top: _Top
    hist_size: np.ndarray  # (31, bins)
    hist_family: np.ndarray  # (len(FAMILY_NAMES), bins)
    hist_element: np.ndarray  # (30, bins)
    above: np.ndarray  # alloys with p > 0.5 and p > 0.9


def _select(p: np.ndarray, logit: np.ndarray, ids: np.ndarray, n: int) -> np.ndarray:
    """Rows of the n best by (p descending, logit descending, id ascending)."""
    if len(p) > n:
        threshold = np.partition(p, len(p) - n)[len(p) - n]
        candidates = np.flatnonzero(p >= threshold)
    else:
        candidates = np.arange(len(p))
    return candidates[np.lexsort((ids[candidates], -logit[candidates], -p[candidates]))[:n]]


def _run_batch(batch: _Batch, scorer: Scorer, settings: _Settings) -> _BatchResult:
    """Features, scores, top-N and histograms of one batch."""
    if settings.single_thread and torch.get_num_threads() != 1:
        torch.set_num_threads(1)
    bins = settings.bins
    hist_size = np.zeros((len(ELEMENTS) + 1, bins), dtype=np.int64)
    hist_family = np.zeros((len(FAMILY_NAMES), bins), dtype=np.int64)
    hist_element = np.zeros((len(ELEMENTS), bins), dtype=np.int64)
    if not batch.rows:
        return _BatchResult(batch.index, 0, batch.weight, _Top.empty(scorer.n_members),
                            hist_size, hist_family, hist_element, np.zeros(2, dtype=np.int64))
    blocks, offsets = [], [0]
    for piece in batch.pieces:
        for sets, grid in _piece_blocks(piece, settings.total):
            blocks.append((piece.k, sets, grid))
            offsets.append(offsets[-1] + len(sets) * len(grid.fractions))
    groups = scorer.scaler_groups
    # Standardised float32 features, feature-major with a row of ones (see
    # Scorer.standardize); float64 features exist one block at a time.
    inputs = [np.ones((len(FEATURES) + 1, batch.rows), dtype=np.float32) for _ in groups]
    for (k, sets, grid), begin, end in zip(blocks, offsets[:-1], offsets[1:]):
        columns = _feature_columns(sets[:, None, :], grid.fractions[None, :, :], grid.entropy[None, :],
                                   scorer.properties, scorer.enthalpy)
        for j, column in enumerate(columns):
            for group, (mean, std, _) in zip(inputs, groups):
                group[j, begin:end] = ((column - mean[j]) / std[j]).reshape(-1)
    p, members, logit = scorer._probabilities(scorer.logits_from_standardized(inputs, settings.chunk))

    which_bin = np.minimum((p * bins).astype(np.int64), bins - 1)
    for (k, sets, grid), begin, end in zip(blocks, offsets[:-1], offsets[1:]):
        b = which_bin[begin:end].reshape(len(sets), len(grid.fractions))
        hist_size[k] += np.bincount(b.ravel(), minlength=bins)
        # Family holding more than half of the atoms: exact integer shares
        # (units are small integers, so the matrix product is exact).
        family_units = np.stack([(_FAMILY_OF[sets] == f).astype(float) @ grid.units.T.astype(float)
                                 for f in range(len(FAMILIES))], axis=-1)
        dominant = family_units.argmax(axis=-1)
        dominant[2 * family_units.max(axis=-1) <= grid.total] = len(FAMILIES)
        hist_family += np.bincount((dominant * bins + b).ravel(), minlength=hist_family.size).reshape(hist_family.shape)
        if b.shape[1] >= 32:
            per_set = np.bincount((np.arange(len(sets))[:, None] * bins + b).ravel(),
                                  minlength=len(sets) * bins).reshape(len(sets), bins)
            np.add.at(hist_element, sets.ravel(), np.repeat(per_set, sets.shape[1], axis=0))
        else:
            for j in range(sets.shape[1]):
                hist_element += np.bincount((sets[:, j][:, None] * bins + b).ravel(),
                                            minlength=hist_element.size).reshape(hist_element.shape)
    above = np.array([(p > 0.5).sum(), (p > 0.9).sum()], dtype=np.int64)

    ids = batch.start + np.arange(len(p), dtype=np.int64)
    chosen = _select(p, logit, ids, settings.top)
    x = np.zeros((len(chosen), len(ELEMENTS)))
    e = np.zeros((len(chosen), len(FEATURES)))
    block_of = np.searchsorted(offsets, chosen, side="right") - 1
    for block in np.unique(block_of):
        rows = np.flatnonzero(block_of == block)
        _, sets, grid = blocks[block]
        within = chosen[rows] - offsets[block]
        elements, fractions = sets[within // len(grid.fractions)], grid.fractions[within % len(grid.fractions)]
        x[rows[:, None], elements] = fractions
        # Element-wise, like the scores: an alloy's features do not depend on
        # which batch it was found in (a dense matrix product's rounding does).
        e[rows] = np.stack(_feature_columns(elements, fractions, None, scorer.properties, scorer.enthalpy), axis=-1)
    top = _Top(ids[chosen], p[chosen], logit[chosen], members[:, chosen].T.copy(), x, e)
    return _BatchResult(batch.index, len(p), batch.weight, top, hist_size, hist_family, hist_element, above)


# Worker processes receive the scorer once, when they start.
_PROCESS_SCORER: Scorer | None = None
_PROCESS_SETTINGS: _Settings | None = None


def _init_process(scorer: Scorer, settings: _Settings) -> None:
    global _PROCESS_SCORER, _PROCESS_SETTINGS
    torch.set_num_threads(1)
    _PROCESS_SCORER, _PROCESS_SETTINGS = scorer, settings


def _run_batch_in_process(batch: _Batch) -> _BatchResult:
    return _run_batch(batch, _PROCESS_SCORER, _PROCESS_SETTINGS)


# --------------------------------------------------------------------------
# State, results


class ScreenStateError(ValueError):
    """A state file that belongs to another screen, or is not a state file."""


@dataclass
class _State:
    identity: dict
    n_members: int
    bins: int
    done: set = field(default_factory=set)
    rows: int = 0
    seconds: float = 0.0
    largest_batch: int = 0
    complete: bool = False
    top: _Top = None
    hist_size: np.ndarray = None
    hist_family: np.ndarray = None
    hist_element: np.ndarray = None
    above: np.ndarray = None

    def __post_init__(self):
        if self.top is None:
            self.top = _Top.empty(self.n_members)
            self.hist_size = np.zeros((len(ELEMENTS) + 1, self.bins), dtype=np.int64)
            self.hist_family = np.zeros((len(FAMILY_NAMES), self.bins), dtype=np.int64)
            self.hist_element = np.zeros((len(ELEMENTS), self.bins), dtype=np.int64)
            self.above = np.zeros(2, dtype=np.int64)

    def add(self, result: _BatchResult, top: int) -> None:
        self.done.add(result.index)
        self.rows += result.rows
        self.largest_batch = max(self.largest_batch, result.rows)
        self.top = self.top.merged(result.top, top)
        self.hist_size += result.hist_size
        self.hist_family += result.hist_family
        self.hist_element += result.hist_element
        self.above += result.above

    def save(self, path: Path) -> None:
        """Write atomically (:func:`hea_dvae.files.write_file`)."""
        done = sorted(self.done)
        # Batches finish roughly in order: store runs [first, last].
        runs = []
        for index in done:
            if runs and index == runs[-1][1] + 1:
                runs[-1][1] = index
            else:
                runs.append([index, index])
        meta = {"format": STATE_FORMAT, "identity": self.identity, "done": runs, "rows": self.rows,
                "seconds": self.seconds, "largest_batch": self.largest_batch, "complete": self.complete}
        buffer = io.BytesIO()
        np.savez(buffer, meta=np.array(json.dumps(meta)), **self._arrays())
        write_file(path, buffer.getvalue())

    def _arrays(self) -> dict:
        return {"ids": self.top.ids, "p": self.top.p, "logit": self.top.logit, "members": self.top.members,
                "x": self.top.x, "e": self.top.e, "hist_size": self.hist_size, "hist_family": self.hist_family,
                "hist_element": self.hist_element, "above": self.above}

    @classmethod
    def load(cls, path: Path, identity: dict, n_members: int, bins: int, max_rows: int) -> "_State":
        """Read a state file, checking every field before anything is allocated.

        ``max_rows`` is the size of the space: no count, batch number or
        array in a state file of this screen can exceed what it implies.
        """
        meta, arrays = _read_state(path, identity, n_members, bins, max_rows)
        done = {i for first, last in meta["done"] for i in range(first, last + 1)}
        top = _Top(*(arrays[name] for name in ("ids", "p", "logit", "members", "x", "e")))
        return cls(identity, n_members, bins, done, meta["rows"], meta["seconds"], meta["largest_batch"],
                   meta["complete"], top, arrays["hist_size"], arrays["hist_family"], arrays["hist_element"],
                   arrays["above"])


def _state_shapes(n_members: int, bins: int, top: int) -> dict:
    """Expected (shape, kind) of every array of a state file; ``None`` marks the top-N length (<= top)."""
    return {
        "ids": ((None,), "i"), "p": ((None,), "f"), "logit": ((None,), "f"),
        "members": ((None, n_members), "f"), "x": ((None, len(ELEMENTS)), "f"), "e": ((None, len(FEATURES)), "f"),
        "hist_size": ((len(ELEMENTS) + 1, bins), "i"), "hist_family": ((len(FAMILY_NAMES), bins), "i"),
        "hist_element": ((len(ELEMENTS), bins), "i"), "above": ((2,), "i"),
    }


def _read_state(path: Path, identity: dict, n_members: int, bins: int, max_rows: int) -> tuple[dict, dict]:
    def bad(problem: str) -> ScreenStateError:
        return ScreenStateError(f"{path} is not a screen state file: {problem}")

    if not zipfile.is_zipfile(path):
        raise bad("it is not a NumPy .npz archive (was it written by --resume?)")
    expected = _state_shapes(n_members, bins, identity["top"])
    arrays = {}
    try:
        with zipfile.ZipFile(path) as archive:
            names = {name.removesuffix(".npy") for name in archive.namelist()}
            missing = sorted({"meta", *expected} - names)
            if missing:
                raise bad(f"it lacks {', '.join(missing)}")
            with archive.open("meta.npy") as stream:
                shape, dtype = _npy_header(stream)
                if shape != () or dtype.kind != "U" or dtype.itemsize > 4 * _MAX_META_CHARACTERS:
                    raise bad("its metadata is not a short text")
            with np.load(path, allow_pickle=False) as stored:
                try:
                    meta = json.loads(str(stored["meta"]))
                except json.JSONDecodeError as error:
                    raise bad(f"its metadata is not JSON ({error})") from None
                # The identity first: a state of another screen is named as such.
                _check_state_meta(path, meta, identity, max_rows, bad)
                for name, (want, kind) in expected.items():
                    with archive.open(name + ".npy") as stream:
                        shape, dtype = _npy_header(stream)
                    length_ok = len(shape) == len(want) and all(
                        (w is None and 0 <= d <= identity["top"]) or d == w for d, w in zip(shape, want))
                    if not length_ok or dtype.kind != kind:
                        raise bad(f"array {name} has shape {shape} and type {dtype}, expected {want} of kind {kind!r}")
                    arrays[name] = stored[name]
    except ScreenStateError:
        raise
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as error:
        raise bad(f"{type(error).__name__}: {str(error)[:200]}") from None
    lengths = {len(arrays[name]) for name in ("ids", "p", "logit", "members", "x", "e")}
    if len(lengths) != 1:
        raise bad("its top-N arrays differ in length")
    return meta, arrays


def _npy_header(stream) -> tuple[tuple, np.dtype]:
    """Shape and dtype of an ``.npy`` stream, read from its header alone."""
    version = np.lib.format.read_magic(stream)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read(stream)
    return shape, dtype


#: Longest metadata text of a state file (it holds the constraints and a few numbers).
_MAX_META_CHARACTERS = 1 << 20


def _check_state_meta(path: Path, meta, identity: dict, max_rows: int, bad) -> None:
    if not isinstance(meta, dict):
        raise bad("its metadata is not a JSON object")
    if meta.get("format") != STATE_FORMAT:
        raise ScreenStateError(f"{path}: state format {meta.get('format')!r}, this version writes {STATE_FORMAT}")
    stored_identity = meta.get("identity")
    if not isinstance(stored_identity, dict):
        raise bad("its metadata has no screen identity")
    if stored_identity != identity:
        keys = set(stored_identity) | set(identity)
        differ = sorted(k for k in keys if stored_identity.get(k) != identity.get(k))
        details = "; ".join(f"{k}: file {stored_identity.get(k)!r}, now {identity.get(k)!r}" for k in differ)
        raise ScreenStateError(
            f"{path} holds the state of a different screen ({details}); "
            f"delete it or choose another state file"
        )
    batches = max_rows // identity["batch_size"] + 2
    runs = meta.get("done")

    def count(value, limit) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= limit

    if not isinstance(runs, list) or not all(
            isinstance(r, list) and len(r) == 2 and count(r[0], batches) and count(r[1], batches) and r[0] <= r[1]
            for r in runs):
        raise bad(f"its list of finished batches is not pairs of batch numbers below {batches}")
    if not (count(meta.get("rows"), max_rows) and count(meta.get("largest_batch"), identity["batch_size"])):
        raise bad("its counts of alloys are not numbers within the size of the space")
    seconds = meta.get("seconds")
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not math.isfinite(seconds) \
            or seconds < 0:
        raise bad("its time is not a non-negative number")
    if not isinstance(meta.get("complete"), bool):
        raise bad("its completion flag is not true or false")


@dataclass
class ScreenResult:
    """What a screen found.

    Attributes
    ----------
    top : DataFrame
        The best alloys, ranked by ``p_single_phase`` (highest first; then by
        the mean logit, then in the screen's order), indexed by ``rank`` from
        1: ``formula`` (at.%),
        ``p_single_phase``, ``spread``, ``n_elements``, the 8 features, the 30
        fractions, and any columns ``annotate`` added.
    summary : dict
        ``alloys`` screened, ``element_sets``, ``alloys_above_0.5`` and
        ``share_above_0.5`` (also 0.9), ``seconds`` (over all sessions of a
        resumed screen), ``alloys_per_second``, ``complete``, ``batches``,
        ``largest_batch`` (most alloys held at once), ``workers``,
        ``backend``, ``space`` (the expected count), ``scorer``.
    histograms : dict of str -> DataFrame
        Alloys per bin of p (index: bin left edges ``p_low``): ``"all"``
        (one column ``alloys``), ``"n_elements"`` (a column per size),
        ``"family"`` (a column per :data:`FAMILY_NAMES`), ``"element"`` (a
        column per element: the alloys containing it).
    constraints : Constraints
        The screened space.
    families : dict
        The element families of the ``"family"`` histogram (:data:`FAMILIES`).
    """

    top: pd.DataFrame
    summary: dict
    histograms: dict
    constraints: Constraints
    families: dict = field(default_factory=lambda: dict(FAMILIES))

    @property
    def histogram(self) -> pd.Series:
        """Alloys per bin of p over the whole space."""
        return self.histograms["all"]["alloys"]

    def share_single_phase(self, by: str = "n_elements", threshold: float = 0.5) -> pd.Series:
        """Share of alloys with p at or above ``threshold`` in each group.

        ``by`` is ``"all"``, ``"n_elements"``, ``"family"`` or ``"element"``.

        ``threshold`` must be a bin edge.
        """
        frame = self.histograms[by]
        bins = len(frame)
        edge = threshold * bins
        if abs(edge - round(edge)) > 1e-9:
            raise ValueError(f"threshold {threshold} is not a bin edge of the {bins}-bin histogram")
        counts = frame.to_numpy()
        totals = counts.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = counts[round(edge):].sum(axis=0) / totals
        return pd.Series(share, index=frame.columns, name=f"share p >= {threshold:g}")

    def describe(self) -> str:
        """The summary in two sentences, e.g. for the command line."""
        s = self.summary
        state = "" if s["complete"] else f" (stopped early: {s['alloys']:,} of {s['space']:,})"
        return (
            f"Screened {s['alloys']:,} alloys of {s['element_sets']:,} element sets in {s['seconds']:.1f} s "
            f"({s['alloys_per_second']:,.0f} per second, {s['workers']} worker(s), {s['backend']}){state}. "
            f"p(single phase) > 0.5 for {s['share_above_0.5']:.1%} and > 0.9 for {s['share_above_0.9']:.1%} "
            f"of them ({s['scorer']})."
        )

    def to_csv(self, path) -> Path:
        """Write the top-N table atomically (nothing is left behind on error)."""
        write_file(path, self.top.to_csv())
        return Path(path)


def _histogram_frames(state: _State, sizes) -> dict:
    bins = state.bins
    index = pd.Index(np.arange(bins) / bins, name="p_low")
    return {
        "all": pd.DataFrame({"alloys": state.hist_size.sum(axis=0)}, index=index),
        "n_elements": pd.DataFrame({k: state.hist_size[k] for k in sizes}, index=index),
        "family": pd.DataFrame(dict(zip(FAMILY_NAMES, state.hist_family)), index=index),
        "element": pd.DataFrame(dict(zip(ELEMENTS, state.hist_element)), index=index),
    }


def _top_frame(top: _Top) -> pd.DataFrame:
    frame = pd.DataFrame({
        "formula": [formula_from_vector(row) for row in top.x],
        "p_single_phase": top.p,
        # One member has no spread: "not available", not 0.
        "spread": top.members.std(axis=1) if top.members.shape[1] > 1 else np.full(len(top.p), np.nan),
        "n_elements": (top.x > 0).sum(axis=1),
    })
    frame = pd.concat([frame, pd.DataFrame(top.e, columns=list(FEATURES)),
                       pd.DataFrame(top.x, columns=list(ELEMENTS))], axis=1)
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="rank")
    return frame


# --------------------------------------------------------------------------
# Running batches: in this thread, on local threads or processes, or on Dask


class _Runner:
    """Runs batches and hands back results as they finish."""

    def __init__(self, backend: str, workers: int, scorer: Scorer, settings: _Settings, scheduler=None):
        self.backend = backend
        self.scorer, self.settings = scorer, settings
        self.window = 2 * workers
        self._client = self._cluster = None
        if backend == "threads":
            self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hea-dvae-screen")
        elif backend == "processes":
            # spawn: safe whatever threads the calling process (a notebook, torch) runs.
            self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                                             initializer=_init_process, initargs=(scorer, settings))
        elif backend == "dask":
            try:
                import distributed  # the optional heavy dependency, only when asked for
            except ImportError:
                raise ImportError("screening on Dask needs the 'distributed' package: "
                                  "pip install 'dask[distributed]'") from None

            if isinstance(scheduler, distributed.Client):
                self._client, self._owns_client = scheduler, False
            elif scheduler is not None:
                try:
                    self._client, self._owns_client = distributed.Client(scheduler), True
                except OSError as error:
                    raise ConnectionError(f"cannot reach the Dask scheduler at {scheduler!r}: {error}") from None
            else:
                # CRITICAL: workers log a harmless heartbeat error when the cluster closes.
                self._cluster = distributed.LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True,
                    dashboard_address=None, silence_logs=logging.CRITICAL)
                self._client, self._owns_client = distributed.Client(self._cluster), True
            self.window = 2 * max(1, sum(self._client.nthreads().values()))
            self._scorer_future = self._client.scatter(scorer, broadcast=True)
            self._distributed = distributed
        elif backend != "serial":
            raise ValueError(f"backend must be 'serial', 'threads', 'processes' or 'dask', got {backend!r}")

    def submit(self, batch: _Batch):
        if self.backend == "serial":
            return _run_batch(batch, self.scorer, self.settings)
        if self.backend == "threads":
            return self._pool.submit(_run_batch, batch, self.scorer, self.settings)
        if self.backend == "processes":
            return self._pool.submit(_run_batch_in_process, batch)
        return self._client.submit(_run_batch, batch, self._scorer_future, self.settings, pure=False)

    def wait(self, pending: set) -> tuple[list, set]:
        """Results of finished batches, and the handles still pending."""
        if self.backend == "serial":
            return list(pending), set()
        if self.backend == "dask":
            done, not_done = self._distributed.wait(list(pending), return_when="FIRST_COMPLETED")
        else:
            done, not_done = futures_wait(pending, return_when=FIRST_COMPLETED)
        return [future.result() for future in done], set(not_done)

    def close(self, cancel: bool = False) -> None:
        if self.backend in ("threads", "processes"):
            self._pool.shutdown(wait=True, cancel_futures=cancel)
        elif self.backend == "dask":
            if self._owns_client:
                self._client.close()
            if self._cluster is not None:
                self._cluster.close()


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def screen(
    predictor,
    constraints: Constraints | Mapping | str | os.PathLike | None = None,
    *,
    top: int = 100,
    batch_size: int = DEFAULT_BATCH_SIZE,
    chunk: int = DEFAULT_CHUNK,
    bins: int = 100,
    workers: int | None = None,
    backend: str = "auto",
    scheduler=None,
    state_file: str | os.PathLike | None = None,
    checkpoint_seconds: float = 30.0,
    max_batches: int | None = None,
    max_seconds: float | None = None,
    annotate: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    progress: bool | None = None,
) -> ScreenResult:
    """Score every alloy of a constrained space and keep the best.

    Parameters
    ----------
    predictor : Scorer, Ensemble, SSVAE or list of SSVAEs
        What scores the alloys (see :meth:`Scorer.from_predictor`); its
        element table computes the features.
    constraints : Constraints, mapping or path, optional
        The space (a ``.yaml``/``.toml`` path or a mapping are read as
        :class:`Constraints`). Default: :func:`paper_space`, the paper's
        equimolar 4- and 5-element alloys. Without a ``step`` the alloys are
        equimolar; with one, every grid composition within the bounds.
    top : int
        How many of the best alloys to keep.
    batch_size : int
        Alloys generated and scored at once (memory is proportional to it,
        about 0.5 kB per alloy); rounded down to a multiple of ``chunk``.
    chunk : int
        Alloys per classifier call. Results are bitwise reproducible for a
        given ``chunk`` whatever the batch size, backend and workers.
    bins : int
        Bins of the p histograms over [0, 1].
    workers : int, optional
        Parallel workers; ``None`` uses every available core for spaces of
        :data:`AUTO_PARALLEL_ALLOYS` alloys or more and the calling thread
        below. With ``backend="dask"`` and no ``scheduler``, the number of
        worker processes of a local cluster.
    backend : {"auto", "threads", "processes", "dask", "serial"}
        How batches run when ``workers > 1``. ``"threads"`` (and
        ``"auto"``): threads of this process; numpy, torch and the softplus
        kernel release the GIL, nothing to start. ``"processes"``: spawned
        worker processes, measured 10-25 % faster than threads on long
        screens (less contention for the interpreter) but 3-5 s to start,
        and a script that calls the screen needs an ``if __name__ ==
        "__main__":`` guard (the command line has one). ``"dask"``: Dask
        tasks on ``scheduler``, or on a ``distributed.LocalCluster`` of
        ``workers`` processes.
    scheduler : str or distributed.Client, optional
        Address of a Dask scheduler (``"tcp://host:8786"``) or a client;
        implies ``backend="dask"``.
    state_file : path, optional
        Where progress is saved (atomically, every ``checkpoint_seconds``,
        when stopped and at the end). If it exists, the screen continues
        from it; a state file of another screen (constraints, model, grid,
        batch or histogram settings) raises :class:`ScreenStateError`.
    checkpoint_seconds : float
        Least time between two saves of the state file.
    max_batches, max_seconds : optional
        Stop after this many batches or seconds in this session; the result
        is then partial (``summary["complete"]`` is False) and, with a state
        file, a later call continues.
    annotate : callable, optional
        Receives the top-N frame and returns it with more columns (e.g.
        empirical rules, nearest dataset alloys).
    progress : bool, optional
        Progress bar over the alloys; default :func:`hea_dvae.config.show_progress`.

    Returns
    -------
    ScreenResult

    Raises
    ------
    ValueError
        Bad parameters, or a space without any alloy.
    ScreenStateError
        ``state_file`` belongs to another screen or is unreadable.
    """
    scorer = Scorer.from_predictor(predictor)
    if constraints is None:
        constraints = paper_space()
    elif isinstance(constraints, Mapping):
        constraints = Constraints.from_mapping(constraints)
    elif isinstance(constraints, (str, os.PathLike)):
        constraints = Constraints.from_file(constraints)
    elif not isinstance(constraints, Constraints):
        raise TypeError(f"constraints must be Constraints, a mapping or a file path, got {type(constraints).__name__}")
    for name, value in (("top", top), ("batch_size", batch_size), ("chunk", chunk), ("bins", bins)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if annotate is not None and not callable(annotate):
        raise TypeError(f"annotate must be callable, got {type(annotate).__name__}")
    if scheduler is not None:
        backend = "dask"
    if backend not in ("auto", "threads", "processes", "dask", "serial"):
        raise ValueError(f"backend must be 'auto', 'threads', 'processes', 'dask' or 'serial', got {backend!r}")
    chunk = min(int(chunk), int(batch_size))
    batch_size = int(batch_size) - int(batch_size) % chunk

    space = _Space(constraints)
    expected = sum(space.count().values())
    if expected == 0:
        raise ConstraintError(
            f"no alloy in this space ({constraints.describe()}): no equimolar alloy fits the bounds; "
            f"give a step to screen a composition grid"
        )
    if workers is None:
        workers = 1 if expected < AUTO_PARALLEL_ALLOYS else _available_cores()
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    if backend != "dask" and workers == 1:
        backend = "serial"
    elif backend == "auto":
        backend = "threads"

    identity = {"constraints": constraints.to_dict(), "scorer": scorer.identity, "top": int(top),
                "bins": int(bins), "batch_size": batch_size, "chunk": chunk}
    state_path = None if state_file is None else Path(state_file)
    if state_path is not None and state_path.exists():
        state = _State.load(state_path, identity, scorer.n_members, bins, expected)
    else:
        state = _State(identity, scorer.n_members, bins)
    settings = _Settings(int(top), int(bins), chunk, space.total, single_thread=backend != "serial")

    session_start = time.perf_counter()
    last_save = session_start
    stopped = False
    if not state.complete:
        # Counted in alloys (integers): summed fractions of element sets overshoot the total.
        bar = tqdm(total=expected, unit="alloys", unit_scale=True, desc="screen",
                   disable=not show_progress(progress), file=sys.stderr)
        threads_before = torch.get_num_threads()
        runner = None
        pending: set = set()
        submitted = 0
        batches = space.batches(batch_size)
        try:
            if backend in ("serial", "threads"):
                # One thread per running batch: more would compete for the same cores.
                torch.set_num_threads(1)
            runner = _Runner(backend, workers, scorer, settings, scheduler)
            exhausted = False
            while True:
                while not exhausted and not stopped and len(pending) < runner.window:
                    batch = next(batches, None)
                    while batch is not None and batch.index in state.done:
                        bar.update(batch.rows)
                        batch = next(batches, None)
                    if batch is None:
                        exhausted = True
                        break
                    if (max_batches is not None and submitted >= max_batches) or (
                            max_seconds is not None and time.perf_counter() - session_start >= max_seconds):
                        stopped = True
                        break
                    pending.add(runner.submit(batch))
                    submitted += 1
                    if backend == "serial":
                        break
                if not pending:
                    break
                results, pending = runner.wait(pending)
                for result in results:
                    state.add(result, int(top))
                    bar.update(result.rows)
                now = time.perf_counter()
                if state_path is not None and now - last_save >= checkpoint_seconds:
                    state.seconds += now - last_save
                    last_save = now
                    state.save(state_path)
            state.complete = exhausted and not pending
        except BaseException:
            # Keep what was merged: a rerun continues from it.
            if runner is not None:
                runner.close(cancel=True)
                runner = None
            if state_path is not None:
                state.seconds += time.perf_counter() - last_save
                state.save(state_path)
            raise
        finally:
            if runner is not None:
                runner.close()
            torch.set_num_threads(threads_before)
            bar.close()
        state.seconds += time.perf_counter() - last_save
        if state_path is not None:
            state.save(state_path)

    frame = _top_frame(state.top)
    if annotate is not None:
        annotated = annotate(frame)
        if not isinstance(annotated, pd.DataFrame) or len(annotated) != len(frame):
            raise ValueError("annotate must return a DataFrame with one row per top alloy")
        frame = annotated
    rows = state.rows
    summary = {
        "alloys": rows,
        "element_sets": space.total_sets(),
        "alloys_above_0.5": int(state.above[0]),
        "share_above_0.5": state.above[0] / rows if rows else float("nan"),
        "alloys_above_0.9": int(state.above[1]),
        "share_above_0.9": state.above[1] / rows if rows else float("nan"),
        "seconds": state.seconds,
        "alloys_per_second": rows / state.seconds if state.seconds > 0 else float("nan"),
        "complete": bool(state.complete),
        "batches": len(state.done),
        "largest_batch": state.largest_batch,
        "batch_size": batch_size,
        "workers": workers,
        "backend": backend,
        "space": expected,
        "alloys_by_n_elements": {k: int(state.hist_size[k].sum()) for k in space.sizes},
        "scorer": scorer.name,
        "members": scorer.n_members,
        "temperature": scorer.temperature,
        "table": scorer.table_name,
    }
    return ScreenResult(frame, summary, _histogram_frames(state, space.sizes), constraints)
