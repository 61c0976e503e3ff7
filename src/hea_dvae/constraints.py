"""What a designed alloy may contain: one specification for every design route.

The screen (:mod:`hea_dvae.screen`), latent decoding and gradient inversion
all read the same :class:`Constraints`: which elements are allowed,
forbidden or required, how many elements an alloy has, the fraction every
present element may take, and the grid step compositions are rounded to.
Fractions are atomic fractions (0.05 = 5 at.%), never at.%.

Written in a YAML file (or the same keys in TOML)::

    # 4- and 5-element alloys from a pool of ten, each element 5-35 at.%
    elements: [Fe, Ni, Co, Cr, Mn, Al, Cu, Ti, V, Mo]
    forbidden: [Cu]
    required: [Ni]
    n_elements: [4, 5]
    min_fraction: 0.05
    max_fraction: 0.35
    bounds:
      Al: [0.05, 0.15]      # Al, where present, between 5 and 15 at.%
    step: 0.05              # compositions on a 5 at.% grid

and read with ``Constraints.from_file("design.yaml")``. Every key is
optional; an unknown key is an error. On the command line the same keys come
as strings (``"Fe Ni Co"``, ``"4,5"`` or ``"4-6"``, ``"Al=0.05:0.15"``) and
go through :meth:`Constraints.from_mapping`.

Rules
-----
* The pool is ``elements`` minus ``forbidden``; ``required`` elements must
  be in it and are present in every alloy.
* ``min_fraction``/``max_fraction`` apply to every present element;
  ``bounds`` narrows them for single elements (a bound does not make an
  element required: list it in ``required`` for that). Absent elements
  have fraction 0 whatever the bounds.
* ``step`` (``1/n``, e.g. 0.05 or 0.01): every fraction is a multiple of
  it, so a present element holds at least one step. The bounds must be
  multiples of the step. Without a step, compositions are continuous (and
  the screen enumerates equimolar alloys).
* Construction fails, naming the value, when the specification is
  contradictory or admits no alloy at all (e.g. five elements of at least
  25 at.% each cannot sum to 100 %).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import tomllib
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import yaml

from .elements import ELEMENTS

_INDEX = {symbol: i for i, symbol in enumerate(ELEMENTS)}
_ALL = " ".join(ELEMENTS)
_SPLIT = re.compile(r"[\s,;]+")
# Fractions read from text (0.05, 0.35) are compared to the grid with this slack.
_GRID_TOL = 1e-9
# The exact feasibility check of continuous bounds works on a grid this fine at most.
_MAX_FEASIBILITY_UNITS = 200_000


class ConstraintError(ValueError):
    """A constraint specification that is malformed, contradictory or admits no alloy."""


#: Longest constraint file read (characters); a real one is a few hundred.
MAX_FILE_CHARACTERS = 100_000


class _ConstraintLoader(yaml.SafeLoader):
    """YAML as constraint files need it: element symbols stay text, no aliases.

    YAML 1.1 reads ``NO``, ``Y``, ``on`` and ``off`` as booleans, so
    ``elements: [NO]`` would become ``[False]``; here only ``true`` and
    ``false`` are booleans (as in YAML 1.2). Aliases are refused: a file of
    nested aliases ("billion laughs") would expand without bound.
    """

    yaml_implicit_resolvers = {
        first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:bool"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise ConstraintError(f"YAML aliases (*{event.anchor}) are not allowed in a constraint file "
                                  f"(line {event.start_mark.line + 1})")
        return super().compose_node(parent, index)


_ConstraintLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def _symbols(name: str, value) -> tuple[str, ...]:
    """Symbols in :data:`ELEMENTS` order, from a list or a string like ``"Fe Ni,Co"``."""
    if value is None:
        return ()
    if isinstance(value, str):
        items = [s for s in _SPLIT.split(value.strip()) if s]
        # "FeNiCo" written without separators.
        if len(items) == 1 and items[0] not in _INDEX and re.fullmatch(r"([A-Z][a-z]?)+", items[0]):
            items = re.findall(r"[A-Z][a-z]?", items[0])
    else:
        try:
            items = list(value)
        except TypeError:
            raise ConstraintError(f"{name} must be a list of element symbols, got {value!r}") from None
    unknown = []
    for item in items:
        if not isinstance(item, str) or item not in _INDEX:
            unknown.append(item)
    if unknown:
        hints = []
        for item in unknown:
            match = next((s for s in ELEMENTS if isinstance(item, str) and s.lower() == item.lower()), None)
            if match:
                hints.append(f"{item!r} (did you mean {match!r}?)")
            else:
                hints.append(repr(item))
        raise ConstraintError(
            f"{name}: {', '.join(hints)} not among the 30 supported elements ({_ALL})"
        )
    chosen = set(items)
    return tuple(s for s in ELEMENTS if s in chosen)


def _fraction(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating, str)):
        raise ConstraintError(f"{name} must be a number, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise ConstraintError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number) or number < 0:
        raise ConstraintError(f"{name} must be a fraction between 0 and 1, got {value!r}")
    if number > 1:
        raise ConstraintError(
            f"{name} = {value!r} is above 1: fractions are atomic fractions, "
            f"not at.% (write 0.05 for 5 at.%)"
        )
    return number


def _sizes(value) -> tuple[int, ...] | None:
    """``n_elements`` from an int, a list of ints, ``"4,5"`` or ``"4-6"``."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        items: list = []
        for part in (p for p in _SPLIT.split(text) if p):
            if re.fullmatch(r"\d+\s*-\s*\d+", part):
                low, high = (int(v) for v in part.split("-"))
                if low > high:
                    raise ConstraintError(f"n_elements: range {part!r} runs backwards")
                items.extend(range(low, high + 1))
            else:
                items.append(part)
    elif isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        items = [value]
    else:
        try:
            items = list(value)
        except TypeError:
            raise ConstraintError(f"n_elements must be an integer or a list of integers, got {value!r}") from None
    sizes = []
    for item in items:
        try:
            number = int(item)
        except (TypeError, ValueError):
            number = None
        if number is None or isinstance(item, bool) or number != float(item) or number < 1:
            raise ConstraintError(f"n_elements must hold positive integers, got {item!r} in {value!r}")
        sizes.append(number)
    if not sizes:
        raise ConstraintError(f"n_elements is empty ({value!r}); leave it out to allow any number")
    return tuple(sorted(set(sizes)))


