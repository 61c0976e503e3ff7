"""Write tests/reference/<chapter>.json from the records of an execution of the chapters.

Usage::

    python scripts/write_reference.py RECORD_DIR [REFERENCE_DIR]

``RECORD_DIR`` holds the ``<chapter>.json`` files that :func:`hea_dvae.reporting.record`
wrote while ``make chapters`` executed the book (``make reference`` does both).
Each reference entry keeps the value, its kind, the tolerance the checks allow
and the sentence that justifies the tolerance (see
:func:`hea_dvae.reporting.tolerance_for`), so that a reviewer reads in the diff
what changed and how much slack every number has.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from hea_dvae.reporting import tolerance_for

ROOT = Path(__file__).resolve().parents[1]


def reference_from(records: dict) -> dict:
    out = {}
    for key in sorted(records):
        entry = records[key]
        tolerance, basis = tolerance_for(entry)
        out[key] = {"value": entry["value"], "kind": entry["kind"], "tolerance": tolerance, "basis": basis}
        for extra in ("spread", "n", "signed", "rule", "evidence", "sentence"):
            if extra in entry:
                out[key][extra] = entry[extra]
    return out


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    records_dir = Path(argv[0])
    reference_dir = Path(argv[1]) if len(argv) > 1 else ROOT / "tests" / "reference"
    files = sorted(records_dir.glob("*.json"))
    if not files:
        print(f"no records in {records_dir}: execute the chapters first (make chapters)", file=sys.stderr)
        return 1
    reference_dir.mkdir(parents=True, exist_ok=True)
    for path in files:
        reference = reference_from(json.loads(path.read_text()))
        target = reference_dir / path.name
        handle, staging = tempfile.mkstemp(dir=reference_dir, prefix=f".{path.name}.", suffix=".partial")
        with os.fdopen(handle, "w") as stream:
            stream.write(json.dumps(reference, indent=1, sort_keys=True) + "\n")
        os.replace(staging, target)
        print(f"wrote {target} ({len(reference)} numbers)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
