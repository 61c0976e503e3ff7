"""hea-dvae: companion package to Zeng, Khan & Post, arXiv:2409.06740.

A disentangled semi-supervised VAE for high-entropy alloys: data, features,
model, training, metrics and design, used by the chapters of the book.
"""

from .config import package_version
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

__version__ = package_version()

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