def _parse_bounds(value) -> dict[str, tuple[float, float]]:
    """Per-element bounds from a mapping or from strings like ``"Al=0.05:0.15"``."""
    if value is None:
        return {}
    if isinstance(value, str):
        value = [p for p in _SPLIT.split(value.strip()) if p]
    if not isinstance(value, Mapping):
        try:
            items = list(value)
        except TypeError:
            raise ConstraintError(f"bounds must map element -> (min, max), got {value!r}") from None
        parsed = {}
        for item in items:
            match = re.fullmatch(r"([A-Za-z]+)\s*[=:]\s*([^:]+):([^:]+)", str(item).strip())
            if not match:
                raise ConstraintError(
                    f"bounds: cannot read {item!r}; write element=min:max, e.g. 'Al=0.05:0.15'"
                )
            parsed[match.group(1)] = (match.group(2), match.group(3))
        value = parsed
    bounds = {}
    for symbol, pair in value.items():
        _symbols("bounds", [symbol])
        if isinstance(pair, str) or not hasattr(pair, "__len__") or len(pair) != 2:
            raise ConstraintError(f"bounds[{symbol}] must be a pair (min, max), got {pair!r}")
        low = _fraction(f"bounds[{symbol}] minimum", pair[0])
        high = _fraction(f"bounds[{symbol}] maximum", pair[1])
        if low > high:
            raise ConstraintError(f"bounds[{symbol}]: minimum {low:g} is above maximum {high:g}")
        if high == 0:
            raise ConstraintError(f"bounds[{symbol}] = (0, 0) leaves no room; list {symbol} in forbidden instead")
        bounds[symbol] = (low, high)
    return {s: bounds[s] for s in ELEMENTS if s in bounds}


def _is_multiple(value: float, step: float) -> bool:
    return abs(value / step - round(value / step)) <= _GRID_TOL * max(1.0, value / step)


