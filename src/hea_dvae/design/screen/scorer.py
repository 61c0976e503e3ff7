"""The screen's scorer: every member's classifier as plain float32 matrices.

The classifier ``encoder_y`` of every member is taken out of torch's module
machinery and run in float32 on chunks of ``chunk`` alloys, into reused
buffers: one matrix product per layer (the bias rides on a column of ones)
and a compiled softplus (:mod:`.kernels`) that needs one ``exp`` and no logarithm
(softplus was three quarters of the time with torch's own), with denormals
flushed to zero. Chunks start at multiples of ``chunk`` in the global
numbering and every element-wise step is correctly rounded, so every alloy's
score comes from the same operands in every run.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
from threadpoolctl import threadpool_limits

from ...checkpoint import read_state
from ...elements import FEATURES, ElementTable
from ...features import featurize
from ...identity import predictor_identity, state_digest
from ...predictors import Differentiable, spread_of
from .sparse import table_arrays

#: Alloys per classifier call; batch sizes are multiples of it.
DEFAULT_CHUNK = 1024


def softplus_from_exp(pre: np.ndarray, growth: np.ndarray, out: np.ndarray, compiled: bool = False) -> None:
    """``out[:, :w] = softplus(pre)`` given ``growth = exp(pre)``, float32 (see :mod:`.kernels`).

    ``compiled`` runs the compiled kernel, tens of times faster on large
    screens; otherwise its numpy twin, which does the same correctly rounded
    float32 operations and so gives the same bits, without the tenth of a
    second the kernel takes to compile (worth it from some ten thousand
    alloys times members on).
    """
    if compiled:
        from .kernels import softplus_compiled

        softplus_compiled(pre, growth, out)
    else:
        softplus_numpy(pre, growth, out)


def softplus_numpy(pre: np.ndarray, growth: np.ndarray, out: np.ndarray) -> None:
    """The compiled kernel's arithmetic (:func:`.kernels.softplus_compiled`), step by step in numpy."""
    one, two, zero = np.float32(1.0), np.float32(2.0), np.float32(0.0)
    positive = pre > zero
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        s = np.where(positive, one, growth) / np.where(positive, two * growth + one, two + growth)
        s2 = s * s
        series = np.full_like(s, np.float32(1 / 15))
        for coefficient in (1 / 13, 1 / 11, 1 / 9, 1 / 7, 1 / 5, 1 / 3):
            series = series * s2 + np.float32(coefficient)
        series = series * s2 + one
        out[:, :pre.shape[1]] = np.where(positive, pre, zero) + two * s * series


