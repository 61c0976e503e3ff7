"""Root pytest configuration: how nbval compares the executed chapters.

nbval compares every output of a cell that is not tagged
``nbval-ignore-output``. Two kinds of output are left out here:

- figures, never compared byte for byte: nbval already skips ``image/png``,
  and this adds vector images and the figures ``myst_nb.glue`` stores;
- every value ``myst_nb.glue`` stores (papermill's record MIME types): these
  are the numbers ``hea_dvae.reporting.record`` glues, which
  ``tests/test_reproduction.py`` compares with ``tests/reference`` exactly or
  within their stated tolerance. Comparing their text too would demand the
  last digit of a trained number.
"""

from __future__ import annotations

_GLUED = ("text/plain", "text/html", "text/markdown", "text/latex", "application/json",
          "image/png", "image/jpeg", "image/svg+xml")
SKIPPED_TYPES = (
    "image/png",
    "image/jpeg",
    "image/svg+xml",
    *(f"application/papermill.record/{kind}" for kind in _GLUED),
)


def pytest_collectstart(collector):
    skip = getattr(collector, "skip_compare", None)
    if skip is not None:
        collector.skip_compare = tuple(skip) + tuple(t for t in SKIPPED_TYPES if t not in skip)
