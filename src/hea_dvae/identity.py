"""What names a model: digests of its weights, and the identity of a predictor made of models.

Plain hashlib and numpy, so that a predictor's identity is the same whether
its weights live in torch tensors (an SSVAE, an ensemble) or in numpy arrays
(the screen's scorer, read straight from a checkpoint).
"""

from __future__ import annotations

import hashlib
from typing import Iterable

import numpy as np


def state_digest(named_arrays: Iterable[tuple[str, np.ndarray]]) -> str:
    """SHA-256 of named arrays (names, shapes and values) in name order: a model's digest."""
    digest = hashlib.sha256()
    for name, array in sorted(named_arrays, key=lambda item: item[0]):
        array = np.ascontiguousarray(array)
        digest.update(name.encode())
        digest.update(str(array.shape).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def predictor_identity(member_digests, temperature: float = 1.0) -> str:
    """The identity of a predictor: its members' digests and its temperature.

    Every kind of predictor (one SSVAE, an ensemble, the screen's scorer)
    built from the same models with the same temperature has the same
    identity, so a screen's state file and a design table name the same
    model the same way.
    """
    digest = hashlib.sha256(f"T={float(temperature)!r}".encode())
    for member in member_digests:
        digest.update(member.encode())
    return digest.hexdigest()
