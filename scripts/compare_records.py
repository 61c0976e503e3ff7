"""How far two executions' recorded numbers moved, against the reference tolerances.

Usage::

    python scripts/compare_records.py A.json B.json [REFERENCE.json]

Prints one line per number recorded in both files: the two values, their
difference, the tolerance of ``tests/reference/<chapter>.json`` and the
difference as a share of it. ``make test-kernels`` uses it to report how far
chapter 2 moves between torch's CPU kernels; it never fails on the numbers
(the tolerance check does that).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def movement(first: dict, second: dict, reference: dict) -> list[dict]:
    rows = []
    for key in sorted(set(first) & set(second)):
        a, b = first[key]["value"], second[key]["value"]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b)):
            continue
        tolerance = reference.get(key, {}).get("tolerance")
        difference = b - a
        rows.append({"key": key, "kind": first[key].get("kind", "?"), "first": a, "second": b,
                     "difference": difference, "tolerance": tolerance,
                     "share": abs(difference) / tolerance if tolerance else None})
    return rows


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    first, second = (json.loads(Path(p).read_text()) for p in argv[:2])
    reference_path = Path(argv[2]) if len(argv) == 3 else ROOT / "tests" / "reference" / Path(argv[0]).name
    reference = json.loads(reference_path.read_text()) if reference_path.is_file() else {}
    rows = movement(first, second, reference)
    print(f"{'number':34s} {'kind':7s} {'first':>11s} {'second':>11s} {'moved':>10s} {'tolerance':>10s} {'share':>6s}")
    for row in rows:
        share = "" if row["share"] is None else f"{row['share']:.2f}"
        tolerance = "" if row["tolerance"] is None else f"{row['tolerance']:.4g}"
        print(f"{row['key']:34s} {row['kind']:7s} {row['first']:11.5g} {row['second']:11.5g} "
              f"{row['difference']:+10.3g} {tolerance:>10s} {share:>6s}")
    trained = [r["share"] for r in rows if r["kind"] == "trained" and r["share"] is not None]
    if trained:
        print(f"largest move of a trained number: {max(trained):.2f} of its tolerance "
              f"({len(trained)} trained numbers)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
