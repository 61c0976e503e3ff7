"""Paths, pinned upstream data and package-wide defaults.

This is the only module that knows where files live. Every other module asks
it for a path, so that one environment variable moves the whole project.

Environment variables
---------------------
HEA_DVAE_DATA_DIR
    Folder holding the upstream data files. When the files there match their
    SHA-256 digests nothing is downloaded (point it at a local copy to work
    offline).
HEA_DVAE_DATA_URL
    Base address the files are downloaded from (a mirror). Defaults to the
    authors' repository at the pinned commit.
HEA_DVAE_CACHE_DIR
    Folder for trained models that the command line caches.
HEA_DVAE_BUILD_DIR
    Folder for what the book's chapters write beside the build (tables as
    CSV); ``_build`` of a source checkout by default. The smoke profile
    (``make test-quick``) points it elsewhere, so that it never overwrites
    the book's files.
HEA_DVAE_PROGRESS
    ``0`` hides progress bars (the book's executor sets it, so that executed
    notebooks hold no timings).
HEA_DVAE_SCHEDULER
    Address of a Dask scheduler (``tcp://host:8786``): models missing from
    the cache are trained there, as tasks (:func:`hea_dvae.zoo.train_missing`),
    and stored in the local cache. Unset, they are trained on this machine.
"""

from __future__ import annotations

import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

#: Upstream repository and the commit every file is pinned to.
UPSTREAM_REPOSITORY = "cengc13/d_vae_hea"
UPSTREAM_COMMIT = "84e4084464321a5ad154b1888fee35885ab96e6f"
UPSTREAM_URL = (
    f"https://raw.githubusercontent.com/{UPSTREAM_REPOSITORY}/{UPSTREAM_COMMIT}/"
)

#: Upstream files: local name -> (path in the upstream repository, SHA-256).
DATA_FILES: dict[str, tuple[str, str]] = {
    "HEA_top30_comps.csv": (
        "data/HEA_top30_comps.csv",
        "ddeeab9b7746baf32a00974ac8852aeaea031fac3f7d1436e9f591d93b7bf304",
    ),
    "HEA_feature_engineered.csv": (
        "data/HEA_feature_engineered.csv",
        "fa38205436061dd820653595544ccefda02675f57a5e3cb5acc239552d517139",
    ),
    "look_up_dict.pkl": (
        "data/look_up_dict.pkl",
        "105546239d47fbc034252e9ac225dbe9a4c9bcc6f035791cd205be179b641741",
    ),
    "mixing_enthalpy_dict.pkl": (
        "data/mixing_enthalpy_dict.pkl",
        "eb638835b9bd6c8e26ccd4abe663a6074fb57989820bb74a86f67bdad40c5314",
    ),
    "ssvae.model": (
        "models/ssvae.model",
        "3cf39264acfd84eaaeb9debfe8acb0362d902bedde3fbfff81d6a9bc24c20663",
    ),
    "test_data_reconstruction_analysis.csv": (
        "data/test_data_reconstruction_analysis.csv",
        "8c0d65cbc2c35c3af653268e3164f07c2cb1960166ffb3c9b5145032db5fb131",
    ),
}

#: Seed used wherever the paper's own split or defaults need one.
PAPER_SEED = 42


def project_root() -> Path | None:
    """Return the repository root when running from a source checkout, else None."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() else None


def _user_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hea-dvae"


def data_dir() -> Path:
    """Folder where the upstream data files are cached.

    ``$HEA_DVAE_DATA_DIR`` if set; otherwise ``data/upstream`` in a source
    checkout; otherwise ``~/.cache/hea-dvae/data``.
    """
    env = os.environ.get("HEA_DVAE_DATA_DIR")
    if env:
        return Path(env).expanduser().resolve()
    root = project_root()
    if root is not None:
        return root / "data" / "upstream"
    return _user_cache() / "data"


def data_url() -> str:
    """Base address for downloads, ending in a slash."""
    url = os.environ.get("HEA_DVAE_DATA_URL", UPSTREAM_URL)
    return url if url.endswith("/") else url + "/"


def cache_dir() -> Path:
    """Folder for models trained and cached by the command line."""
    env = os.environ.get("HEA_DVAE_CACHE_DIR")
    if env:
        return Path(env).expanduser().resolve()
    root = project_root()
    if root is not None:
        return root / "data" / "models"
    return _user_cache() / "models"


def build_dir() -> Path:
    """Folder for files the chapters write beside the book build, created if missing.

    ``$HEA_DVAE_BUILD_DIR`` if set; otherwise ``_build`` in a source
    checkout; otherwise ``_build`` in the working directory.
    """
    env = os.environ.get("HEA_DVAE_BUILD_DIR")
    folder = Path(env).expanduser().resolve() if env else (project_root() or Path.cwd()) / "_build"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def show_progress(progress: bool | None = None) -> bool:
    """Whether to draw progress bars: ``progress`` if given, else ``$HEA_DVAE_PROGRESS``."""
    if progress is not None:
        return bool(progress)
    return os.environ.get("HEA_DVAE_PROGRESS", "1").strip().lower() not in {"0", "false", "no", "off"}


def dask_scheduler() -> str | None:
    """Where the model cache trains missing models: ``$HEA_DVAE_SCHEDULER``, or None (this machine)."""
    return os.environ.get("HEA_DVAE_SCHEDULER", "").strip() or None


def package_version() -> str:
    """The installed ``hea-dvae`` version, or ``0+unknown`` in an uninstalled source tree."""
    try:
        return version("hea-dvae")
    except PackageNotFoundError:
        return "0+unknown"
