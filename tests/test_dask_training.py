"""Filling the model cache on a Dask cluster: the same models, stored as if trained here."""

from __future__ import annotations

import logging
import sys
import time

import pytest
import torch

from hea_dvae import zoo
from hea_dvae.batched import Run, fit_batch, fit_many
from hea_dvae.cli import main
from hea_dvae.model import SSVAEConfig
from hea_dvae.train import TrainConfig
from hea_dvae.workers import run_on_dask
from synthetic import synthetic_split

TINY = TrainConfig(model=SSVAEConfig(hidden=(8, 8)), epochs=4, batch_size=64, eval_every=2)
#: An address where no scheduler listens (port 1 refuses connections).
NOWHERE = "tcp://127.0.0.1:1"


@pytest.fixture(scope="module")
def split():
    return synthetic_split(120, 60, 60)


@pytest.fixture(scope="module")
def tiny():
    """Another pool size: a run of other cost beside those on ``split``."""
    return synthetic_split(20, 10, 15)


@pytest.fixture(autouse=True)
def _no_scheduler_from_the_environment(monkeypatch):
    monkeypatch.delenv("HEA_DVAE_SCHEDULER", raising=False)


def _jobs(split, tiny) -> list[tuple]:
    parts = (split["labelled"], split["unlabelled"], split["validation"])
    return [(*parts, TINY, 0), (*parts, TINY, 1), (tiny["labelled"], tiny["unlabelled"], tiny["validation"], TINY, 2),
            (*parts, TINY, 3)]


def _cached(jobs) -> list:
    return [zoo.cached_fit(*job, progress=False) for job in jobs]


def _assert_bitwise_equal(first, second) -> None:
    (model_a, history_a), (model_b, history_b) = first, second
    state_a, state_b = model_a.state_dict(), model_b.state_dict()
    assert state_a.keys() == state_b.keys()
    for name in state_a:
        assert torch.equal(state_a[name], state_b[name]), name
    assert history_a.drop(columns="seconds").equals(history_b.drop(columns="seconds"))
    assert history_a.attrs == history_b.attrs


@pytest.mark.slow
def test_models_trained_on_a_cluster_are_those_trained_here(split, tiny, tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    jobs = _jobs(split, tiny)
    monkeypatch.setenv("HEA_DVAE_CACHE_DIR", str(tmp_path / "here"))
    assert zoo.train_missing(jobs, workers=1, progress=False) == len(jobs)
    here = _cached(jobs)

    monkeypatch.setenv("HEA_DVAE_CACHE_DIR", str(tmp_path / "cluster"))
    # CRITICAL: workers log a harmless heartbeat error when the cluster closes.
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=logging.CRITICAL) as cluster, distributed.Client(cluster) as client:
        with distributed.get_task_stream(client) as tasks:
            assert zoo.train_missing(jobs, progress=False, scheduler=client) == len(jobs)
        # One batch for each worker, and the client given is left open.
        assert len(tasks.data) == 2 and len({task["worker"] for task in tasks.data}) == 2
        assert client.status == "running"
        # Nothing is missing any more: no task is sent (nor a client made).
        assert zoo.train_missing(jobs, scheduler=NOWHERE) == 0
    assert all(zoo.is_cached(*job) for job in jobs)
    for first, second in zip(here, _cached(jobs)):
        _assert_bitwise_equal(first, second)


def test_a_worker_with_two_threads_trains_the_same_models(tiny):
    # Two batches at once in one process: they must not mix their draws from
    # torch's global generator (fit_many calls take turns).
    distributed = pytest.importorskip("distributed")
    parts = (tiny["labelled"], tiny["unlabelled"], tiny["validation"])
    runs = [Run(*parts, TINY, seed) for seed in range(16)]
    here = fit_many(runs, progress=False)
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # the threads interleave often: a race shows at once
    try:
        with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None,
                                      silence_logs=logging.CRITICAL) as cluster, distributed.Client(cluster) as client:
            there = run_on_dask(fit_batch, [(runs[:8], None), (runs[8:], None)], client)
    finally:
        sys.setswitchinterval(switch_interval)
    for first, second in zip(here, there[0] + there[1]):
        _assert_bitwise_equal(first, second)


def test_the_environment_variable_names_the_scheduler(split, tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    parts = (split["labelled"], split["unlabelled"], split["validation"])
    monkeypatch.setenv("HEA_DVAE_CACHE_DIR", str(tmp_path / "models"))
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None,
                                  silence_logs=logging.CRITICAL) as cluster, distributed.Client(cluster) as client:
        monkeypatch.setenv("HEA_DVAE_SCHEDULER", cluster.scheduler_address)
        with distributed.get_task_stream(client) as tasks:
            _, histories = zoo.fit_seeds(split, TINY, seeds=[5], progress=False)
    assert [task["key"].split("-")[0] for task in tasks.data] == ["fit_batch"]
    assert zoo.is_cached(*parts, TINY, 5) and histories[5].attrs["seed"] == 5


def test_an_error_on_a_worker_reaches_the_caller(split, tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    monkeypatch.setenv("HEA_DVAE_CACHE_DIR", str(tmp_path / "models"))
    job = (split["labelled"], split["unlabelled"], split["validation"].iloc[:0], TINY, 0)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None,
                                  silence_logs=logging.CRITICAL) as cluster:
        with pytest.raises(ValueError, match="no validation alloys"):
            zoo.train_missing([job], scheduler=cluster.scheduler_address)
    assert not zoo.is_cached(*job)


def test_an_unreachable_scheduler_is_named_quickly(split, tmp_path, monkeypatch):
    dask = pytest.importorskip("dask")
    pytest.importorskip("distributed")
    monkeypatch.setenv("HEA_DVAE_CACHE_DIR", str(tmp_path / "models"))
    parts = (split["labelled"], split["unlabelled"], split["validation"])
    start = time.perf_counter()
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(ConnectionError, match="cannot reach the Dask scheduler at 'tcp://127.0.0.1:1'"):
            zoo.train_missing([(*parts, TINY, 0)], scheduler=NOWHERE)
        monkeypatch.setenv("HEA_DVAE_SCHEDULER", "not-an-address")
        with pytest.raises(ConnectionError, match="'not-an-address'"):
            zoo.train_missing([(*parts, TINY, 0)])
    assert time.perf_counter() - start < 10
    assert not zoo.is_cached(*parts, TINY, 0)


def test_train_lists_the_scheduler_option(capsys):
    with pytest.raises(SystemExit) as exit_status:
        main(["train", "--help"])
    assert exit_status.value.code == 0
    assert "--scheduler ADDRESS" in capsys.readouterr().out


def test_train_names_an_unreachable_scheduler(tmp_path, capsys, monkeypatch):
    dask = pytest.importorskip("dask")
    pytest.importorskip("distributed")
    monkeypatch.setattr("hea_dvae.data.paper_split", lambda: synthetic_split(20, 10, 15, 10))
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        status = main(["train", "--out", str(tmp_path / "model"), "--scheduler", NOWHERE, "--quiet"])
    assert status == 1
    assert "cannot reach the Dask scheduler at 'tcp://127.0.0.1:1'" in capsys.readouterr().err
    assert not (tmp_path / "model").exists()