def _linear_layers(state: dict) -> list[tuple[np.ndarray, np.ndarray]]:
    """``encoder_y``'s linear layers from a model's state (name -> array), as float32 ``(in, out)`` weights.

    The SSVAE's classifier is Linear, Softplus, ..., Linear (``encoder_y.layers.0``,
    ``.2``, ...): the linear layers sit at the even positions.
    """
    positions = sorted(int(key.split(".")[2]) for key in state
                       if key.startswith("encoder_y.layers.") and key.endswith(".weight"))
    if not positions or positions != list(range(0, 2 * len(positions), 2)):
        raise ValueError(f"encoder_y's linear layers are not at positions 0, 2, 4, ...: {positions}")
    layers = []
    for position in positions:
        weight = np.asarray(state[f"encoder_y.layers.{position}.weight"], dtype=np.float32)
        bias = np.asarray(state[f"encoder_y.layers.{position}.bias"], dtype=np.float32)
        layers.append((np.ascontiguousarray(weight.T), bias.copy()))
    if layers[-1][0].shape[1] != 1:
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
                 table: str | ElementTable = "paper", name: str = "", member_digests=None):
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
        self.element_table, self.properties, self.enthalpy = table_arrays(table)
        self.name = name or f"{len(layers)} member(s), table {self.table}"
        if member_digests is not None and len(member_digests) != len(layers):
            raise ValueError(f"{len(member_digests)} member digests for {len(layers)} members")
        self.member_digests = None if member_digests is None else list(member_digests)

    # -- construction ---------------------------------------------------------
    @classmethod
    def from_states(cls, states, tables, temperature: float = 1.0, table: str | ElementTable | None = None,
                    name: str = "") -> "Scorer":
        """From models' states (name -> numpy array, as an SSVAE's ``state_dict``) and their tables.

        ``table`` defaults to the models' own; the identity is the one every
        predictor of these models has (:func:`hea_dvae.identity.predictor_identity`).
        """
        states, tables = list(states), list(tables)
        if not states or len(states) != len(tables):
            raise ValueError(f"{len(states)} model states for {len(tables)} tables; give one of each per model")
        if table is None:
            if len(set(tables)) > 1:
                raise ValueError(f"the models use different element tables {sorted(set(tables))}; pass table=")
            table = tables[0]
        layers = [_linear_layers(state) for state in states]
        mean = np.stack([np.asarray(state["feature_mean"], dtype=float) for state in states])
        std = np.stack([np.asarray(state["feature_std"], dtype=float) for state in states])
        # Read with another table than their own, the same weights are another predictor.
        digests = [state_digest(state.items()) + ("" if own == _table_name(table) else f"@{_table_name(table)}")
                   for state, own in zip(states, tables)]
        return cls(layers, mean, std, temperature=temperature, table=table, name=name, member_digests=digests)

    @classmethod
    def from_models(cls, models, temperature: float = 1.0, table: str | ElementTable | None = None,
                    name: str = "") -> "Scorer":
        """From trained SSVAEs; ``table`` defaults to their ``config.table``."""
        models = list(models)
        if not models:
            raise ValueError("no models given")
        states = [{key: value.detach().cpu().contiguous().numpy() for key, value in m.state_dict().items()}
                  for m in models]
        return cls.from_states(states, [m.config.table for m in models], temperature, table, name)

    @classmethod
    def from_checkpoints(cls, folders, temperature: float = 1.0, name: str = "") -> "Scorer":
        """From checkpoint folders (:mod:`hea_dvae.checkpoint`), read with numpy alone (no torch).

        The identity is that of the same models loaded as an Ensemble.
        """
        read = [read_state(folder) for folder in folders]
        return cls.from_states([state for state, _ in read], [description["table"] for _, description in read],
                               temperature=temperature, name=name)

    @classmethod
    def from_predictor(cls, predictor, temperature: float | None = None,
                       table: str | ElementTable | None = None) -> "Scorer":
        """A Scorer from a Scorer, any predictor made of SSVAEs (an Ensemble, one SSVAE) or a list of SSVAEs.

        ``temperature`` and ``table`` override the predictor's own.
        """
        if isinstance(predictor, Scorer):
            if temperature is not None or table is not None:
                raise ValueError("a Scorer already fixes its temperature and table")
            return predictor
        if isinstance(predictor, Differentiable):
            return cls.from_models(predictor.members,
                                   temperature=predictor.temperature if temperature is None else temperature,
                                   table=predictor.table if table is None else table, name=predictor.name)
        models = list(predictor) if isinstance(predictor, (list, tuple)) else None
        if not models or not all(isinstance(m, Differentiable) for m in models):
            raise TypeError("predictor must be a Scorer, an Ensemble, an SSVAE or a list of SSVAEs, "
                            f"got {type(predictor).__name__}")
        return cls.from_models(models, temperature=1.0 if temperature is None else temperature, table=table)

    # -- the predictor protocol, identity and pickling ---------------------------
    @property
    def n_members(self) -> int:
        return len(self.layers)

    @property
    def table(self) -> str:
        """Name of the element table the features are computed with."""
        return self.element_table.name

    #: Names of the columns :meth:`featurize` returns.
    features = FEATURES

    def member(self, index: int) -> "Scorer":
        """Member ``index`` alone, with the same temperature and table."""
        digests = None if self.member_digests is None else self.member_digests[index:index + 1]
        return Scorer(self.layers[index:index + 1], self.feature_mean[index], self.feature_std[index],
                      temperature=self.temperature, table=self.element_table, name=f"{self.name}, member {index}",
                      member_digests=digests)

    @property
    def identity(self) -> str:
        """:func:`~hea_dvae.model.predictor_identity` of the models it was built from.

        A scorer made of bare arrays (no models) hashes its weights, scalers,
        temperature and element table instead.
        """
        if self.member_digests is not None:
            return predictor_identity(self.member_digests, self.temperature)
        digest = hashlib.sha256()
        digest.update(repr((self.temperature, self.table)).encode())
        for array in (self.properties, self.enthalpy, self.feature_mean, self.feature_std):
            digest.update(np.ascontiguousarray(array).tobytes())
        for member in self.layers:
            for weight, bias in member:
                digest.update(repr(weight.shape).encode())
                digest.update(weight.tobytes())
                digest.update(bias.tobytes())
        return digest.hexdigest()

    def _augmented(self) -> list[list[np.ndarray]]:
        # Each layer's bias as the last row of its weights: inputs carry a
        # column of ones, so one matrix product does both (no bias pass).
        return [[np.vstack([w, b[None, :]]) for w, b in member] for member in self.layers]

    # -- scoring ----------------------------------------------------------------
    def featurize(self, x) -> np.ndarray:
        """Features of dense compositions (n, 30) with this scorer's table."""
        return featurize(np.asarray(x, dtype=float), table=self.element_table)

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

    def member_logits(self, e, chunk: int = DEFAULT_CHUNK, compiled: bool = False) -> np.ndarray:
        """Logits of every member, float64 array (n_members, n), from raw features (n, 8).

        The networks run in float32 on consecutive chunks of ``chunk`` rows
        (the first starting at row 0): a row's result depends only on its
        chunk's rows.
        """
        inputs = self.standardize(e)
        return self.logits_from_standardized(inputs, chunk, compiled)

    def logits_from_standardized(self, inputs: list[np.ndarray], chunk: int = DEFAULT_CHUNK,
                                 compiled: bool = False) -> np.ndarray:
        """Member logits (n_members, n) from :meth:`standardize`'s arrays."""
        n = inputs[0].shape[1]
        logits = np.empty((self.n_members, n))
        chunk = max(1, min(int(chunk), n)) if n else 1
        # One BLAS thread: parallelism comes from running batches side by side.
        # exp() overflows to inf for large activations, which the softplus kernel reads as intended.
        with threadpool_limits(1, user_api="blas"), np.errstate(over="ignore"):
            _forward(self._augmented(), self.scaler_groups, inputs, logits, chunk, compiled)
        return logits

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

    def member_probabilities(self, e, chunk: int = DEFAULT_CHUNK, compiled: bool = False) -> np.ndarray:
        """sigmoid(logit / temperature) of every member, (n_members, n); ``compiled``: see :func:`softplus_from_exp`."""
        return self._probabilities(self.member_logits(e, chunk, compiled))[1]

    def predict_proba(self, e, chunk: int = DEFAULT_CHUNK) -> np.ndarray:
        """Mean member probability of a single phase, (n,)."""
        return self._probabilities(self.member_logits(e, chunk))[0]

    def predict_spread(self, e, chunk: int = DEFAULT_CHUNK) -> np.ndarray:
        """Standard deviation over members (ddof 0), (n,); NaN (not available) with one member."""
        return spread_of(self.member_probabilities(e, chunk))

    def __repr__(self) -> str:
        return f"Scorer({self.name!r}, members={self.n_members}, temperature={self.temperature:g})"


