"""The constraint specification: validation, files, admits() and rounding to the grid."""

from __future__ import annotations

import itertools
import math
import pickle

import numpy as np
import pytest

from hea_dvae.compositions import largest_remainder, size_counts
from hea_dvae.design.feasibility import admits, violations
from hea_dvae.design.projection import project
from hea_dvae.design.constraints import ConstraintError, Constraints
from hea_dvae.elements import ELEMENTS

IDX = {symbol: i for i, symbol in enumerate(ELEMENTS)}


def alloy(**fractions) -> np.ndarray:
    x = np.zeros(len(ELEMENTS))
    for symbol, value in fractions.items():
        x[IDX[symbol]] = value
    return x


CANTOR = alloy(Co=0.2, Cr=0.2, Fe=0.2, Mn=0.2, Ni=0.2)


# -- defaults and derived values ----------------------------------------------


def test_defaults_allow_every_element_and_size():
    c = Constraints()
    assert c.pool() == ELEMENTS
    assert c.sizes() == tuple(range(1, 31))
    assert c.step is None and c.grid_units() is None
    assert admits(c, CANTOR)


def test_inputs_are_normalised_to_element_order():
    c = Constraints(elements="Ni Fe, Co", n_elements=[3, 2, 3], required=["Ni"], forbidden=[])
    assert c.elements == ("Fe", "Ni", "Co")  # ELEMENTS order, not the order written
    assert c.n_elements == (2, 3)
    assert Constraints(elements="FeNiCo").elements == ("Fe", "Ni", "Co")


def test_pool_bounds_and_units():
    c = Constraints(elements="Fe Ni Co Cr Al", forbidden="Co", min_fraction=0.05, max_fraction=0.4,
                    bounds={"Al": (0.1, 0.2)}, step=0.05)
    assert c.pool() == ("Fe", "Ni", "Cr", "Al")
    lower, upper = c.fraction_bounds()
    assert (lower[IDX["Fe"]], upper[IDX["Fe"]]) == (0.05, 0.4)
    assert (lower[IDX["Al"]], upper[IDX["Al"]]) == (0.1, 0.2)
    assert (lower[IDX["Co"]], upper[IDX["Co"]]) == (0, 0)
    low, high = c.unit_bounds()
    assert (low[IDX["Fe"]], high[IDX["Fe"]]) == (1, 8)
    assert (low[IDX["Al"]], high[IDX["Al"]]) == (2, 4)
    assert high[IDX["Co"]] == 0
    # 4 elements of at most 40 at.% each: 2 cannot reach 100 %, 3 and 4 can.
    assert c.sizes() == (3, 4)


def test_frozen_hashable_picklable():
    c = Constraints(n_elements=(4, 5), bounds={"Al": (0.05, 0.15)}, step=0.05)
    with pytest.raises(AttributeError):
        c.step = 0.1
    assert hash(c) == hash(Constraints(n_elements=[5, 4], bounds={"Al": [0.05, 0.15]}, step=0.05))
    assert pickle.loads(pickle.dumps(c)) == c


