"""Running a screen's batches: in this thread, on local threads or processes, or on Dask.

A batch is generated, featurised, scored and reduced to its own top-N and
histograms (:func:`run_batch`); partial results are merged exactly (integer
histograms, a total order on the top-N), so every backend gives the same
result.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass
from multiprocessing import get_context

import numpy as np

from ...elements import ELEMENTS, FEATURES
from ...workers import dask_client, import_distributed
from .scorer import Scorer
from .space import FAMILIES, FAMILY_NAMES, _FAMILY_OF, _Batch, _piece_blocks
from .sparse import feature_columns
from .state import _Top

#: Probabilities a screen counts the alloys above (mean and each member).
THRESHOLDS = (0.5, 0.9)

#: The backends a screen runs batches on.
BACKENDS = ("serial", "threads", "processes", "dask")

@dataclass(frozen=True)
class _Settings:
    top: int
    bins: int
    chunk: int
    total: int | None
    compiled: bool = False  # the compiled softplus (same bits as the numpy one)


@dataclass(eq=False)
class _BatchResult:
    index: int
    rows: int
    weight: float
    top: _Top
    hist_size: np.ndarray  # (31, bins)
    hist_family: np.ndarray  # (len(FAMILY_NAMES), bins)
    hist_element: np.ndarray  # (30, bins)
    member_size: np.ndarray  # (members, 31): alloys each member puts above 0.5, by number of elements
    member_family: np.ndarray  # (members, families): the same, by family
    above: np.ndarray  # (1 + members, thresholds): alloys above each threshold, by the mean, then by each member


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
    bins = settings.bins
    if not batch.rows:
        return _BatchResult(batch.index, 0, batch.weight, _Top.empty(scorer.n_members),
                            *_empty_histograms(scorer.n_members, bins),
                            np.zeros((scorer.n_members + 1, len(THRESHOLDS)), dtype=np.int64))
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
        columns = feature_columns(sets[:, None, :], grid.fractions[None, :, :], grid.entropy[None, :],
                                   scorer.properties, scorer.enthalpy)
        for j, column in enumerate(columns):
            for group, (mean, std, _) in zip(inputs, groups):
                group[j, begin:end] = ((column - mean[j]) / std[j]).reshape(-1)
    p, members, logit = scorer._probabilities(scorer.logits_from_standardized(inputs, settings.chunk,
                                                                              settings.compiled))

    histograms = _histograms(blocks, offsets, p, members, bins)
    # Row 0 the ensemble's mean, then each member: a member's share needs no screen of its own.
    above = np.array([[(scores > t).sum() for t in THRESHOLDS] for scores in (p, *members)], dtype=np.int64)

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
        e[rows] = np.stack(feature_columns(elements, fractions, None, scorer.properties, scorer.enthalpy), axis=-1)
    top = _Top(ids[chosen], p[chosen], logit[chosen], members[:, chosen].T.copy(), x, e)
    return _BatchResult(batch.index, len(p), batch.weight, top, *histograms, above)


def _empty_histograms(n_members: int, bins: int) -> tuple[np.ndarray, ...]:
    return (np.zeros((len(ELEMENTS) + 1, bins), dtype=np.int64), np.zeros((len(FAMILY_NAMES), bins), dtype=np.int64),
            np.zeros((len(ELEMENTS), bins), dtype=np.int64), np.zeros((n_members, len(ELEMENTS) + 1), dtype=np.int64),
            np.zeros((n_members, len(FAMILY_NAMES)), dtype=np.int64))


def _histograms(blocks, offsets, p: np.ndarray, members: np.ndarray, bins: int) -> tuple[np.ndarray, ...]:
    """Alloys per bin of p by size, family and element; alloys each member puts above 0.5, by size and family."""
    hist_size, hist_family, hist_element, member_size, member_family = _empty_histograms(len(members), bins)
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
        member_above = members[:, begin:end] > 0.5
        member_size[:, k] += member_above.sum(axis=1)
        for family in range(len(FAMILY_NAMES)):
            member_family[:, family] += (member_above & (dominant.ravel() == family)).sum(axis=1)
        if b.shape[1] >= 32:
            per_set = np.bincount((np.arange(len(sets))[:, None] * bins + b).ravel(),
                                  minlength=len(sets) * bins).reshape(len(sets), bins)
            np.add.at(hist_element, sets.ravel(), np.repeat(per_set, sets.shape[1], axis=0))
        else:
            for j in range(sets.shape[1]):
                hist_element += np.bincount((sets[:, j][:, None] * bins + b).ravel(),
                                            minlength=hist_element.size).reshape(hist_element.shape)
    return hist_size, hist_family, hist_element, member_size, member_family


# Worker processes receive the scorer once, when they start.
_PROCESS_SCORER: Scorer | None = None

_PROCESS_SETTINGS: _Settings | None = None


def _init_process(scorer: Scorer, settings: _Settings) -> None:
    global _PROCESS_SCORER, _PROCESS_SETTINGS
    _PROCESS_SCORER, _PROCESS_SETTINGS = scorer, settings


def _run_batch_in_process(batch: _Batch) -> _BatchResult:
    return _run_batch(batch, _PROCESS_SCORER, _PROCESS_SETTINGS)


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
            # The optional heavy dependency, only when asked for.
            distributed = import_distributed("screening")
            if scheduler is not None:
                self._client, self._owns_client = dask_client(scheduler, "screening")
            else:
                # CRITICAL: workers log a harmless heartbeat error when the cluster closes.
                self._cluster = distributed.LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True,
                    dashboard_address=None, silence_logs=logging.CRITICAL)
                self._client, self._owns_client = distributed.Client(self._cluster), True
            self.window = 2 * max(1, sum(self._client.nthreads().values()))
            self._scorer_future = self._client.scatter(scorer, broadcast=True)
            self._distributed = distributed
        elif backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")

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