def _forward(weights, groups, inputs: list[np.ndarray], logits: np.ndarray, chunk: int, compiled: bool) -> None:
    """Every member's network on every chunk of the standardised features, into ``logits`` (in place)."""
    n = logits.shape[1]
    # One set of buffers per call, none per chunk: (chunk, width) pre-activations
    # and their exp, and (chunk, width + 1) activations whose last column is 1.
    buffers = {}
    for layers in weights:
        for weight in layers[:-1]:
            width = weight.shape[1]
            if width not in buffers:
                buffers[width] = (np.empty((chunk, width), np.float32), np.empty((chunk, width), np.float32),
                                  np.ones((chunk, width + 1), np.float32))
    final = {layers[-1].shape[1]: np.empty((chunk, layers[-1].shape[1]), np.float32) for layers in weights}
    for group_inputs, (_, _, members) in zip(inputs, groups):
        for member in members:
            layers = weights[member]
            out = logits[member]
            for start in range(0, n, chunk):
                # (rows, 9) view of the feature-major array; BLAS reads it transposed.
                h = group_inputs[:, start:start + chunk].T
                rows = h.shape[0]
                for weight in layers[:-1]:
                    linear, growth, activated = (b[:rows] for b in buffers[weight.shape[1]])
                    np.matmul(h, weight, out=linear)
                    # Below -87 exp() underflows to a denormal, which is slow;
                    # exp(-87) is still a normal float and moves softplus by < 2e-38.
                    np.maximum(linear, np.float32(-87.0), out=growth)
                    np.exp(growth, out=growth)
                    softplus_from_exp(linear, growth, activated, compiled)
                    h = activated
                result = final[layers[-1].shape[1]][:rows]
                np.matmul(h, layers[-1], out=result)
                out[start:start + rows] = result[:, 0]


def _table_name(table) -> str:
    return table if isinstance(table, str) else table.name
