"""The pinned download, exercised against a real HTTP server on 127.0.0.1.

The server serves a folder laid out like the upstream repository (``data/``,
``models/``); ``config.DATA_FILES`` is replaced by small files made here, with
their SHA-256 computed by :mod:`hashlib`, so every byte on the wire is known.
"""

from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from hea_dvae import config, data
from hea_dvae.data import DataIntegrityError, fetch

GOOD_CSV = b"# a comment\nAlloys,Class\nCoCrFeMnNi,1\nAl2Fe,0\n"
GOOD_MODEL = bytes(range(256)) * 8


def _digest(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


class _Server:
    """A static file server on an ephemeral port that counts the GET requests."""

    def __init__(self, root: Path):
        self.root = root
        self.requests: list[str] = []
        requests = self.requests

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(root), **kwargs)

            def do_GET(self):
                requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):  # keep the test output clean
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.timeout = 1
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def put(self, remote_path: str, payload: bytes) -> None:
        target = self.root / remote_path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(payload)

    def count(self, remote_path: str) -> int:
        return sum(1 for p in self.requests if p == "/" + remote_path)


@pytest.fixture
def server(tmp_path, monkeypatch, tmp_data_dir):
    """Serve ``tmp_path/remote`` and point the package at it, with an empty cache."""
    root = tmp_path / "remote"
    root.mkdir()
    srv = _Server(root)
    srv.thread.start()
    # A proxy from the environment must not swallow requests to the local server.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("HEA_DVAE_DATA_URL", srv.url)
    srv.put("data/tiny.csv", GOOD_CSV)
    srv.put("models/tiny.model", GOOD_MODEL)
    monkeypatch.setattr(
        config,
        "DATA_FILES",
        {
            "tiny.csv": ("data/tiny.csv", _digest(GOOD_CSV)),
            "tiny.model": ("models/tiny.model", _digest(GOOD_MODEL)),
        },
    )
    try:
        yield srv
    finally:
        srv.httpd.shutdown()
        srv.httpd.server_close()
        srv.thread.join(timeout=5)
        assert not srv.thread.is_alive()


def test_good_file_is_downloaded_verified_and_cached(server, tmp_data_dir):
    path = fetch("tiny.csv")
    assert path == tmp_data_dir / "tiny.csv"
    assert path.read_bytes() == GOOD_CSV
    assert server.count("data/tiny.csv") == 1

    again = fetch("tiny.csv")
    assert again == path
    assert server.count("data/tiny.csv") == 1  # served from the cache
    assert sorted(p.name for p in tmp_data_dir.iterdir()) == ["tiny.csv"]


def test_file_under_models_is_fetched_from_its_remote_path(server, tmp_data_dir):
    path = fetch("tiny.model")
    assert path.read_bytes() == GOOD_MODEL
    assert server.count("models/tiny.model") == 1
    assert server.count("data/tiny.model") == 0


def test_fetch_all_returns_every_pinned_file(server, tmp_data_dir):
    paths = data.fetch_all(progress=False)
    assert set(paths) == {"tiny.csv", "tiny.model"}
    assert paths["tiny.model"].read_bytes() == GOOD_MODEL
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    "served",
    [
        GOOD_CSV.replace(b"1", b"0"),  # corrupted: same length, other bytes
        GOOD_CSV[: len(GOOD_CSV) // 2],  # truncated
        b"",  # empty
    ],
    ids=["corrupted", "truncated", "empty"],
)
def test_bad_download_is_refused_and_not_cached(server, tmp_data_dir, served):
    server.put("data/tiny.csv", served)
    expected, actual = _digest(GOOD_CSV), _digest(served)
    with pytest.raises(DataIntegrityError) as caught:
        fetch("tiny.csv")
    message = str(caught.value)
    assert "tiny.csv" in message
    assert f"expected {expected}; got {actual}" in message
    assert server.count("data/tiny.csv") == 1
    # Neither the file nor any partial or temporary download is left behind.
    assert list(tmp_data_dir.iterdir()) == []


def test_data_integrity_error_is_a_value_error():
    assert issubclass(DataIntegrityError, ValueError)


def test_unknown_name_lists_the_pinned_files(server):
    with pytest.raises(KeyError) as caught:
        fetch("HEA_top31_comps.csv")
    message = str(caught.value)
    assert "HEA_top31_comps.csv" in message
    assert "tiny.csv" in message and "tiny.model" in message
    assert server.requests == []


def test_tampered_cache_is_detected_and_fetched_again(server, tmp_data_dir):
    path = fetch("tiny.csv")
    path.write_bytes(GOOD_CSV.replace(b"CoCrFeMnNi,1", b"CoCrFeMnNi,0"))
    again = fetch("tiny.csv")
    assert server.count("data/tiny.csv") == 2
    assert again.read_bytes() == GOOD_CSV


def test_tampered_cache_with_bad_server_raises(server, tmp_data_dir):
    path = fetch("tiny.csv")
    path.write_bytes(b"tampered")
    server.put("data/tiny.csv", b"also wrong")
    with pytest.raises(DataIntegrityError, match="tiny.csv"):
        fetch("tiny.csv")
    assert server.count("data/tiny.csv") == 2
    # The bad download was not moved into the cache, and no temporary is left.
    assert [p.name for p in tmp_data_dir.iterdir()] == ["tiny.csv"]
    assert path.read_bytes() != b"also wrong"


def test_cached_good_file_needs_no_server(tmp_data_dir, monkeypatch):
    (tmp_data_dir / "tiny.csv").write_bytes(GOOD_CSV)
    monkeypatch.setattr(config, "DATA_FILES", {"tiny.csv": ("data/tiny.csv", _digest(GOOD_CSV))})
    # Nothing listens here: any download attempt would fail.
    monkeypatch.setenv("HEA_DVAE_DATA_URL", "http://127.0.0.1:9/")
    assert fetch("tiny.csv") == tmp_data_dir / "tiny.csv"


def test_data_url_gets_a_trailing_slash(monkeypatch):
    monkeypatch.setenv("HEA_DVAE_DATA_URL", "http://mirror.example/d_vae_hea")
    assert config.data_url() == "http://mirror.example/d_vae_hea/"
    monkeypatch.delenv("HEA_DVAE_DATA_URL")
    assert config.data_url() == config.UPSTREAM_URL
    assert config.UPSTREAM_COMMIT in config.UPSTREAM_URL
