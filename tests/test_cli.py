"""Command line: predict on good and bad formulas, in process and as ``python -m hea_dvae``."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hea_dvae import checkpoint
from hea_dvae.cli import main
from hea_dvae.features import ELEMENTS, FEATURES, composition_vector, featurize
from hea_dvae.model import SSVAEConfig
from hea_dvae.train import TrainConfig, fit
from synthetic import synthetic_alloys as make_alloys

HEADER = "formula,p_single_phase,k,vm,tm,vac,delta,delta_chi,delta_s_mix,delta_h_mix"
SRC = Path(__file__).resolve().parents[1] / "src"


def synthetic_alloys(n, seed):
    # Real features, so that the fitted scaler is realistic.
    return make_alloys(n, seed, real_features=True)


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    """A checkpoint trained for a few epochs on synthetic alloys (featurising needs the data)."""
    config = TrainConfig(model=SSVAEConfig(hidden=(8, 8)), epochs=10, min_epochs=0)
    model, _ = fit(synthetic_alloys(80, 0), synthetic_alloys(20, 1), synthetic_alloys(30, 2),
                   config, seed=0, progress=False)
    return checkpoint.save(model, tmp_path_factory.mktemp("models") / "tiny")


@pytest.mark.needs_data
def test_predict_prints_csv_in_the_order_given(tiny_model_dir, capsys):
    formulas = ["CoCrFeNi", "Al0.5CoCrFeNi", "Fe1Ni1", "CoCrFeNi"]
    assert main(["predict", "--model", str(tiny_model_dir), *formulas]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == HEADER
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [row["formula"] for row in rows] == formulas  # exactly as typed, duplicates kept

    model = checkpoint.load(tiny_model_dir)
    features = np.asarray(featurize(np.stack([composition_vector(f) for f in formulas])))
    printed = np.array([[float(row[name]) for name in FEATURES] for row in rows])
    np.testing.assert_allclose(printed, features, rtol=1e-8)
    p = np.array([float(row["p_single_phase"]) for row in rows])
    np.testing.assert_allclose(p, model.predict_proba(features), atol=1e-6)
    assert p[0] == p[3]


@pytest.mark.needs_data
def test_bad_formula_fails_before_any_output(tiny_model_dir, capsys):
    status = main(["predict", "--model", str(tiny_model_dir), "CoCrFeNi", "CoCrXxNi", "Fe0Ni"])
    captured = capsys.readouterr()
    assert status != 0
    assert captured.out == ""
    errors = captured.err.strip().splitlines()
    assert len(errors) == 2  # one line per bad formula, none dropped silently
    assert "CoCrXxNi" in errors[0] and "Fe0Ni" in errors[1]


def test_unloadable_model_is_an_error(tmp_path, capsys):
    status = main(["predict", "--model", str(tmp_path), "CoCrFeNi"])
    captured = capsys.readouterr()
    assert status != 0 and captured.out == ""
    assert "cannot load model" in captured.err


@pytest.mark.needs_data
def test_cached_default_model_is_used(tiny_model_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HEA_DVAE_CACHE_DIR", str(tmp_path))
    checkpoint.save(checkpoint.load(tiny_model_dir), tmp_path / "default")
    assert main(["predict", "CoCrFeNi"]) == 0
    captured = capsys.readouterr()
    assert "training" not in captured.err  # no retraining when the cache is valid
    assert captured.out.splitlines()[0] == HEADER


def test_no_command_prints_help(capsys):
    assert main([]) != 0
    assert "predict" in capsys.readouterr().err


@pytest.mark.needs_data
def test_python_dash_m(tiny_model_dir):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    good = subprocess.run(
        [sys.executable, "-m", "hea_dvae", "predict", "--model", str(tiny_model_dir), "NbMoTaW"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert good.returncode == 0, good.stderr
    assert good.stdout.splitlines()[0] == HEADER
    assert good.stdout.splitlines()[1].startswith("NbMoTaW,")
    bad = subprocess.run(
        [sys.executable, "-m", "hea_dvae", "predict", "--model", str(tiny_model_dir), "NbMoTaW", "Qq"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert bad.returncode != 0 and bad.stdout == ""
    assert "Qq" in bad.stderr


@pytest.mark.needs_data
def test_train_writes_a_loadable_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--epochs", "3", "--seed", "1", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "part,accuracy,auc,brier" in printed
    assert any(line.startswith("validation,") for line in printed.splitlines())
    assert any(line.startswith("test,") for line in printed.splitlines())
    description = checkpoint.read_config(out)
    assert description["extra"]["seed"] == 1 and description["extra"]["epochs_run"] == 3
    assert len(pd.read_csv(out / "history.csv")) == 3
    checkpoint.load(out)


@pytest.mark.needs_data
def test_fetch_verifies_the_cached_files(capsys):
    from hea_dvae import config

    assert main(["fetch"]) == 0
    err = capsys.readouterr().err
    for name in config.DATA_FILES:
        assert f"ok  {name}" in err


def test_fetch_refuses_an_unknown_file(capsys):
    status = main(["fetch", "nonsense.csv"])
    err = capsys.readouterr().err
    assert status != 0
    assert "nonsense.csv" in err and "HEA_top30_comps.csv" in err