def _common_denominator(values: Iterable[float]) -> int | None:
    """Smallest D with every value a multiple of 1/D (values read as short decimals)."""
    denominator = 1
    for value in values:
        fraction = Fraction(value).limit_denominator(10**6)
        if abs(float(fraction) - value) > 1e-12:
            return None
        denominator = math.lcm(denominator, fraction.denominator)
        if denominator > _MAX_FEASIBILITY_UNITS:
            return None
    return denominator


def size_counts(lower, upper, required, total: int, max_size: int, exact: bool = True) -> np.ndarray:
    """Number of integer compositions by number of elements, by a generating function.

    Each element ``i`` with ``upper[i] > 0`` may be absent (0 units) or
    present with ``lower[i]..upper[i]`` units (``lower[i] >= 1``); required
    elements must be present. The count of alloys with ``s`` elements summing
    to ``total`` units is the coefficient of :math:`a^s t^{total}` in
    :math:`\\prod_{required} a P_i(t) \\prod_{optional} (1 + a P_i(t))`, with
    :math:`P_i(t) = t^{l_i} + \\dots + t^{u_i}`.

    Parameters
    ----------
    lower, upper : sequence of int
        Units per present element, one entry per pool element.
    required : sequence of bool
        Which pool elements must be present.
    total : int
        Units an alloy holds (``1/step``).
    max_size : int
        Largest number of elements counted.
    exact : bool
        Exact Python integers, or only whether the count is non-zero
        (booleans; fast on fine grids).

    Returns
    -------
    numpy.ndarray
        Shape (max_size + 1,): entry ``s`` counts the alloys of ``s`` elements.
    """
    # Exact counts need Python integers (they overflow int64 on fine grids);
    # telling zero from non-zero only needs reachability, counted in int64.
    dtype = object if exact else bool
    poly = np.zeros((max_size + 1, total + 1), dtype=dtype)
    poly[0, 0] = 1
    t = np.arange(total + 1)
    for low, high, must in zip(lower, upper, required):
        high = min(int(high), total)
        low = int(low)
        if low > high:
            if must:
                return np.zeros(max_size + 1, dtype=dtype)
            continue
        # Sum over the element's units u in [low, high] of poly[s-1, t-u], by prefix sums over t.
        counts = poly if exact else poly.astype(np.int64)
        prefix = np.concatenate([np.zeros((max_size + 1, 1), dtype=counts.dtype), np.cumsum(counts, axis=1)], axis=1)
        window = prefix[:, np.clip(t - low + 1, 0, total + 1)] - prefix[:, np.clip(t - high, 0, total + 1)]
        present = np.zeros_like(poly)
        present[1:] = window[:-1] if exact else window[:-1] > 0
        poly = present if must else (poly + present if exact else poly | present)
    return poly[:, total]


