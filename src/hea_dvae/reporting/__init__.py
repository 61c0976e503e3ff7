"""Reporting: what the book records, checks, tabulates and draws.

The chapters of the book call into the package and display; this package
holds what they need beyond the science:

:mod:`~hea_dvae.reporting.records`
    a chapter's key numbers: recorded once, glued into the prose, written for
    the tests (:func:`chapter`, :func:`record` and its variants);
:mod:`~hea_dvae.reporting.tolerances`
    how far each number may move on another CPU, and :func:`compare` of
    records against ``tests/reference``;
:mod:`~hea_dvae.reporting.claims`
    the sentences that compare, decided by a rule from recorded numbers and
    checked like them (:func:`claim`);
:mod:`~hea_dvae.reporting.headline`
    the headline page: the paper's numbers beside the released model's and
    ours (:func:`headline_table`), and which chapter covers which figure
    (:func:`coverage`);
:mod:`~hea_dvae.reporting.provenance`
    what produced a page (:func:`provenance`);
:mod:`~hea_dvae.reporting.profiles`
    the ``full`` and ``smoke`` profiles of a chapter's parameters
    (:func:`profile_parameters`);
:mod:`~hea_dvae.reporting.tables`
    tables fit for readers (:func:`readable`);
:mod:`~hea_dvae.reporting.plots`
    the figures, in one style (imported on its own:
    ``from hea_dvae.reporting import plots``; it loads matplotlib).

A chapter writes ``from hea_dvae import reporting`` and then
``reporting.chapter("02_model")``, ``reporting.record(...)``,
``reporting.readable(table)`` and, at its end, ``reporting.provenance(...)``.
"""

from .claims import claim, difference_sentences, interval_claim
from .claims import check as check_claims
from .headline import (
    PAPER_ITEMS,
    PAPER_RESULTS,
    PaperResult,
    coverage,
    headline_table,
    verdict_outcomes,
    listed_keys,
    published_table,
    verdict,
)
from .profiles import PROFILES, profile_parameters, smoke_checked
from .provenance import Provenance, provenance
from .records import (
    DECODED_FORMULA,
    DECODED_FORMULA_TOLERANCE,
    FLOAT32,
    KINDS,
    chapter,
    elapsed_seconds,
    read_notebook_records,
    record,
    record_decoded,
    record_paired,
    record_released,
    record_std,
    records,
)
from .tables import COLUMN_LABELS, FEATURE_NAMES, readable
from .tolerances import (
    EXACT_RTOL,
    Z_TRAINED,
    compare,
    formula_difference,
    paired_interval_tolerance,
    std_tolerance,
    tolerance_for,
)

__all__ = [
    "COLUMN_LABELS",
    "FEATURE_NAMES",
    "check_claims",
    "claim",
    "difference_sentences",
    "interval_claim",
    "DECODED_FORMULA",
    "DECODED_FORMULA_TOLERANCE",
    "EXACT_RTOL",
    "FLOAT32",
    "KINDS",
    "PAPER_ITEMS",
    "PAPER_RESULTS",
    "PROFILES",
    "PaperResult",
    "Provenance",
    "Z_TRAINED",
    "chapter",
    "compare",
    "coverage",
    "elapsed_seconds",
    "formula_difference",
    "headline_table",
    "verdict_outcomes",
    "listed_keys",
    "paired_interval_tolerance",
    "profile_parameters",
    "provenance",
    "published_table",
    "read_notebook_records",
    "readable",
    "record",
    "record_decoded",
    "record_paired",
    "record_released",
    "record_std",
    "records",
    "smoke_checked",
    "std_tolerance",
    "tolerance_for",
    "verdict",
]
