"""Root pytest configuration: how nbval compares the executed chapters.

nbval compares every output of a cell that is not tagged
``nbval-ignore-output``. Figures are never compared byte for byte: nbval
already skips ``image/png``, and this adds the figures that ``myst_nb.glue``
stores under papermill's record MIME types and vector images. Numbers that
depend on training are checked within tolerances by
``tests/test_reproduction.py`` instead.
"""

from __future__ import annotations

FIGURE_TYPES = (
    "image/png",
    "image/jpeg",
    "image/svg+xml",
    "application/papermill.record/image/png",
    "application/papermill.record/image/jpeg",
    "application/papermill.record/image/svg+xml",
)


def pytest_collectstart(collector):
    skip = getattr(collector, "skip_compare", None)
    if skip is not None:
        collector.skip_compare = tuple(skip) + tuple(t for t in FIGURE_TYPES if t not in skip)