# -- validation: every error names the value ----------------------------------


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"elements": "Fe Xx"}, ["'Xx'", "Fe Ni Cr Co Al", "30 supported"]),
        ({"elements": ["fe"]}, ["did you mean 'Fe'"]),
        ({"forbidden": "U"}, ["'U'"]),
        ({"bounds": {"Q": (0, 1)}}, ["'Q'"]),
        ({"required": "Fe", "forbidden": "Fe"}, ["Fe both forbidden and required"]),
        ({"elements": "Fe Ni Co", "required": "Al"}, ["required Al not in the allowed"]),
        ({"elements": "Fe Ni Co", "n_elements": 4}, ["n_elements 4 is larger than the pool of 3"]),
        ({"n_elements": 31}, ["n_elements 31"]),
        ({"required": "Fe Ni Co", "n_elements": 2}, ["n_elements 2 is smaller than the 3 required"]),
        ({"n_elements": 6, "max_elements": 5}, ["exceeds max_elements 5"]),
        ({"n_elements": 0}, ["positive integers"]),
        ({"n_elements": 2.5}, ["positive integers"]),
        ({"min_fraction": 0.3, "max_fraction": 0.2}, ["min_fraction 0.3 is above max_fraction 0.2"]),
        ({"bounds": {"Fe": (0.5, 0.2)}}, ["bounds[Fe]", "0.5 is above maximum 0.2"]),
        ({"bounds": {"Fe": (0.3, 0.4)}, "max_fraction": 0.2}, ["Fe:", "leave no room"]),
        ({"min_fraction": 5}, ["not at.%", "0.05 for 5 at.%"]),
        ({"max_fraction": -0.1}, ["between 0 and 1"]),
        ({"required": "Fe Ni Co", "bounds": {"Fe": (0.4, 0.5), "Ni": (0.4, 0.5), "Co": (0.3, 0.4)}},
         ["sum to 1.1 > 1"]),
        ({"n_elements": 5, "min_fraction": 0.25}, ["no 5-element alloy", "1.25 > 1"]),
        ({"n_elements": 3, "max_fraction": 0.3}, ["no 3-element alloy", "0.9 < 1"]),
        ({"step": 0.03}, ["step 0.03 does not divide 100 %"]),
        ({"step": 0}, ["step must be above 0"]),
        ({"step": 1.5}, ["step = 1.5 is above 1"]),
        ({"step": 0.05, "min_fraction": 0.07}, ["min_fraction 0.07 not a multiple of step 0.05"]),
        ({"step": 0.1, "bounds": {"Al": (0.05, 0.2)}}, ["bounds[Al] minimum 0.05 not a multiple"]),
        ({"elements": "Fe Ni", "forbidden": "Fe Ni"}, ["no element left"]),
        ({"elements": "Fe Ni Co", "forbidden": "Co", "bounds": {"Co": (0.1, 0.2)}},
         ["bounds given for Co", "forbidden"]),
        ({"bounds": {"Fe": (0, 0)}}, ["list Fe in forbidden"]),
    ],
)
def test_contradictions_raise_naming_the_value(kwargs, words):
    with pytest.raises(ConstraintError) as error:
        Constraints(**kwargs)
    for word in words:
        assert word in str(error.value)
    assert isinstance(error.value, ValueError)


def test_no_element_set_fits_although_the_sums_do():
    # Smallest possible total 0.6 <= 1 <= largest 1.1, yet no pair of these
    # fixed fractions sums to exactly 1 (0.7, 1.1, 0.6).
    with pytest.raises(ConstraintError, match="no 2-element alloy"):
        Constraints(elements="Fe Ni Co", n_elements=2,
                    bounds={"Fe": (0.6, 0.6), "Ni": (0.1, 0.1), "Co": (0.5, 0.5)})
    # Change one bound and a pair exists (Ni 0.4 + Fe 0.6).
    ok = Constraints(elements="Fe Ni Co", n_elements=2, bounds={"Fe": (0.6, 0.6), "Ni": (0.4, 0.4), "Co": (0.5, 0.5)})
    assert admits(ok, alloy(Fe=0.6, Ni=0.4))
    assert not admits(ok, alloy(Fe=0.5, Co=0.5))


def test_grid_that_cannot_reach_one_on_the_grid_only():
    # Continuously, two elements of (0.45, 0.55) make 100 %; so does the 0.05 grid (0.45 + 0.55).
    Constraints(elements="Fe Ni", n_elements=2, min_fraction=0.45, max_fraction=0.55, step=0.05)
    # Three elements of at most 0.3 cannot, on any grid.
    with pytest.raises(ConstraintError, match="no 3-element alloy can sum to 100 % on the 0.1 grid"):
        Constraints(n_elements=3, max_fraction=0.3, step=0.1)


def test_sizes_without_n_elements_are_the_feasible_ones():
    assert Constraints(min_fraction=0.25).sizes() == (1, 2, 3, 4)
    assert Constraints(max_fraction=0.25, max_elements=6).sizes() == (4, 5, 6)
    with pytest.raises(ConstraintError, match="no alloy satisfies"):
        Constraints(elements="Fe Ni", max_fraction=0.4)


# -- files and mappings -------------------------------------------------------

YAML = """\
# a design space
elements: [Fe, Ni, Co, Cr, Mn, Al, Cu, Ti, V, Mo]
forbidden: [Cu]
required: [Ni]
n_elements: [4, 5]
min_fraction: 0.05
max_fraction: 0.35
bounds:
  Al: [0.05, 0.15]
step: 0.05
"""

TOML = """\
elements = ["Fe", "Ni", "Co", "Cr", "Mn", "Al", "Cu", "Ti", "V", "Mo"]
forbidden = ["Cu"]
required = ["Ni"]
n_elements = [4, 5]
min_fraction = 0.05
max_fraction = 0.35
step = 0.05

[bounds]
Al = [0.05, 0.15]
"""