@dataclass(frozen=True)
class Constraints:
    """Which alloys a design route may propose.

    Parameters
    ----------
    elements : sequence of str
        Allowed pool (default: all 30 of :data:`hea_dvae.elements.ELEMENTS`).
    forbidden : sequence of str
        Never present (removed from the pool).
    required : sequence of str
        Present in every alloy.
    n_elements : int or sequence of int, optional
        Allowed numbers of elements, e.g. ``(4, 5)``; ``None`` allows any
        number that the other constraints permit.
    max_elements : int, optional
        At most this many elements.
    min_fraction, max_fraction : float
        Range of the fraction of every present element (a present element
        always has a fraction above zero).
    bounds : mapping of str to (float, float)
        Narrower range for single elements, where present.
    step : float, optional
        Grid step ``1/n`` of every fraction; ``None`` for continuous
        compositions.

    Raises
    ------
    ConstraintError
        A subclass of ValueError; the message names the value at fault.
    """

    elements: tuple[str, ...] = ELEMENTS
    forbidden: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    n_elements: tuple[int, ...] | None = None
    max_elements: int | None = None
    min_fraction: float = 0.0
    max_fraction: float = 1.0
    bounds: dict = field(default_factory=dict)
    step: float | None = None

    # -- construction and validation ---------------------------------------
    def __post_init__(self):
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen)
        set_("elements", _symbols("elements", self.elements))
        set_("forbidden", _symbols("forbidden", self.forbidden))
        set_("required", _symbols("required", self.required))
        set_("n_elements", _sizes(self.n_elements))
        set_("bounds", _parse_bounds(self.bounds))
        if self.max_elements is not None:
            try:
                max_elements = int(self.max_elements)
            except (TypeError, ValueError):
                max_elements = None
            if max_elements is None or isinstance(self.max_elements, bool) or max_elements < 1 \
                    or max_elements != float(self.max_elements):
                raise ConstraintError(f"max_elements must be a positive integer, got {self.max_elements!r}")
            set_("max_elements", max_elements)
        set_("min_fraction", _fraction("min_fraction", self.min_fraction))
        set_("max_fraction", _fraction("max_fraction", self.max_fraction))
        if self.step is not None:
            step = _fraction("step", self.step)
            if step <= 0:
                raise ConstraintError(f"step must be above 0 (e.g. 0.05), got {self.step!r}")
            set_("step", step)
        self._validate()

    def _validate(self) -> None:
        if not self.elements:
            raise ConstraintError("elements is empty: allow at least one element")
        both = sorted(set(self.forbidden) & set(self.required), key=_INDEX.get)
        if both:
            raise ConstraintError(f"{' '.join(both)} both forbidden and required")
        outside = [s for s in self.required if s not in self.elements]
        if outside:
            raise ConstraintError(
                f"required {' '.join(outside)} not in the allowed elements ({' '.join(self.elements)})"
            )
        pool = self.pool()
        if not pool:
            raise ConstraintError(
                f"no element left: elements {' '.join(self.elements)} are all forbidden"
            )
        for symbol in self.bounds:
            if symbol not in pool:
                reason = "forbidden" if symbol in self.forbidden else "not in the allowed elements"
                raise ConstraintError(f"bounds given for {symbol}, which is {reason}")
        if self.min_fraction > self.max_fraction:
            raise ConstraintError(
                f"min_fraction {self.min_fraction:g} is above max_fraction {self.max_fraction:g}"
            )
        if self.max_fraction == 0:
            raise ConstraintError("max_fraction 0 leaves no room for any element")
        lower, upper = self.fraction_bounds()
        for symbol in pool:
            i = _INDEX[symbol]
            if lower[i] > upper[i]:
                raise ConstraintError(
                    f"{symbol}: bounds {self.bounds[symbol]} and min_fraction/max_fraction "
                    f"({self.min_fraction:g}, {self.max_fraction:g}) leave no room "
                    f"(minimum {lower[i]:g} above maximum {upper[i]:g})"
                )
        required_minimum = sum(lower[_INDEX[s]] for s in self.required)
        if required_minimum > 1 + _GRID_TOL:
            parts = ", ".join(f"{s} {lower[_INDEX[s]]:g}" for s in self.required)
            raise ConstraintError(
                f"the minimum fractions of the required elements sum to {required_minimum:g} > 1 ({parts})"
            )
        if self.step is not None:
            units = round(1 / self.step)
            if abs(units * self.step - 1) > _GRID_TOL:
                raise ConstraintError(
                    f"step {self.step:g} does not divide 100 %: use 1/n, e.g. 0.1, 0.05, 0.025 or 0.01"
                )
            named = [("min_fraction", self.min_fraction), ("max_fraction", self.max_fraction)]
            for symbol, (low, high) in self.bounds.items():
                named += [(f"bounds[{symbol}] minimum", low), (f"bounds[{symbol}] maximum", high)]
            off = [f"{name} {value:g}" for name, value in named if not _is_multiple(value, self.step)]
            if off:
                raise ConstraintError(
                    f"{', '.join(off)} not a multiple of step {self.step:g}: the grid could not reach it"
                )
        if self.n_elements is not None:
            for k in self.n_elements:
                if k > len(pool):
                    raise ConstraintError(
                        f"n_elements {k} is larger than the pool of {len(pool)} elements "
                        f"({' '.join(pool)})"
                    )
                if k < len(self.required):
                    raise ConstraintError(
                        f"n_elements {k} is smaller than the {len(self.required)} required elements "
                        f"({' '.join(self.required)})"
                    )
                if self.max_elements is not None and k > self.max_elements:
                    raise ConstraintError(f"n_elements {k} exceeds max_elements {self.max_elements}")
        elif self.max_elements is not None and self.max_elements < len(self.required):
            raise ConstraintError(
                f"max_elements {self.max_elements} is smaller than the {len(self.required)} "
                f"required elements ({' '.join(self.required)})"
            )
        feasible = self._feasible_sizes()
        candidates = self._candidate_sizes()
        if self.n_elements is not None:
            for k in self.n_elements:
                if not feasible.get(k, False):
                    raise ConstraintError(self._infeasible_message(k))
        elif not any(feasible.values()):
            raise ConstraintError(
                "no alloy satisfies the constraints: "
                + "; ".join(self._infeasible_message(k) for k in candidates[:3])
            )

    def _candidate_sizes(self) -> list[int]:
        if self.n_elements is not None:
            return list(self.n_elements)
        largest = len(self.pool()) if self.max_elements is None else min(self.max_elements, len(self.pool()))
        return list(range(max(1, len(self.required)), largest + 1))

    def _feasible_sizes(self) -> dict[int, bool]:
        """Whether some alloy of each candidate size sums to 100 % within the bounds."""
        # Cached in the instance dictionary (not a field: equality and the
        # fingerprint ignore it); the frozen dataclass blocks setattr only.
        cached = self.__dict__.get("_feasible")
        if cached is None:
            cached = self.__dict__["_feasible"] = self._compute_feasible_sizes()
        return cached

    def _compute_feasible_sizes(self) -> dict[int, bool]:
        candidates = self._candidate_sizes()
        if not candidates:
            return {}
        lower, upper = self.fraction_bounds()
        pool = [_INDEX[s] for s in self.pool()]
        required = [s in self.required for s in self.pool()]
        if self.step is not None:
            total = round(1 / self.step)
            low_units, high_units = self._units(lower[pool], upper[pool], total)
            counts = size_counts(low_units, high_units, required, total, max(candidates), exact=False)
            return {k: bool(counts[k]) for k in candidates}
        # Continuous bounds: on a grid where every bound is a whole number of units,
        # and fine enough that elements with no minimum can take a sliver, an alloy
        # exists exactly when one exists on the continuum.
        denominator = _common_denominator(np.concatenate([lower[pool], upper[pool]]))
        if denominator is None or denominator * len(pool) > _MAX_FEASIBILITY_UNITS:
            return {k: self._feasible_by_sums(k) for k in candidates}
        total = denominator * len(pool)
        low_units, high_units = self._units(lower[pool], upper[pool], total)
        counts = size_counts(low_units, high_units, required, total, max(candidates), exact=False)
        return {k: bool(counts[k]) for k in candidates}

    @staticmethod
    def _units(lower, upper, total):
        low = np.maximum(1, np.ceil(lower * total - _GRID_TOL * total)).astype(int)
        high = np.floor(upper * total + _GRID_TOL * total).astype(int)
        return low, high

    def _size_range(self, k: int) -> tuple[float, float]:
        """Smallest and largest total the fractions of k elements can reach."""
        lower, upper = self.fraction_bounds()
        required = [_INDEX[s] for s in self.required]
        optional = [_INDEX[s] for s in self.pool() if s not in self.required]
        n_free = k - len(required)
        smallest = lower[required].sum() + np.sort(lower[optional])[:n_free].sum()
        largest = upper[required].sum() + np.sort(upper[optional])[::-1][:n_free].sum()
        return float(smallest), float(largest)

    def _feasible_by_sums(self, k: int) -> bool:
        if k > len(self.pool()) or k < len(self.required):
            return False
        smallest, largest = self._size_range(k)
        return smallest <= 1 + _GRID_TOL and largest >= 1 - _GRID_TOL

    def _infeasible_message(self, k: int) -> str:
        smallest, largest = self._size_range(k)
        grid = f" on the {self.step:g} grid" if self.step is not None else ""
        if smallest > 1 + _GRID_TOL:
            why = (f"at their minimum fractions the elements already sum to {smallest:.4g} > 1 "
                   f"(e.g. {k} x min_fraction {self.min_fraction:g})")
        elif largest < 1 - _GRID_TOL:
            why = (f"at their maximum fractions the elements sum to at most {largest:.4g} < 1 "
                   f"(e.g. {k} x max_fraction {self.max_fraction:g})")
        else:
            why = "no choice of elements lets the fractions, within their bounds, sum to 1"
        return f"no {k}-element alloy can sum to 100 %{grid}: {why}"

    # -- alternative constructors and serialisation ------------------------
    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any], source: str = "constraints") -> "Constraints":
        """Constraints from a dictionary; ``None`` values mean "the default".

        Keys are the field names; values may be strings as typed on a command
        line. Unknown keys are an error (``source`` names where they came from).
        """
        if not isinstance(mapping, Mapping):
            raise ConstraintError(
                f"{source}: expected a mapping of constraint names to values, got {type(mapping).__name__}"
            )
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = [key for key in mapping if key not in known]
        if unknown:
            raise ConstraintError(
                f"{source}: unknown key(s) {', '.join(map(repr, unknown))}; known keys are {', '.join(known)}"
            )
        values = {key: value for key, value in mapping.items() if value is not None}
        for key in ("min_fraction", "max_fraction", "step"):
            if isinstance(values.get(key), str):
                values[key] = values[key].strip()
        if isinstance(values.get("max_elements"), str):
            try:
                values["max_elements"] = int(values["max_elements"])
            except ValueError:
                raise ConstraintError(
                    f"max_elements must be a positive integer, got {values['max_elements']!r}"
                ) from None
        return cls(**values)

    @classmethod
    def from_file(cls, path) -> "Constraints":
        """Constraints from a ``.yaml``/``.yml`` or ``.toml`` file (see the module docstring)."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".yaml", ".yml", ".toml"):
            raise ConstraintError(f"{path}: constraint files end in .yaml, .yml or .toml, not {suffix or 'nothing'!r}")
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConstraintError(f"constraint file {path} does not exist") from None
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or error
            raise ConstraintError(f"cannot read constraint file {path}: {reason}") from None
        if len(text) > MAX_FILE_CHARACTERS:
            raise ConstraintError(f"{path} holds {len(text):,} characters: too long for a constraint file")
        try:
            content = tomllib.loads(text) if suffix == ".toml" else yaml.load(text, Loader=_ConstraintLoader)
        except (tomllib.TOMLDecodeError, yaml.YAMLError) as error:
            raise ConstraintError(f"{path}: cannot parse: {error}") from None
        return cls.from_mapping(content or {}, source=str(path))

    def to_dict(self) -> dict:
        """Plain dictionary (lists, floats) that :meth:`from_mapping` reads back."""
        return {
            "elements": list(self.elements),
            "forbidden": list(self.forbidden),
            "required": list(self.required),
            "n_elements": None if self.n_elements is None else list(self.n_elements),
            "max_elements": self.max_elements,
            "min_fraction": self.min_fraction,
            "max_fraction": self.max_fraction,
            "bounds": {s: list(pair) for s, pair in self.bounds.items()},
            "step": self.step,
        }

    def updated(self, changes: Mapping[str, Any]) -> "Constraints":
        """A copy with ``changes`` applied; ``None`` values leave a field as it is.

        Handy for a file overridden by command-line options.
        """
        values = self.to_dict()
        values.update({key: value for key, value in changes.items() if value is not None})
        return self.from_mapping(values)

    def fingerprint(self) -> str:
        """Hex digest of :meth:`to_dict`: equal constraints, equal fingerprints."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()

    def __hash__(self) -> int:
        return hash(self.fingerprint())

    # -- queries -------------------------------------------------------------
    def pool(self) -> tuple[str, ...]:
        """Elements an alloy may contain (``elements`` minus ``forbidden``), in ELEMENTS order."""
        return tuple(s for s in self.elements if s not in self.forbidden)

    def pool_mask(self) -> np.ndarray:
        """Boolean (30,): which of :data:`ELEMENTS` are in the pool."""
        mask = np.zeros(len(ELEMENTS), dtype=bool)
        mask[[_INDEX[s] for s in self.pool()]] = True
        return mask

    def fraction_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper fraction of each element where present, shape (30,) each.

        Elements outside the pool get (0, 0).
        """
        lower = np.zeros(len(ELEMENTS))
        upper = np.zeros(len(ELEMENTS))
        for symbol in self.pool():
            i = _INDEX[symbol]
            low, high = self.bounds.get(symbol, (0.0, 1.0))
            lower[i] = max(self.min_fraction, low)
            upper[i] = min(self.max_fraction, high)
        return lower, upper

    def sizes(self) -> tuple[int, ...]:
        """Numbers of elements an admitted alloy can have (``n_elements``, or all feasible ones)."""
        return tuple(k for k, ok in self._feasible_sizes().items() if ok)

    def grid_units(self) -> int | None:
        """Units per alloy on the grid (``round(1/step)``), or None without a step."""
        return None if self.step is None else round(1 / self.step)

    def unit_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper number of grid units of each present element, int arrays (30,).

        A present element holds at least one unit; elements outside the pool
        get (1, 0), an empty range.
        """
        total = self.grid_units()
        if total is None:
            raise ConstraintError("unit_bounds needs a grid: these constraints have no step")
        lower, upper = self.fraction_bounds()
        low, high = self._units(lower, upper, total)
        high[~self.pool_mask()] = 0
        return low, high

    def admits(self, x, tol: float = 1e-6):
        """Which compositions satisfy every constraint.

        Parameters
        ----------
        x : array-like (n, 30) or (30,)
            Atomic fractions over :data:`ELEMENTS`.
        tol : float
            Slack on sums, bounds and grid; elements at or below ``tol``
            count as absent.

        Returns
        -------
        numpy.ndarray of bool (n,), or bool for a single composition
        """
        x = np.asarray(x, dtype=float)
        single = x.ndim == 1
        x = np.atleast_2d(x)
        if x.shape[1] != len(ELEMENTS):
            raise ValueError(f"compositions must have {len(ELEMENTS)} columns, got shape {x.shape}")
        present = x > tol
        ok = (x >= -tol).all(axis=1) & (np.abs(x.sum(axis=1) - 1) <= tol)
        ok &= ~(present & ~self.pool_mask()).any(axis=1)
        required = [_INDEX[s] for s in self.required]
        if required:
            ok &= present[:, required].all(axis=1)
        ok &= np.isin(present.sum(axis=1), self.sizes())
        lower, upper = self.fraction_bounds()
        ok &= ~(present & ((x < lower - tol) | (x > upper + tol))).any(axis=1)
        if self.step is not None:
            units = x / self.step
            ok &= ~(present & (np.abs(units - np.round(units)) > tol / self.step)).any(axis=1)
        return bool(ok[0]) if single else ok

    def violations(self, x, tol: float = 1e-6) -> list[str]:
        """Every constraint one composition breaks, in words (empty when admitted)."""
        x = np.asarray(x, dtype=float).reshape(-1)
        if x.shape != (len(ELEMENTS),):
            raise ValueError(f"one composition of {len(ELEMENTS)} fractions expected, got shape {x.shape}")
        present = x > tol
        found = []
        if (x < -tol).any() or abs(x.sum() - 1) > tol:
            found.append(f"fractions must be non-negative and sum to 1 (sum {x.sum():.6g})")
        outside = [ELEMENTS[i] for i in np.flatnonzero(present & ~self.pool_mask())]
        if outside:
            found.append(f"{' '.join(outside)} not allowed")
        missing = [s for s in self.required if not present[_INDEX[s]]]
        if missing:
            found.append(f"required {' '.join(missing)} missing")
        if present.sum() not in self.sizes():
            found.append(f"{present.sum()} elements; allowed {', '.join(map(str, self.sizes()))}")
        lower, upper = self.fraction_bounds()
        for i in np.flatnonzero(present & self.pool_mask()):
            if x[i] < lower[i] - tol or x[i] > upper[i] + tol:
                found.append(f"{ELEMENTS[i]} {x[i]:.4g} outside ({lower[i]:g}, {upper[i]:g})")
            elif self.step is not None and abs(x[i] / self.step - round(x[i] / self.step)) > tol / self.step:
                found.append(f"{ELEMENTS[i]} {x[i]:.4g} not on the {self.step:g} grid")
        return found

    def round_to_step(self, x) -> np.ndarray:
        """Round compositions to the grid, keeping each row on the simplex.

        Largest-remainder rounding (each row keeps summing to exactly
        ``1/step`` units), then a repair that moves present elements into
        their bounds: an element below its minimum is raised to it, or dropped
        when it is under half of it and not required; a missing required
        element is added at its minimum; then single units move between
        present elements, from those rounded up the most to those rounded down
        the most, until the row sums to 1 again. A row for which no such
        repair exists keeps the rounded values (check with :meth:`admits`).
        Elements outside the pool are not removed. Without a step, a copy of
        the rows scaled to sum to 1.

        Parameters
        ----------
        x : array-like (n, 30) or (30,)
            Non-negative fractions; rows are rescaled to sum to 1 first.

        Returns
        -------
        numpy.ndarray
            Same shape, float64.
        """
        x = np.asarray(x, dtype=float)
        single = x.ndim == 1
        x = np.atleast_2d(x)
        if x.shape[1] != len(ELEMENTS):
            raise ValueError(f"compositions must have {len(ELEMENTS)} columns, got shape {x.shape}")
        if (x < 0).any() or not np.isfinite(x).all() or (x.sum(axis=1) <= 0).any():
            raise ValueError("compositions must be finite, non-negative, and not all zero")
        x = x / x.sum(axis=1, keepdims=True)
        if self.step is None:
            return x[0] if single else x
        total = self.grid_units()
        target = x * total
        units = np.floor(target).astype(np.int64)
        remainder = target - units
        deficit = total - units.sum(axis=1)
        # Stable sort: equal remainders go to the element listed first.
        order = np.argsort(-remainder, axis=1, kind="stable")
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.arange(x.shape[1])[None, :].repeat(len(x), axis=0), axis=1)
        units += rank < deficit[:, None]

        low, high = self.unit_bounds()
        required = np.zeros(len(ELEMENTS), dtype=bool)
        required[[_INDEX[s] for s in self.required]] = True
        repaired = self._repair(units, target, low, high, required, allow_drop=True)
        # Where dropping small elements left too few to reach 100 %, keep them instead.
        stuck = repaired.sum(axis=1) != total
        if stuck.any():
            repaired[stuck] = self._repair(units[stuck], target[stuck], low, high, required, allow_drop=False)
        units = repaired
        out = units / total
        return out[0] if single else out

    def _repair(self, units, target, low, high, required, allow_drop: bool) -> np.ndarray:
        """Move rounded units into the bounds, then back to the total, one unit at a time."""
        total = self.grid_units()
        units = units.copy()
        in_pool = self.pool_mask()
        present = units > 0
        if allow_drop:
            below = present & in_pool & (units < low)
            drop = below & ~required & (target < low / 2)
        else:
            # Every element of the input keeps at least its minimum, even one rounded to 0.
            below = (target > 0) & in_pool & (units < low)
            drop = np.zeros_like(below)
        units[drop] = 0
        raise_ = (below & ~drop) | (required & ~present)
        units = np.where(raise_, np.broadcast_to(low, units.shape), units)
        units = np.where(present & in_pool & (units > high), np.broadcast_to(high, units.shape), units)
        rows = np.arange(len(units))
        for _ in range(total * len(ELEMENTS)):
            diff = total - units.sum(axis=1)
            if not diff.any():
                break
            present = units > 0
            error = target - units  # positive where rounded down
            grow = present & in_pool & (units < high)
            shrink = present & in_pool & (units > low)
            add = (diff > 0) & grow.any(axis=1)
            remove = (diff < 0) & shrink.any(axis=1)
            if not (add.any() or remove.any()):
                break
            pick_add = np.where(grow, error, -np.inf).argmax(axis=1)
            pick_remove = np.where(shrink, error, np.inf).argmin(axis=1)
            units[rows[add], pick_add[add]] += 1
            units[rows[remove], pick_remove[remove]] -= 1
        return units

    def describe(self) -> str:
        """One line in words, for logs and reports."""
        parts = [f"pool {len(self.pool())} elements"]
        if self.required:
            parts.append(f"required {' '.join(self.required)}")
        if self.forbidden:
            parts.append(f"forbidden {' '.join(self.forbidden)}")
        sizes = self.sizes()
        if len(sizes) <= 6:
            parts.append(f"{', '.join(map(str, sizes))} elements")
        else:
            parts.append(f"{sizes[0]}-{sizes[-1]} elements")
        parts.append(f"each {100 * self.min_fraction:g}-{100 * self.max_fraction:g} at.%")
        if self.bounds:
            parts.append(", ".join(f"{s} {100 * lo:g}-{100 * hi:g} at.%" for s, (lo, hi) in self.bounds.items()))
        parts.append(f"step {100 * self.step:g} at.%" if self.step is not None else "continuous")
        return "; ".join(parts)
