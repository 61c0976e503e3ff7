"""Small synthetic alloy sets for tests that need no real data."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hea_dvae.features import ELEMENTS, FEATURES, featurize


def synthetic_alloys(n: int, seed: int, real_features: bool = False) -> pd.DataFrame:
    """``n`` alloys of 2-5 random elements, labelled by their size mismatch.

    With ``real_features`` the 8 features are computed by the featurizer (needs
    the upstream element tables) and the label is ``delta < 6``; otherwise
    they are random numbers on the data's scales and the label is
    ``delta > 5``. Either way the label depends on one feature only.
    """
    rng = np.random.default_rng(seed)
    x = np.zeros((n, len(ELEMENTS)))
    for row in x:
        chosen = rng.choice(len(ELEMENTS), size=rng.integers(2, 6), replace=False)
        row[chosen] = rng.dirichlet(np.ones(len(chosen)))
    if real_features:
        e = np.asarray(featurize(x))
        label = (e[:, FEATURES.index("delta")] < 6).astype(int)
    else:
        e = rng.normal(size=(n, len(FEATURES))) * [50, 2, 300, 1, 3, 0.05, 2, 10] + [170, 9, 1800, 7, 5, 0.1, 12, -8]
        label = (e[:, FEATURES.index("delta")] > 5).astype(int)
    frame = pd.DataFrame(x, columns=list(ELEMENTS)).assign(**dict(zip(FEATURES, e.T)), label=label)
    frame.insert(0, "formula", [f"alloy{seed}_{i}" for i in range(n)])
    return frame


def synthetic_split(labelled: int, unlabelled: int, validation: int, test: int | None = None) -> dict:
    """A split of synthetic alloys (seeds 0, 1, 2, 3 for the parts); no ``test`` part when ``test`` is None."""
    sizes = {"labelled": labelled, "unlabelled": unlabelled, "validation": validation, "test": test}
    return {part: synthetic_alloys(n, seed) for seed, (part, n) in enumerate(sizes.items()) if n is not None}