def test_yaml_and_toml_files_read_the_same(tmp_path):
    (tmp_path / "space.yaml").write_text(YAML)
    (tmp_path / "space.toml").write_text(TOML)
    from_yaml = Constraints.from_file(tmp_path / "space.yaml")
    from_toml = Constraints.from_file(tmp_path / "space.toml")
    expected = Constraints(elements="Fe Ni Co Cr Mn Al Cu Ti V Mo", forbidden="Cu", required="Ni",
                           n_elements=(4, 5), min_fraction=0.05, max_fraction=0.35,
                           bounds={"Al": (0.05, 0.15)}, step=0.05)
    assert from_yaml == expected
    assert from_toml == expected
    assert Constraints.from_mapping(expected.to_dict()) == expected


@pytest.mark.parametrize("suffix, text", [(".yaml", "n_elements: 4\nmax_fracton: 0.3\n"),
                                          (".toml", "n_elements = 4\nmax_fracton = 0.3\n")])
def test_unknown_key_in_a_file_is_an_error(tmp_path, suffix, text):
    path = tmp_path / f"space{suffix}"
    path.write_text(text)
    with pytest.raises(ConstraintError) as error:
        Constraints.from_file(path)
    assert "'max_fracton'" in str(error.value) and str(path) in str(error.value)
    assert "max_fraction" in str(error.value)  # the known keys are listed


def test_file_errors(tmp_path):
    with pytest.raises(ConstraintError, match="does not exist"):
        Constraints.from_file(tmp_path / "missing.yaml")
    (tmp_path / "space.json").write_text("{}")
    with pytest.raises(ConstraintError, match=r"\.yaml, \.yml or \.toml"):
        Constraints.from_file(tmp_path / "space.json")
    (tmp_path / "broken.yaml").write_text("n_elements: [4, 5\n")
    with pytest.raises(ConstraintError, match="cannot parse"):
        Constraints.from_file(tmp_path / "broken.yaml")
    (tmp_path / "list.yaml").write_text("- Fe\n- Ni\n")
    with pytest.raises(ConstraintError, match="expected a mapping"):
        Constraints.from_file(tmp_path / "list.yaml")
    (tmp_path / "empty.yaml").write_text("")
    assert Constraints.from_file(tmp_path / "empty.yaml") == Constraints()
    (tmp_path / "folder.yaml").mkdir()
    with pytest.raises(ConstraintError, match="cannot read constraint file .*folder.yaml"):
        Constraints.from_file(tmp_path / "folder.yaml")
    (tmp_path / "latin1.yaml").write_bytes("elements: [Fe] # \xe9\n".encode("latin-1"))
    with pytest.raises(ConstraintError, match="cannot read constraint file .*latin1.yaml"):
        Constraints.from_file(tmp_path / "latin1.yaml")


def test_command_line_strings():
    c = Constraints.from_mapping({"elements": "Fe Ni Co Cr Al", "n_elements": "3-4", "min_fraction": "0.05",
                                  "max_fraction": "0.5", "bounds": ["Al=0.05:0.15", "Fe=0.1:0.4"],
                                  "step": "0.05", "max_elements": "4", "forbidden": None})
    assert c.n_elements == (3, 4) and c.max_elements == 4 and c.step == 0.05
    assert c.bounds == {"Fe": (0.1, 0.4), "Al": (0.05, 0.15)}
    parsed = Constraints.from_mapping({"bounds": "Al=0.05:0.15 Ti:0:0.2"}).bounds
    assert parsed == {"Ti": (0.0, 0.2), "Al": (0.05, 0.15)}
    with pytest.raises(ConstraintError, match="element=min:max"):
        Constraints.from_mapping({"bounds": ["Al 0.05 0.15"]})
    with pytest.raises(ConstraintError, match="runs backwards"):
        Constraints.from_mapping({"n_elements": "5-4"})
    with pytest.raises(ConstraintError, match="must be a number"):
        Constraints.from_mapping({"step": "five"})


def test_updated_overrides_only_given_values():
    base = Constraints(n_elements=(4, 5), step=0.05, min_fraction=0.05)
    changed = base.updated({"step": 0.025, "min_fraction": None, "required": "Fe"})
    assert changed.step == 0.025 and changed.min_fraction == 0.05 and changed.required == ("Fe",)
    assert base.step == 0.05
    with pytest.raises(ConstraintError, match="unknown key"):
        base.updated({"steps": 0.1})
    with pytest.raises(ConstraintError, match="min_fraction 0.05 not a multiple of step 0.1"):
        base.updated({"step": 0.1})


# -- admits and violations -----------------------------------------------------


