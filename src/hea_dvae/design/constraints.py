"""What a designed alloy may contain: one specification for every design route.

The screen (:mod:`hea_dvae.design.screen`), latent decoding and gradient
inversion all read the same :class:`Constraints`: which elements are allowed,
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
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import yaml

from ..checks import is_integer
from ..elements import ELEMENTS
from .feasibility import GRID_TOLERANCE, candidate_sizes, feasible_sizes, infeasible_message, units_of

_INDEX = {symbol: i for i, symbol in enumerate(ELEMENTS)}
_ALL = " ".join(ELEMENTS)
_SPLIT = re.compile(r"[\s,;]+")


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
            sizes.append(_whole("n_elements", item))
        except ConstraintError:
            raise ConstraintError(f"n_elements must hold positive integers, got {item!r} in {value!r}") from None
    if not sizes:
        raise ConstraintError(f"n_elements is empty ({value!r}); leave it out to allow any number")
    return tuple(sorted(set(sizes)))


def _whole(name: str, value) -> int:
    """A positive whole number, from an int, a float such as 4.0, or a string such as "4"."""
    text = value.strip() if isinstance(value, str) else value
    try:
        number = float(text) if not is_integer(text) else text
    except (TypeError, ValueError):
        number = None
    if number is None or isinstance(text, bool) or not math.isfinite(number) or number != int(number) \
            or number < 1:
        raise ConstraintError(f"{name} must be a positive integer, got {value!r}")
    return int(number)


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
    return abs(value / step - round(value / step)) <= GRID_TOLERANCE * max(1.0, value / step)


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
            set_("max_elements", _whole("max_elements", self.max_elements))
        set_("min_fraction", _fraction("min_fraction", self.min_fraction))
        set_("max_fraction", _fraction("max_fraction", self.max_fraction))
        if self.step is not None:
            step = _fraction("step", self.step)
            if step <= 0:
                raise ConstraintError(f"step must be above 0 (e.g. 0.05), got {self.step!r}")
            set_("step", step)
        _check(self)

    def _feasible_sizes(self) -> dict[int, bool]:
        # Cached in the instance dictionary (not a field: equality and the
        # fingerprint ignore it); the frozen dataclass blocks setattr only.
        cached = self.__dict__.get("_feasible")
        if cached is None:
            cached = self.__dict__["_feasible"] = feasible_sizes(self)
        return cached

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
        low, high = units_of(lower, upper, total)
        high[~self.pool_mask()] = 0
        return low, high

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


def _check(c: "Constraints") -> None:
    """Refuse a contradictory specification, or one that admits no alloy, naming the values at fault."""
    if not c.elements:
        raise ConstraintError("elements is empty: allow at least one element")
    both = sorted(set(c.forbidden) & set(c.required), key=_INDEX.get)
    if both:
        raise ConstraintError(f"{' '.join(both)} both forbidden and required")
    outside = [s for s in c.required if s not in c.elements]
    if outside:
        raise ConstraintError(
            f"required {' '.join(outside)} not in the allowed elements ({' '.join(c.elements)})"
        )
    pool = c.pool()
    if not pool:
        raise ConstraintError(
            f"no element left: elements {' '.join(c.elements)} are all forbidden"
        )
    for symbol in c.bounds:
        if symbol not in pool:
            reason = "forbidden" if symbol in c.forbidden else "not in the allowed elements"
            raise ConstraintError(f"bounds given for {symbol}, which is {reason}")
    if c.min_fraction > c.max_fraction:
        raise ConstraintError(
            f"min_fraction {c.min_fraction:g} is above max_fraction {c.max_fraction:g}"
        )
    if c.max_fraction == 0:
        raise ConstraintError("max_fraction 0 leaves no room for any element")
    lower, upper = c.fraction_bounds()
    for symbol in pool:
        i = _INDEX[symbol]
        if lower[i] > upper[i]:
            raise ConstraintError(
                f"{symbol}: bounds {c.bounds[symbol]} and min_fraction/max_fraction "
                f"({c.min_fraction:g}, {c.max_fraction:g}) leave no room "
                f"(minimum {lower[i]:g} above maximum {upper[i]:g})"
            )
    required_minimum = sum(lower[_INDEX[s]] for s in c.required)
    if required_minimum > 1 + GRID_TOLERANCE:
        parts = ", ".join(f"{s} {lower[_INDEX[s]]:g}" for s in c.required)
        raise ConstraintError(
            f"the minimum fractions of the required elements sum to {required_minimum:g} > 1 ({parts})"
        )
    if c.step is not None:
        units = round(1 / c.step)
        if abs(units * c.step - 1) > GRID_TOLERANCE:
            raise ConstraintError(
                f"step {c.step:g} does not divide 100 %: use 1/n, e.g. 0.1, 0.05, 0.025 or 0.01"
            )
        named = [("min_fraction", c.min_fraction), ("max_fraction", c.max_fraction)]
        for symbol, (low, high) in c.bounds.items():
            named += [(f"bounds[{symbol}] minimum", low), (f"bounds[{symbol}] maximum", high)]
        off = [f"{name} {value:g}" for name, value in named if not _is_multiple(value, c.step)]
        if off:
            raise ConstraintError(
                f"{', '.join(off)} not a multiple of step {c.step:g}: the grid could not reach it"
            )
    if c.n_elements is not None:
        for k in c.n_elements:
            if k > len(pool):
                raise ConstraintError(
                    f"n_elements {k} is larger than the pool of {len(pool)} elements "
                    f"({' '.join(pool)})"
                )
            if k < len(c.required):
                raise ConstraintError(
                    f"n_elements {k} is smaller than the {len(c.required)} required elements "
                    f"({' '.join(c.required)})"
                )
            if c.max_elements is not None and k > c.max_elements:
                raise ConstraintError(f"n_elements {k} exceeds max_elements {c.max_elements}")
    elif c.max_elements is not None and c.max_elements < len(c.required):
        raise ConstraintError(
            f"max_elements {c.max_elements} is smaller than the {len(c.required)} "
            f"required elements ({' '.join(c.required)})"
        )
    feasible = c._feasible_sizes()
    if c.n_elements is not None:
        for k in c.n_elements:
            if not feasible.get(k, False):
                raise ConstraintError(infeasible_message(c, k))
    elif not any(feasible.values()):
        raise ConstraintError(
            "no alloy satisfies the constraints: "
            + "; ".join(infeasible_message(c, k) for k in candidate_sizes(c)[:3])
        )


def as_constraints(constraints) -> "Constraints":
    """A :class:`Constraints` from what a caller gives: one, a mapping, a YAML/TOML path, or None (no constraint).

    Every public entry point that takes constraints reads them through this.
    """
    if constraints is None:
        return Constraints()
    if isinstance(constraints, Constraints):
        return constraints
    if isinstance(constraints, Mapping):
        return Constraints.from_mapping(constraints)
    if isinstance(constraints, (str, os.PathLike)):
        return Constraints.from_file(constraints)
    raise TypeError(f"constraints must be Constraints, a mapping or a YAML/TOML file path, "
                    f"got {type(constraints).__name__}")
