"""hea-dvae: companion package to Zeng, Khan & Post, arXiv:2409.06740.

A disentangled semi-supervised VAE for high-entropy alloys: data, features,
model, training, metrics and design, used by the chapters of the book.
"""

from importlib.metadata import PackageNotFoundError, version

from .data import (
    fetch,
    labelled_fraction_split,
    load_dataset,
    paper_split,
)
from .features import (
    ELEMENTS,
    FEATURES,
    composition_vector,
    featurize,
)

try:
    __version__ = version("hea-dvae")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = [
    "ELEMENTS",
    "FEATURES",
    "__version__",
    "composition_vector",
    "featurize",
    "fetch",
    "labelled_fraction_split",
    "load_dataset",
    "paper_split",
]
