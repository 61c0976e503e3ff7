"""Our element tables against HEACalculator, feature by feature, on all 1,373 alloys.

Usage::

    python scripts/compare_heacalculator.py [--out FILE | --no-write]

HEACalculator (PyPI ``heacalculator``, GPL-3) is an independent calculator
of the quantities behind the empirical rules of high-entropy alloys. It is
*optional* and never a dependency of this package: install it somewhere
throw-away (``pip install --target /tmp/hc heacalculator==2.2.0`` and run
with ``PYTHONPATH=/tmp/hc``). Without it this script says so and exits 0.

For each of our element tables (``paper``, ``corrected``, ``standard``) it
computes, for every alloy of :func:`hea_dvae.load_dataset`, the relative
difference ``|ours - calculator| / |calculator|`` of

- ``delta`` (size mismatch, %), ``delta_h_mix`` (kJ/mol), ``delta_s_mix``
  (J/(mol K)), ``vac`` (VEC), ``tm`` (K) from :func:`hea_dvae.featurize`;
- ``delta_chi``: ours is the absolute spread, the calculator's is relative
  (%); ours is converted, ``100 * delta_chi / mean(chi)``, before comparing;
- ``delta_chi_allen`` (standard table only: its ``chi_allen``), ``omega``,
  ``gamma`` and ``lambda_`` from :func:`hea_dvae.rules.quantities`;

and prints and writes the maximum and median over the alloys (alloys where
the calculator's value is zero are left out of the relative difference and
counted; two infinities count as equal). The written summary holds numbers
only, never the calculator's data: per table and feature the largest and
median relative differences, the alloy with the largest, and checksums of
*our* values (so that ``tests/test_standard_table.py`` can tell whether
our features are still the ones that were compared).
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib import metadata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "tests" / "external" / "heacalculator_comparison.json"

#: Our quantity -> the calculator's (its HEACalculator.get_dict() keys).
PAIRS = {
    "delta": "delta",
    "delta_h_mix": "mixing_enthalpy",
    "delta_s_mix": "mixing_entropy",
    "vac": "vec",
    "tm": "melting_temperature",
    "delta_chi": "delta_chi_pauling",
    "delta_chi_allen": "delta_chi_allen",
    "omega": "omega",
    "gamma": "gamma",
    "lambda_": "lambda",
}

#: Largest relative difference the standard table may show, why, and the
#: elements whose alloys are left out of that check (where a value of ours
#: is known to differ from the calculator's, and which is the better one).
TOLERANCES = {
    "delta": (1e-9, "same radii (Guo & Liu 2011, Table 1) and formula; floating point only", ()),
    "delta_h_mix": (1e-9, "same Takeuchi & Inoue (2005) pair enthalpies and formula; floating point only", ()),
    "delta_s_mix": (1e-4, "R = 8.314 J/(mol K) here (the authors' value), 8.314462618 there: 5.6e-5", ()),
    "vac": (1e-9, "s + d valence electrons in both", ()),
    "tm": (3e-3, "the calculator rounds the alloy's melting point up to a whole kelvin (up to 1 K in "
                 "450 K); Ir left out: pymatgen's 2739 K against the handbook's 2719 K", ("Ir",)),
    "delta_chi": (1e-9, "Pauling electronegativities equal for 27 of the 30 elements; W, Au, Pt left out: "
                        "pymatgen has Allred's revised values (W 2.36, Au 2.54, Pt 2.28, as in the CRC "
                        "Handbook and Guo & Liu 2011, Table 1), the calculator Pauling's older ones",
                  ("W", "Au", "Pt")),
    "delta_chi_allen": (None, "not compared within a tolerance: mendeleev's configuration energies (eV, "
                              "3-4 digits) against the calculator's Pauling-scaled values (3 digits); "
                              "rounding differences are amplified in a spread of close values", ()),
    "omega": (3e-3, "T_m rounded up to a whole kelvin there and R as for delta_s_mix; Ir as for tm", ("Ir",)),
    "gamma": (None, "not compared within a tolerance: the calculator computes gamma with Kittel's "
                    "12-coordinate radii, we with the table's radii (Guo & Liu), as delta", ()),
    "lambda_": (1e-4, "R as for delta_s_mix", ()),
}

#: Weights of the checksums: a fixed low-discrepancy sequence, no random state.
GOLDEN = (np.sqrt(5) - 1) / 2


def checksums(values: np.ndarray) -> dict:
    """Mean and weighted mean of finite values: a change of one alloy moves the weighted mean."""
    values = np.asarray(values, dtype=float)
    weights = 1 + (np.arange(len(values)) * GOLDEN) % 1
    finite = np.isfinite(values)
    return {"mean": float(values[finite].mean()),
            "weighted_mean": float((weights * values)[finite].sum() / weights[finite].sum()),
            "n_infinite": int((~finite).sum())}


def relative_difference(ours: np.ndarray, theirs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """|ours - theirs| / |theirs| where theirs is non-zero (two equal infinities: 0); and that mask."""
    ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    both_infinite = np.isinf(ours) & np.isinf(theirs) & (np.sign(ours) == np.sign(theirs))
    usable = (np.abs(theirs) > 0) & ~np.isnan(theirs)
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(both_infinite, 0.0, np.abs(ours - theirs) / np.abs(theirs))
    return np.where(usable, relative, np.nan), usable


def formula_of(row, elements) -> str:
    """A formula the calculator reads, with every fraction to 15 significant digits."""
    return "".join(f"{symbol}{value:.15g}" for symbol, value in zip(elements, row) if value > 0)


def calculator_values(x: np.ndarray, elements) -> dict:
    """The calculator's value of each quantity of PAIRS, per alloy (NaN where it fails)."""
    from HEACalculator import HEACalculator

    out = {key: np.full(len(x), np.nan) for key in PAIRS.values()}
    failures = 0
    for i, row in enumerate(x):
        try:
            values = HEACalculator(formula_of(row, elements)).get_dict()
        except Exception:  # an alloy the calculator cannot do is reported, not fatal
            failures += 1
            continue
        for key in out:
            out[key][i] = np.nan if values[key] is None else float(values[key])
    if failures:
        print(f"the calculator failed on {failures} alloys (left out)", file=sys.stderr)
    return out