def test_admits_each_rule():
    c = Constraints(elements="Fe Ni Co Cr Mn Al", forbidden="Mn", required="Ni", n_elements=(4, 5),
                    min_fraction=0.1, max_fraction=0.4, bounds={"Al": (0.1, 0.2)}, step=0.05)
    good = alloy(Fe=0.3, Ni=0.25, Co=0.25, Al=0.2)
    rows = np.stack([
        good,
        alloy(Fe=0.3, Ni=0.25, Co=0.25, Mn=0.2),  # forbidden Mn
        alloy(Fe=0.3, Cr=0.25, Co=0.25, Al=0.2),  # no Ni
        alloy(Fe=0.4, Ni=0.3, Co=0.3),  # three elements
        alloy(Fe=0.25, Ni=0.25, Co=0.25, Al=0.25),  # Al above 0.2
        alloy(Fe=0.45, Ni=0.2, Co=0.2, Al=0.15),  # Fe above 0.4
        alloy(Fe=0.32, Ni=0.23, Co=0.25, Al=0.2),  # off the 0.05 grid
        alloy(Fe=0.3, Ni=0.25, Co=0.25, Al=0.1),  # sums to 0.9
        alloy(Fe=0.3, Ni=0.25, Co=0.25, Al=0.2, Ti=0.0),  # Ti outside the pool but absent: fine
    ])
    assert admits(c, rows).tolist() == [True, False, False, False, False, False, False, False, True]
    assert admits(c, good) is True
    assert violations(c, good) == []
    words = violations(c, rows[1])
    assert any("Mn not allowed" in w for w in words)
    assert any("required Ni missing" in w for w in violations(c, rows[2]))
    assert any("Al 0.25 outside (0.1, 0.2)" in w for w in violations(c, rows[4]))
    assert any("not on the 0.05 grid" in w for w in violations(c, rows[6]))
    # A tiny negative or residue within the tolerance is accepted.
    assert admits(c, good + alloy(Ti=1e-9))


# -- rounding to the grid -------------------------------------------------------


def test_largest_remainder_by_hand():
    # 3.33 units each: floors 3+3+3, one unit left, to the first of the tied remainders.
    np.testing.assert_array_equal(largest_remainder([10 / 3] * 3, 10), [4, 3, 3])
    # 2.6, 2.6, 4.8: floors 2, 2, 4 leave 2 units for the remainders 0.8, 0.6, 0.6.
    np.testing.assert_array_equal(largest_remainder([2.6, 2.6, 4.8], 10), [3, 2, 5])
    # Bounds: the third may take at most 4 units, so the surplus goes elsewhere.
    np.testing.assert_array_equal(largest_remainder([2.6, 2.6, 4.8], 10, upper=[10, 10, 4]), [3, 3, 4])
    # A whole number a hair below stays whole (floating-point sums of fractions).
    np.testing.assert_array_equal(largest_remainder([0.3 / 0.1, 0.7 / 0.1], 10), [3, 7])


def test_projected_rows_are_on_the_grid_and_admitted():
    c = Constraints(elements="Fe Ni Co Cr Mn Al Ti V", min_fraction=0.05, max_fraction=0.35, step=0.05)
    rng = np.random.default_rng(0)
    x = np.zeros((500, len(ELEMENTS)))
    for row in x:
        chosen = rng.choice([IDX[s] for s in c.pool()], size=rng.integers(4, 7), replace=False)
        row[chosen] = rng.dirichlet(np.ones(len(chosen)))
    rounded = project(x, c)
    units = rounded / 0.05
    np.testing.assert_allclose(units, np.round(units), atol=1e-9)
    np.testing.assert_allclose(rounded.sum(axis=1), 1, atol=1e-12)
    assert admits(c, rounded).all()
    assert (rounded <= 0.35 + 1e-12).all()


# -- counting -------------------------------------------------------------------


def test_size_counts_against_brute_force():
    lower, upper, required = [1, 2, 1, 1, 3], [5, 4, 8, 2, 6], [False, True, False, False, False]
    total = 10
    counted = size_counts(lower, upper, required, total, max_size=5)
    brute = [0] * 6
    ranges = [[0, *range(lo, hi + 1)] for lo, hi in zip(lower, upper)]
    for units in itertools.product(*ranges):
        if sum(units) == total and all(u > 0 for u, r in zip(units, required) if r):
            brute[sum(u > 0 for u in units)] += 1
    assert list(counted) == brute
    assert list(size_counts(lower, upper, required, total, max_size=5, exact=False)) == [b > 0 for b in brute]


def test_size_counts_issue_space():
    # Issue 11: 5 of 30 elements, each 1..16 units of 5 at.%.
    counts = size_counts([1] * 30, [16] * 30, [False] * 30, 20, max_size=5)
    assert counts[5] == math.comb(30, 5) * math.comb(19, 4) == 552_353_256
