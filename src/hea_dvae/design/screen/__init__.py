r"""Screening every alloy of a constrained space with a trained predictor.

The space is every alloy that :class:`~hea_dvae.design.constraints.Constraints`
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
  bias rides on a column of ones) and a softplus compiled for the CPU
  (:mod:`.kernels`, LLVM through llvmlite) that needs one ``exp`` and no logarithm (softplus was three quarters of the
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
(``ddof=0``; NaN, not available, with one member), as in
:class:`hea_dvae.predictors.Ensemble`.

Speed (2-core Xeon, ``benchmarks/bench_screen.py``): the paper's equimolar
screen runs at about 1.3 million alloys per second on one core (the dense
``featurize`` + ``predict_proba`` path: 0.25 million) and takes under 3 s
as a whole process, most of it imports. The 5.5e8-alloy grid takes about
2.5 minutes on two worker processes with one member and 9-10 minutes with
five (3 and 12 minutes on two threads).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ...checks import integer
from ...compositions import formula_from_vector
from ...config import show_progress
from ...elements import ELEMENTS, FEATURES
from ...files import write_file
from ..constraints import ConstraintError, Constraints, as_constraints
from .runners import BACKENDS, _available_cores, _Runner, _Settings
from .scorer import DEFAULT_CHUNK, Scorer
from .space import (
    DEFAULT_BATCH_SIZE,
    FAMILIES,
    FAMILY_NAMES,
    _Space,
    count_element_sets,
    count_space,
    iter_compositions,
    paper_space,
)
from .sparse import sparse_features
from .state import ScreenStateError, _State, _Top

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

#: Below this many alloys ``workers=None`` runs in the calling thread.
AUTO_PARALLEL_ALLOYS = 2_000_000
#: From this many alloys times members on, the screen runs the compiled softplus
#: kernel (same results; tens of times faster than numpy, after a tenth of a
#: second to compile).
COMPILED_FROM = 10_000


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
        ``share_above_0.5`` (also 0.9), ``member_shares_above_0.5`` (also
        0.9: each member's own share), ``seconds`` (over all sessions of a
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
    member_counts: dict = field(default_factory=dict)

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

    def member_shares(self, by: str = "n_elements") -> pd.DataFrame:
        """Share of alloys each member alone scores above 0.5, per group (one row per member).

        ``by`` is ``"n_elements"`` or ``"family"``: how much a group's share
        depends on the training run, without screening each member again.
        """
        if by not in ("n_elements", "family"):
            raise ValueError(f"by must be 'n_elements' or 'family', got {by!r}")
        totals = self.histograms[by].sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.member_counts[by][totals.index] / totals

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
    constraints = paper_space() if constraints is None else as_constraints(constraints)
    for name, value in (("top", top), ("batch_size", batch_size), ("chunk", chunk), ("bins", bins)):
        integer(name, value, 1)
    if annotate is not None and not callable(annotate):
        raise TypeError(f"annotate must be callable, got {type(annotate).__name__}")
    if scheduler is not None:
        backend = "dask"
    if backend not in ("auto", *BACKENDS):
        raise ValueError(f"backend must be one of {('auto', *BACKENDS)}, got {backend!r}")
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
    workers = integer("workers", workers, 1)
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
    # The compiled softplus pays for its tenth of a second to compile from some ten thousand alloys on.
    settings = _Settings(int(top), int(bins), chunk, space.total,
                         compiled=expected * scorer.n_members >= COMPILED_FROM)

    if not state.complete:
        _run_batches(space, state, state_path, _Runner(backend, workers, scorer, settings, scheduler), backend,
                     batch_size, expected, int(top), checkpoint_seconds, max_batches, max_seconds, progress)

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
        "alloys_above_0.5": int(state.above[0, 0]),
        "share_above_0.5": state.above[0, 0] / rows if rows else float("nan"),
        "alloys_above_0.9": int(state.above[0, 1]),
        "share_above_0.9": state.above[0, 1] / rows if rows else float("nan"),
        # Each member alone: how much the share depends on the training run.
        "member_shares_above_0.5": (state.above[1:, 0] / rows).tolist() if rows else [],
        "member_shares_above_0.9": (state.above[1:, 1] / rows).tolist() if rows else [],
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
        "table": scorer.table,
    }
    member_counts = {
        "n_elements": pd.DataFrame(state.member_size[:, list(space.sizes)], columns=list(space.sizes)),
        "family": pd.DataFrame(state.member_family, columns=list(FAMILY_NAMES)),
    }
    return ScreenResult(frame, summary, _histogram_frames(state, space.sizes), constraints,
                        member_counts=member_counts)


def _run_batches(space, state: _State, state_path, runner: _Runner, backend: str, batch_size: int, expected: int,
                 top: int, checkpoint_seconds: float, max_batches, max_seconds, progress) -> None:
    """Run the batches not yet done, merging their results into ``state`` (saved as it goes)."""
    session_start = last_save = time.perf_counter()
    stopped = False
    # Counted in alloys (integers): summed fractions of element sets overshoot the total.
    bar = tqdm(total=expected, unit="alloys", unit_scale=True, desc="screen",
               disable=not show_progress(progress), file=sys.stderr)
    pending: set = set()
    submitted = 0
    batches = space.batches(batch_size)
    try:
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
                state.add(result, top)
                bar.update(result.rows)
            now = time.perf_counter()
            if state_path is not None and now - last_save >= checkpoint_seconds:
                state.seconds += now - last_save
                last_save = now
                state.save(state_path)
        state.complete = exhausted and not pending
    except BaseException:
        # Keep what was merged: a rerun continues from it.
        runner.close(cancel=True)
        if state_path is not None:
            state.seconds += time.perf_counter() - last_save
            state.save(state_path)
        raise
    else:
        runner.close()
    finally:
        bar.close()
    state.seconds += time.perf_counter() - last_save
    if state_path is not None:
        state.save(state_path)