def our_values(x: np.ndarray, table: str) -> dict:
    """Our value of each quantity of PAIRS with ``table`` (NaN where the table has no such property)."""
    from hea_dvae import rules
    from hea_dvae.elements import FEATURES, get_table
    from hea_dvae.features import featurize

    element_table = get_table(table)
    e = featurize(x, table=element_table)
    q = rules.quantities(x, table=element_table)
    ours = {name: e[:, FEATURES.index(name)] for name in ("delta", "delta_h_mix", "delta_s_mix", "vac", "tm")}
    ours["delta_chi"] = 100 * e[:, FEATURES.index("delta_chi")] / (x @ element_table.properties["chi"])
    allen = element_table.properties.get("chi_allen")
    if allen is None:
        ours["delta_chi_allen"] = np.full(len(x), np.nan)
    else:
        mean = x @ allen
        ours["delta_chi_allen"] = 100 * np.sqrt((x * (1 - allen / mean[:, None]) ** 2).sum(axis=1))
    for name in ("omega", "gamma", "lambda_"):
        ours[name] = q[name].to_numpy()
    return ours


def compare(x: np.ndarray, formulas: np.ndarray, theirs: dict, tables, elements) -> dict:
    """Per table and quantity: max and median relative difference, worst alloy, checksums of ours.

    ``max_rel_checked`` is the largest relative difference over the alloys
    without the elements :data:`TOLERANCES` leaves out for that quantity;
    ``max_abs_calculator_zero`` the largest absolute difference where the
    calculator's value is zero (no relative difference there), over the
    same alloys.
    """
    summary = {}
    for table in tables:
        ours = our_values(x, table)
        rows = {}
        for name, key in PAIRS.items():
            if np.isnan(ours[name]).all():
                continue
            relative, usable = relative_difference(ours[name], theirs[key])
            left_out = TOLERANCES[name][2]
            checked = ~(x[:, [elements.index(s) for s in left_out]] > 0).any(axis=1) if left_out else usable
            zero = theirs[key] == 0
            worst = int(np.nanargmax(relative))
            rows[name] = {
                "max_rel": float(np.nanmax(relative)),
                "median_rel": float(np.nanmedian(relative)),
                "alloys_compared": int(usable.sum()),
                "worst_alloy": str(formulas[worst]),
                "max_rel_checked": float(np.nanmax(relative[checked & usable])),
                "alloys_checked": int((checked & usable).sum()),
                "alloys_calculator_zero": int(zero.sum()),
                "max_abs_calculator_zero": (float(np.abs(ours[name][zero & checked]).max())
                                            if (zero & checked).any() else 0.0),
                "ours": checksums(ours[name]),
            }
        summary[table] = rows
    return summary


def print_summary(summary: dict) -> None:
    for table, rows in summary.items():
        print(f"\n{table} table: relative difference to HEACalculator over the alloys")
        print(f"  {'quantity':16} {'max':>10} {'median':>10} {'alloys':>7} {'checked':>10} {'alloys':>7}"
              f"  worst alloy")
        for name, row in rows.items():
            print(f"  {name:16} {row['max_rel']:10.3g} {row['median_rel']:10.3g} {row['alloys_compared']:7d} "
                  f"{row['max_rel_checked']:10.3g} {row['alloys_checked']:7d}  {row['worst_alloy']}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="summary JSON to write")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    try:
        import HEACalculator  # noqa: F401
    except ImportError:
        print("HEACalculator is not installed, so there is nothing to compare: this check is optional.\n"
              "Install it outside this project's environment, e.g.\n"
              "  pip install --target /tmp/hc heacalculator==2.2.0\n"
              "and rerun with PYTHONPATH=/tmp/hc. It is GPL-3: never add it to the dependencies.")
        return 0

    import hea_dvae
    from hea_dvae.elements import ELEMENTS, TABLES

    data = hea_dvae.load_dataset()
    x = data[list(ELEMENTS)].to_numpy()
    theirs = calculator_values(x, ELEMENTS)
    summary = compare(x, data["formula"].to_numpy(), theirs, TABLES, list(ELEMENTS))
    print_summary(summary)
    if args.no_write:
        return 0
    version = metadata.version("heacalculator")
    document = {
        "what": "Our features and rule quantities against HEACalculator's, on all alloys of "
                "hea_dvae.load_dataset(); written by scripts/compare_heacalculator.py. Numbers only: "
                "no data of the calculator (GPL-3) is stored here.",
        "calculator": f"HEACalculator {version} (PyPI heacalculator)",
        "alloys": len(x),
        "relative_difference": "|ours - calculator| / |calculator| over the alloys where the calculator's "
                               "value is non-zero; delta_chi: ours converted to % of the mean (100 * "
                               "delta_chi / mean chi), as the calculator gives it",
        "tolerance": {name: {"max_rel": tol, "why": why, "alloys_left_out_with": list(left_out)}
                      for name, (tol, why, left_out) in TOLERANCES.items()},
        "tables": summary,
    }
    args.out.write_text(json.dumps(document, indent=1) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
