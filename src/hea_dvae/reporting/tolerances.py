"""How far a recorded number may move, and the check of records against the reference.

Every trained number carries an absolute tolerance and the sentence that
justifies it. A mean over seeds gets its tolerance from its seed spread
(:func:`tolerance_for`); a standard deviation and a paired difference get
theirs from :func:`std_tolerance` and :func:`paired_interval_tolerance`, so
that no chapter derives a tolerance by hand. :func:`compare` checks recorded
numbers against ``tests/reference/<chapter>.json``.
"""

from __future__ import annotations

import math

from ..compositions import parse_formula

#: Tolerance of a trained mean over n runs with seed spread s: Z * s * sqrt(2 / n),
#: i.e. Z standard errors of the difference of two independent n-run means
#: (another CPU's kernels send every run down a different trajectory, so a
#: re-execution there is a fresh draw of n runs).
Z_TRAINED = 4.0

#: Relative tolerance of exact numbers (float formatting and summation order).
EXACT_RTOL = 1e-9

#: Width of a 95 % normal interval in standard errors (2 x 1.96).
_WIDTH_95 = 3.92


def tolerance_for(entry: dict) -> tuple[float, str]:
    """Absolute tolerance of one record and the sentence that justifies it."""
    if "tolerance" in entry:
        return float(entry["tolerance"]), str(entry["basis"])
    if entry["kind"] == "claim":
        return 0.0, f"claim: the outcome of rule {entry.get('rule', '?')!r}, re-derived from the numbers it rests on"
    if entry["kind"] == "exact":
        value = entry["value"]
        if isinstance(value, str):
            return 0.0, "exact: computed from the data alone (string compared as is)"
        return EXACT_RTOL * max(1.0, abs(float(value))), "exact: computed from the data alone"
    spread, n = float(entry["spread"]), int(entry["n"])
    tolerance = Z_TRAINED * spread * math.sqrt(2.0 / n)
    return tolerance, (
        f"trained: {Z_TRAINED:g} x seed std {spread:.4g} x sqrt(2/{n}) "
        "(difference of two independent means of n runs)"
    )


def std_tolerance(std: float, n: int, floor: float) -> tuple[float, str]:
    """Tolerance of a standard deviation over ``n`` seeds, at least ``floor``, and its basis.

    A standard deviation of n runs has a standard error of about
    ``std / sqrt(2 (n - 1))``; two executions differ by sqrt(2) of that, and
    :data:`Z_TRAINED` of those is allowed: ``Z * std / sqrt(n - 1)``.
    """
    tolerance = max(floor, Z_TRAINED * std / math.sqrt(n - 1))
    return tolerance, (f"a standard deviation of {n} seeds has a standard error of about "
                       f"std/sqrt(2(n-1)); {Z_TRAINED:g} x that for the difference of two executions, "
                       f"at least {floor:g}")


def paired_interval_tolerance(low: float, high: float, floor: float) -> tuple[float, str]:
    """Tolerance of a mean paired difference read from its 95 % paired-bootstrap interval, and its basis.

    The interval's width / 3.92 is the standard error of the mean difference;
    sqrt(2) of it for two executions, :data:`Z_TRAINED` of those, at least
    ``floor``. The bootstrap resamples seeds and test alloys, so this
    overstates how far another CPU moves the number.
    """
    tolerance = max(floor, Z_TRAINED * math.sqrt(2) * (high - low) / _WIDTH_95)
    return tolerance, (f"{Z_TRAINED:g} x sqrt(2) x the standard error of the mean paired difference, "
                       "read from its 95 % paired-bootstrap interval (width / 3.92; seeds and test alloys "
                       f"resampled, so it overstates the CPU-to-CPU spread), at least {floor:g}")


def formula_difference(a: str, b: str) -> float:
    """Largest difference of one element's amount between two formulas written in at.%.

    The amounts are read as written (a rounding that sums to 99 at.% stays
    99), so one at.% moved by a rounding boundary counts as 1. A formula that
    cannot be read is infinitely far.
    """
    try:
        amounts_a, amounts_b = parse_formula(a), parse_formula(b)
    except ValueError:
        return math.inf
    return max(abs(amounts_a.get(s, 0.0) - amounts_b.get(s, 0.0)) for s in {*amounts_a, *amounts_b})


def compare(found: dict, reference: dict) -> list[str]:
    """Every way ``found`` records disagree with ``reference`` entries; empty if none.

    ``reference`` maps key -> {"value", "tolerance", "basis", ...} as written
    by ``scripts/write_reference.py``; ``found`` maps key -> {"value", ...}
    (or key -> value). A claim is also re-derived from the new numbers it
    rests on (:func:`hea_dvae.reporting.claims.check`). A number recorded as
    ``signed`` may not change its sign, whatever its tolerance: its sign
    carries a conclusion.
    """
    from .claims import check

    problems = check(found, reference)
    for key, ref in reference.items():
        if key not in found:
            problems.append(f"{key}: not recorded (expected {ref['value']!r})")
            continue
        got = found[key]["value"] if isinstance(found[key], dict) else found[key]
        expected = ref["value"]
        if isinstance(expected, str) or isinstance(got, str):
            problem = _compare_text(key, got, expected, ref)
        else:
            problem = _compare_number(key, got, expected, ref)
        if problem:
            problems.append(problem)
    return problems


def _compare_text(key: str, got, expected, ref: dict) -> str | None:
    tolerance = float(ref.get("tolerance", 0.0))
    if tolerance and isinstance(expected, str) and isinstance(got, str):
        # A formula decoded by a float32 model: compare the compositions, in at.%.
        moved = formula_difference(got, expected)
        if not moved <= tolerance:
            return (f"{key}: {got!r} differs from the reference {expected!r} by {moved:.3g} "
                    f"at.% in one element, beyond the tolerance {tolerance:g} ({ref.get('basis', '')})")
        return None
    return None if got == expected else f"{key}: {got!r} != {expected!r}"


def _compare_number(key: str, got, expected, ref: dict) -> str | None:
    if ref.get("signed") and (float(got) > 0) != (float(expected) > 0):
        return (f"{key}: {float(got):.6g} has the opposite sign of the reference {float(expected):.6g}; "
                "its sign carries a conclusion of the book")
    tolerance = float(ref["tolerance"])
    difference = float(got) - float(expected)
    if not abs(difference) <= tolerance:
        return (f"{key}: {float(got):.6g} differs from the reference {float(expected):.6g} by "
                f"{difference:+.3g}, beyond the tolerance {tolerance:.3g} ({ref.get('basis', '')})")
    return None
