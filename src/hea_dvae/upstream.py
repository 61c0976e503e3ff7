"""The authors' upstream files: pinned download, SHA-256 checks, safe unpickling.

Every file comes from the authors' repository at one pinned commit and is
checked against its SHA-256 digest before it is used (:data:`config.DATA_FILES`).
Point ``$HEA_DVAE_DATA_DIR`` at a folder that already holds the files and
nothing is downloaded. This is the lowest layer that touches data: the element
tables, the featurizer and the dataset all read through it.
"""

from __future__ import annotations

import hashlib
import io
import pickle
from pathlib import Path

import numpy as np

from . import config


class DataIntegrityError(ValueError):
    """A data file does not match its pinned SHA-256 digest."""


class DataUnavailableError(OSError):
    """A data file is not in the data folder and cannot be downloaded (no network, say)."""


def sha256(path: Path) -> str:
    """Hex SHA-256 digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(name: str, progress: bool = False) -> Path:
    """Return the local path of an upstream file, downloading it if needed.

    Parameters
    ----------
    name : str
        A key of :data:`hea_dvae.config.DATA_FILES`, e.g. ``"HEA_top30_comps.csv"``.
    progress : bool
        Show a progress bar while downloading.

    Raises
    ------
    KeyError
        ``name`` is not one of the pinned files.
    DataIntegrityError
        The file (cached or downloaded) does not match its digest. A
        downloaded file that fails the check is deleted, never cached.
    """
    import pooch

    if name not in config.DATA_FILES:
        known = ", ".join(sorted(config.DATA_FILES))
        raise KeyError(f"unknown data file {name!r}; the pinned files are: {known}")
    remote_path, expected = config.DATA_FILES[name]
    folder = config.data_dir()
    local = folder / name
    if local.is_file() and sha256(local) == expected:
        return local
    url = config.data_url() + remote_path
    import requests

    try:
        # pooch streams into a temporary file and only moves it into place
        # once the digest matches, so a bad download never lands in the cache.
        fetched = pooch.retrieve(
            url,
            known_hash=f"sha256:{expected}",
            fname=name,
            path=folder,
            progressbar=progress,
        )
    except ValueError as error:
        if "hash" not in str(error).lower():
            raise
        raise DataIntegrityError(
            f"{name} downloaded from {url} does not match its pinned SHA-256: "
            f"expected {expected}; {_actual_digest_from(error)}. "
            "The file was discarded."
        ) from error
    except (requests.RequestException, OSError) as error:
        raise DataUnavailableError(
            f"{name} is not in the data folder {folder} and cannot be downloaded from {url} "
            f"({type(error).__name__}: {str(error)[:120]}). Point HEA_DVAE_DATA_DIR at a folder holding "
            f"the pinned files (listed by 'hea-dvae fetch --help'; see data/README.md), or set "
            f"HEA_DVAE_DATA_URL to a mirror."
        ) from None
    fetched = Path(fetched)
    actual = sha256(fetched)
    if actual != expected:  # pragma: no cover - pooch already checked
        fetched.unlink(missing_ok=True)
        raise DataIntegrityError(
            f"{name}: expected SHA-256 {expected}, got {actual}; file removed."
        )
    return fetched


def _actual_digest_from(error: Exception) -> str:
    # pooch words its message as "... expected sha256:<digest> but got <digest>. ...".
    words = [w.strip("()'.,").rpartition(":")[2] for w in str(error).split()]
    digests = [w for w in words if len(w) == 64 and all(c in "0123456789abcdef" for c in w)]
    return f"got {digests[-1]}" if len(digests) >= 2 else f"pooch said: {error}"


def fetch_all(progress: bool = True) -> dict[str, Path]:
    """Fetch (or verify) every pinned file; return name -> local path."""
    return {name: fetch(name, progress=progress) for name in config.DATA_FILES}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that admits numpy's scalar and dtype constructors and nothing else.

    The upstream tables are pickles of dicts of numpy float64 scalars. A pickle
    can name any importable callable; refusing everything but these two keeps
    a tampered file from running code on load.
    """

    _ALLOWED = {
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name} from a data pickle: only numpy "
                "scalars and dtypes are allowed"
            )
        if name == "dtype":
            return np.dtype
        from numpy._core.multiarray import scalar

        return scalar


def safe_unpickle(data: bytes):
    """Load a pickle that may only contain builtins and numpy scalars."""
    return _NumpyOnlyUnpickler(io.BytesIO(data)).load()


def load_pickle(name: str):
    """Fetch and safely unpickle one of the upstream ``.pkl`` tables."""
    return safe_unpickle(fetch(name).read_bytes())


def read_upstream_tables() -> tuple[dict, dict]:
    """The upstream element table and binary mixing enthalpies, as plain floats.

    Returns
    -------
    elements : dict
        symbol -> {"tm", "vac", "vm", "chi", "ar", "k"} (70 elements).
    enthalpies : dict
        "A,B" (sorted symbols) -> binary mixing enthalpy in kJ/mol.
    """
    elements = {
        symbol: {key: float(value) for key, value in props.items()}
        for symbol, props in load_pickle("look_up_dict.pkl").items()
    }
    enthalpies = {pair: float(v) for pair, v in load_pickle("mixing_enthalpy_dict.pkl").items()}
    return elements, enthalpies

