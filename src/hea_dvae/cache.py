"""Where trained models are kept, and an index that finds a named predictor's models at once.

The models themselves are checkpoint folders under ``$HEA_DVAE_CACHE_DIR/ssvae``
(:mod:`hea_dvae.zoo` keys and trains them). Finding the default predictor's
models through their keys means building the paper split and its features
(pandas, scikit-learn, torch): seconds before a one-alloy ``predict`` can
answer. So once a named predictor has been assembled, its members' folders
and temperature are written to ``$HEA_DVAE_CACHE_DIR/predictors/<name>.json``
under a key of everything that could change which models it holds: the
package version, the pinned data files and the package's source code. Any
change of these is a miss, and the slow path rebuilds the index.

This module imports nothing heavy.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from . import config
from .files import OutputError, write_file

#: Bumped when the layout of an index changes.
INDEX_FORMAT = 1

#: The name of the predictor ``predict`` and ``design`` use, in the index.
DEFAULT_PREDICTOR = "default"


def models_dir() -> Path:
    """Folder of cached SSVAE checkpoints: ``$HEA_DVAE_CACHE_DIR/ssvae``."""
    return config.cache_dir() / "ssvae"


def _index_path(name: str) -> Path:
    return config.cache_dir() / "predictors" / f"{name}.json"


def source_digest() -> str:
    """SHA-256 of the package's source files (their paths and contents)."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def index_key(name: str) -> str:
    """What a named predictor's index must match: the package, the data and the source code."""
    parts = {"format": INDEX_FORMAT, "name": name, "package": config.package_version(),
             "data": {file: digest for file, (_, digest) in sorted(config.DATA_FILES.items())},
             "source": source_digest()}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def read_index(name: str) -> dict | None:
    """The index of predictor ``name`` if it is current and every member's folder exists, else None.

    Returns a dict with ``members`` (checkpoint folders), ``temperature`` and
    ``label`` (the predictor's name).
    """
    path = _index_path(name)
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(index, dict) or index.get("key") != index_key(name):
        return None
    members = [models_dir() / entry for entry in index.get("members", []) if isinstance(entry, str)]
    if not members or len(members) != len(index["members"]) or not all(m.is_dir() for m in members):
        return None
    return {"members": members, "temperature": float(index.get("temperature", 1.0)),
            "label": str(index.get("label", name))}


def write_index(name: str, members, temperature: float, label: str) -> None:
    """Record predictor ``name``: its members' folders (inside :func:`models_dir`), temperature and label."""
    entries = [Path(m).name for m in members]
    content = {"key": index_key(name), "members": entries, "temperature": float(temperature), "label": label}
    path = _index_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_file(path, json.dumps(content, indent=1) + "\n")


def remember(name: str, compute, extra_key: str = "") -> dict:
    """``compute()`` (a JSON-able dict), kept on disk until the package, the data or the source change.

    For values derived from the pinned data that take long to derive but
    little to store (the element tables built from pymatgen's element data,
    the dataset's distance threshold). ``extra_key`` adds what else the
    value depends on (e.g. a library's version). Values are written
    atomically; a damaged or stale file is recomputed.
    """
    key = _derived_key(name, extra_key)
    path = config.cache_dir() / "derived" / f"{name}.json"
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(stored, dict) and stored.get("key") == key and isinstance(stored.get("value"), dict):
            return stored["value"]
    except (OSError, ValueError):
        pass
    value = compute()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_file(path, json.dumps({"key": key, "value": value}) + "\n")
    except OSError:
        pass  # a read-only cache: compute every time
    return value


def _derived_key(name: str, extra_key: str) -> str:
    return hashlib.sha256(f"{index_key(name)}|{extra_key}".encode()).hexdigest()


def _arrays_path(name: str) -> Path:
    return config.cache_dir() / "derived" / f"{name}.npz"


def read_arrays(name: str, extra_key: str = "") -> dict | None:
    """Named numpy arrays kept by :func:`write_arrays` under the same ``name`` and ``extra_key``, else None.

    Stale (another package, data, source or ``extra_key``), damaged or
    missing files give None. The file is read without pickle: only plain
    numeric and text arrays.
    """
    import zipfile

    import numpy as np

    try:
        with np.load(_arrays_path(name), allow_pickle=False) as stored:
            arrays = {entry: stored[entry] for entry in stored.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile):  # missing, damaged, or needs pickle
        return None
    key = arrays.pop("_key", None)
    if key is None or key.shape != () or str(key) != _derived_key(name, extra_key):
        return None
    return arrays


def write_arrays(name: str, arrays: dict, extra_key: str = "") -> None:
    """Keep named numpy arrays until the package, the data, the source or ``extra_key`` change (atomic write).

    A cache that cannot be written is skipped: the caller computes again next time.
    """
    import io

    import numpy as np

    if "_key" in arrays:
        raise ValueError("'_key' is the name of the cache key; name the array otherwise")
    buffer = io.BytesIO()
    np.savez(buffer, _key=np.array(_derived_key(name, extra_key)), **arrays)
    path = _arrays_path(name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_file(path, buffer.getvalue())
    except (OSError, OutputError):
        pass  # a read-only cache: compute every time
