"""The space a screen enumerates: element sets times composition grids, in one fixed order.

Alloys are numbered in one order (number of elements, then element set in
lexicographic order, then grid point in lexicographic order) and cut into
batches of consecutive alloys; :func:`count_space` gives the size in closed
form, by the generating function of :func:`hea_dvae.compositions.size_counts`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator

import numpy as np

from ...compositions import count_bounded, size_counts
from ...elements import ELEMENTS, ENTROPY_EPS, GAS_CONSTANT
from ..constraints import Constraints

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

_SMALL_GRID = 4096


def paper_space() -> Constraints:
    """The paper's screen: equimolar alloys of 4 and 5 of the 30 elements (169,911)."""
    return Constraints(n_elements=(4, 5))


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
    count = count_bounded(lower, upper, total)
    stop = min(stop, count)
    if start >= stop:
        return np.zeros((0, k), dtype=np.int32)
    if stop - start == count or count <= _SMALL_GRID or k == 1:
        return _grid_all(lower, upper, total)[start:stop]
    parts, offset = [], 0
    first_low = max(lower[0], total - sum(upper[1:]))
    first_high = min(upper[0], total - sum(lower[1:]))
    for value in range(first_low, first_high + 1):
        size = count_bounded(lower[1:], upper[1:], total - value)
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
            count = count_bounded(tuple(lower[0]), tuple(upper[0]), self.total)
            return lower, upper, np.full(len(sets), count, dtype=np.int64)
        counts = np.array([count_bounded(tuple(lo), tuple(hi), self.total) for lo, hi in zip(lower, upper)],
                          dtype=np.int64)
        return lower, upper, counts

    def set_block_size(self, k: int, batch_size: int) -> int:
        if self.equimolar:
            return batch_size
        lower = tuple([int(self.lower_units[self.optional].min(initial=1))] * k)
        upper = tuple([int(self.upper_units[self.optional].max(initial=self.total))] * k)
        per_set = max(1, count_bounded(lower, upper, self.total))
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
    generating function of :func:`hea_dvae.compositions.size_counts`, which
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
