"""Shared test machinery: the ``needs_data`` marker and a throw-away data folder.

``@pytest.mark.needs_data`` marks a test that reads the real upstream files.
It is skipped, with the reason, when :func:`hea_dvae.config.data_dir` does not
hold every file of :data:`hea_dvae.config.DATA_FILES` (existence only: the
digests are checked by the code under test when it opens them). Point
``HEA_DVAE_DATA_DIR`` at a local copy to run them.
"""

from __future__ import annotations

import pytest

from hea_dvae import config, data, elements


def _missing_data_files() -> list[str]:
    folder = config.data_dir()
    return [name for name in config.DATA_FILES if not (folder / name).is_file()]


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("needs_data") is None:
        return
    missing = _missing_data_files()
    if missing:
        pytest.skip(
            f"needs the upstream data files, but {config.data_dir()} lacks "
            f"{', '.join(missing)}; set HEA_DVAE_DATA_DIR to a folder holding them"
        )


def _clear_caches() -> None:
    # Both caches remember what they read from the data folder of the moment.
    data._load_dataset_cached.cache_clear()
    elements.get_table.cache_clear()


@pytest.fixture
def tmp_data_dir(tmp_path, monkeypatch):
    """An empty folder set as ``$HEA_DVAE_DATA_DIR``, with the data caches cleared."""
    folder = tmp_path / "data-cache"
    folder.mkdir()
    monkeypatch.setenv("HEA_DVAE_DATA_DIR", str(folder))
    _clear_caches()
    yield folder
    _clear_caches()


@pytest.fixture(autouse=True)
def _private_model_cache(tmp_path_factory, monkeypatch):
    """Models trained by tests go to a throw-away cache (shared by the session), never the user's."""
    monkeypatch.setenv("HEA_DVAE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "model-cache"))
