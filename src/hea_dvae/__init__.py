"""hea-dvae: companion package to Zeng, Khan & Post, arXiv:2409.06740.

A disentangled semi-supervised VAE for high-entropy alloys: data, features,
model, training, metrics and design, used by the chapters of the book.

The names below are imported on first use, not when the package is: a
command such as ``hea-dvae --help`` must not pay for torch or pandas.
"""

from __future__ import annotations

import importlib

from .config import package_version

__version__ = package_version()

#: Public name -> module that defines it.
_LAZY = {
    "ELEMENTS": "elements",
    "FEATURES": "elements",
    "composition_vector": "compositions",
    "featurize": "features",
    "fetch": "upstream",
    "labelled_fraction_split": "data",
    "load_dataset": "data",
    "paper_split": "data",
    "read_results": "userdata",
    "train_on_results": "userdata",
}

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_LAZY})
