"""Command line: predict and design, on good and bad input, in process and as ``python -m hea_dvae``."""

from __future__ import annotations

import csv
import io
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from hea_dvae import checkpoint, paper, paper_split, zoo
from hea_dvae.cli import main
from hea_dvae.features import ELEMENTS, FEATURES, composition_vector, featurize
from hea_dvae.model import SSVAEConfig
from hea_dvae.train import TrainConfig, fit
from hea_dvae.predictors import Ensemble, released_predictor
from synthetic import synthetic_alloys as make_alloys

HEADER = ("formula,p_single_phase,spread,outside_data,in_dataset,dataset_label,distance_to_data,nearest_formula,"
          "k,vm,tm,vac,delta,delta_chi,delta_s_mix,delta_h_mix")


def _table_lines(out: str) -> list[str]:
    """The CSV lines of a command's output, without the '#' provenance lines above them."""
    return [line for line in out.splitlines() if not line.startswith("#")]
SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(autouse=True)
def _private_model_cache(tmp_path, monkeypatch):
    # Nothing here may train into, or read from, the user's model cache.
    monkeypatch.setenv("HEA_DVAE_CACHE_DIR", str(tmp_path / "model-cache"))
    monkeypatch.setenv("HEA_DVAE_PROGRESS", "0")


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
    lines = _table_lines(out)
    assert lines[0] == HEADER
    assert "# model_identity: " in out and "# units: k GPa" in out
    rows = list(csv.DictReader(io.StringIO("\n".join(lines))))
    assert [row["formula"] for row in rows] == formulas  # exactly as typed, duplicates kept

    model = checkpoint.load(tiny_model_dir)
    features = np.asarray(featurize(np.stack([composition_vector(f) for f in formulas])))
    printed = np.array([[float(row[name]) for name in FEATURES] for row in rows])
    np.testing.assert_allclose(printed, features, rtol=1e-8)
    p = np.array([float(row["p_single_phase"]) for row in rows])
    np.testing.assert_allclose(p, model.predict_proba(features), atol=1e-6)
    assert p[0] == p[3]
    assert {row["spread"] for row in rows} == {"NA"}  # one model: no spread


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
def test_model_ssvae_is_the_zoo_ensemble(tiny_model_dir, monkeypatch, capsys):
    members = [checkpoint.load(tiny_model_dir), checkpoint.load(tiny_model_dir)]
    with torch.no_grad():
        members[1].encoder_y.layers[-1].bias += 1.0  # a second member that disagrees
    ensemble = Ensemble(members, name="two tiny members")
    monkeypatch.setattr(zoo, "default_predictor", lambda *args, **kwargs: ensemble)
    assert main(["predict", "--model", "ssvae", "CoCrFeNi", "NbMoTaW"]) == 0
    captured = capsys.readouterr()
    assert "two tiny members" in captured.err and ensemble.identity in captured.err
    rows = list(csv.DictReader(io.StringIO("\n".join(_table_lines(captured.out)))))
    e = featurize(np.stack([composition_vector("CoCrFeNi"), composition_vector("NbMoTaW")]))
    member_p = np.stack([m.predict_proba(e) for m in members])
    np.testing.assert_allclose([float(r["p_single_phase"]) for r in rows], member_p.mean(axis=0), atol=1e-6)
    np.testing.assert_allclose([float(r["spread"]) for r in rows], member_p.std(axis=0), atol=1e-6)
    assert all(float(r["spread"]) > 0 for r in rows)
    # The design routes' default is the same ensemble (they cannot take the forest).
    for model in ([], ["--model", "ssvae"], ["--model", "default"]):
        assert main(["design", "screen", "--k", "2", "--elements", "Co", "Cr", "Fe", *model]) == 0
        out = capsys.readouterr().out
        assert f"# model_identity: {ensemble.identity}" in out, model


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
    assert _table_lines(good.stdout)[0] == HEADER
    assert _table_lines(good.stdout)[1].startswith("NbMoTaW,")
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
    assert pd.read_csv(out / "history.csv")["epoch"].tolist() == [3]  # one row per evaluation
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


# --------------------------------------------------------------------------
# predict --input


def _predicted(out: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(out), comment="#")


@pytest.mark.needs_data
@pytest.mark.parametrize(
    "content",
    [
        "id,formula,note\n1,CoCrFeNi,a\n2,NbMoTaW,b\n3,Al0.5CoCrFeNi,c\n",  # the 'formula' column
        "Formula ,year\nCoCrFeNi,2004\nNbMoTaW,2010\nAl0.5CoCrFeNi,2005\n",  # any case, blanks around
        "# my alloys\nCoCrFeNi\n\nNbMoTaW\nAl0.5CoCrFeNi\n",  # one per line, comments and blanks skipped
        "formula\nCoCrFeNi\nNbMoTaW\nAl0.5CoCrFeNi\n",  # one per line under a header
    ],
    ids=["formula-column", "formula-column-spelled-otherwise", "lines", "lines-with-header"],
)
def test_predict_reads_formulas_from_a_file(tiny_model_dir, tmp_path, capsys, content):
    path = tmp_path / "alloys.csv"
    path.write_text(content)
    assert main(["predict", "--model", str(tiny_model_dir), "--input", str(path), "CuNi"]) == 0
    table = _predicted(capsys.readouterr().out)
    assert table["formula"].tolist() == ["CuNi", "CoCrFeNi", "NbMoTaW", "Al0.5CoCrFeNi"]


@pytest.mark.needs_data
def test_predict_reads_standard_input(tiny_model_dir, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("FeNi\nCoCrFeMnNi\n"))
    assert main(["predict", "--model", str(tiny_model_dir), "--input", "-"]) == 0
    assert _predicted(capsys.readouterr().out)["formula"].tolist() == ["FeNi", "CoCrFeMnNi"]


@pytest.mark.needs_data
def test_predict_names_the_line_of_a_bad_formula(tiny_model_dir, tmp_path, capsys):
    path = tmp_path / "alloys.txt"
    path.write_text("CoCrFeNi\nCoCrXxNi\n")
    assert main(["predict", "--model", str(tiny_model_dir), "--input", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "alloys.txt line 2" in captured.err and "CoCrXxNi" in captured.err


def test_predict_unreadable_input_is_bad_input(tmp_path, capsys):
    assert main(["predict", "--input", str(tmp_path / "missing.csv")]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "missing.csv" in captured.err


def test_predict_without_formulas_is_bad_input(capsys):
    assert main(["predict"]) == 2
    assert "--input" in capsys.readouterr().err


@pytest.mark.needs_data
def test_predict_with_the_released_model(capsys):
    assert main(["predict", "--model", "released", "CoCrFeMnNi"]) == 0
    row = _predicted(capsys.readouterr().out).iloc[0]
    released = released_predictor()
    expected = released.predict_proba(released.featurize(composition_vector("CoCrFeMnNi")[None]))[0]
    assert row["p_single_phase"] == pytest.approx(expected, abs=1e-6)


@pytest.mark.needs_data
def test_predict_with_the_forest_on_descriptors(capsys):
    from hea_dvae.descriptors import DESCRIPTORS, model_inputs
    from hea_dvae.metrics import roc_auc

    formulas = ["CoCrFeMnNi", "MoNbTaW", "Al3Zr"]
    assert main(["predict", "--model", "forest", *formulas]) == 0
    captured = capsys.readouterr()
    # The forest is predict's default (and 'default' names it), not the design routes'.
    for default in ([], ["--model", "default"]):
        assert main(["predict", *default, *formulas]) == 0
        assert capsys.readouterr() == captured
    table = _predicted(captured.out)
    assert "# model: random forest, 31 descriptors (corrected table, seed 0)" in captured.out
    forest = zoo.forest_predictor()
    assert f"identity {forest.identity}" in captured.err
    x = np.stack([composition_vector(f) for f in formulas])
    # The forest's probability is its trees' mean; the spread their standard deviation.
    trees = forest.member_probabilities(forest.featurize(x))  # equal to scikit-learn's (tests/test_forest.py)
    np.testing.assert_allclose(table["p_single_phase"], trees.mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(table["spread"], trees.std(axis=0), atol=1e-12)
    # Its inputs, the 31 descriptors, are in the output; omega and Lambda as the forest reads them.
    expected = model_inputs(x, table="corrected")
    assert "log10_omega" in table.columns and "omega" not in table.columns and len(forest.features) == len(DESCRIPTORS)
    # The units line names every descriptor's unit, the logarithms as such.
    units = next(line for line in captured.out.splitlines() if line.startswith("# units:"))
    assert "log10_omega log10 of omega (dimensionless)" in units and "h_pair_min kJ/mol" in units
    assert all(f"{name} " in units for name in forest.features)
    np.testing.assert_allclose(table["delta"], expected["delta"], rtol=1e-9)
    np.testing.assert_allclose(table["log10_omega"], expected["omega"], rtol=1e-9)
    # Fitted on the paper split's labelled alloys only: the same forest again, and it ranks the test alloys.
    assert zoo.forest_predictor().identity == forest.identity
    assert zoo.forest_predictor(seed=1).identity != forest.identity
    test = paper_split()["test"]
    p_test = forest.predict_proba(forest.featurize(test[list(ELEMENTS)].to_numpy()))
    assert roc_auc(test["label"], p_test) > 0.85
    # A predictor that scores, not one that decodes or designs member by member.
    from hea_dvae.predictors import Differentiable, Predictor

    assert isinstance(forest, Predictor) and not isinstance(forest, Differentiable)
    assert forest.n_members == 500
    with pytest.raises(TypeError, match="trees"):
        forest.member(0)


def test_forest_is_for_predict_only(capsys):
    assert main(["design", "screen", "--k", "4", "--model", "forest"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "--model forest scores alloys with 'hea-dvae predict' only" in captured.err
    assert main(["predict", "--model", "forest", "--model", "released", "CoCrFeMnNi"]) == 2
    assert "stands alone" in capsys.readouterr().err


# --------------------------------------------------------------------------
# design


def _design_table(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), comment="#")


def _independent_p(model_dir, formulas) -> np.ndarray:
    model = checkpoint.load(model_dir)
    return model.predict_proba(featurize(np.stack([composition_vector(f) for f in formulas])))


@pytest.mark.needs_data
def test_design_screen_ranks_every_alloy_of_a_small_space(tiny_model_dir, capsys):
    pool = ["Co", "Cr", "Fe", "Mn", "Ni"]
    assert main(["design", "screen", "--elements", *pool, "--k", "3", "4", "--top", "100",
                 "--model", str(tiny_model_dir)]) == 0
    captured = capsys.readouterr()
    table = _design_table(captured.out)
    assert len(table) == math.comb(5, 3) + math.comb(5, 4)  # every equimolar alloy, once
    assert table["formula"].is_unique
    assert table["rank"].tolist() == list(range(1, len(table) + 1))
    p = table["p_single_phase"].to_numpy()
    assert (np.diff(p) <= 0).all()  # highest first
    np.testing.assert_allclose(p, _independent_p(tiny_model_dir, table["formula"]), atol=1e-5)
    x = np.stack([composition_vector(f) for f in table["formula"]])
    assert set(np.array(ELEMENTS)[(x > 0).any(axis=0)]) == set(pool)
    for column in ("spread", "rules_single_phase", "nearest", "distance_to_data", "outside_data", "in_dataset"):
        assert column in table
    assert f"# model_identity: {Ensemble([checkpoint.load(tiny_model_dir)]).identity}" in captured.out


@pytest.mark.needs_data
def test_design_screen_top_n_are_the_best_and_carry_a_recipe(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "best.csv"
    assert main(["design", "screen", "--elements", "Co", "Cr", "Fe", "Mn", "Ni", "Al", "--k", "4",
                 "--top", "4", "--batch-grams", "50", "--model", str(tiny_model_dir), "--out", str(out)]) == 0
    assert capsys.readouterr().out == ""
    table = pd.read_csv(out, comment="#")
    everything = ["".join(c) for c in __import__("itertools").combinations(["Co", "Cr", "Fe", "Mn", "Ni", "Al"], 4)]
    best = np.sort(_independent_p(tiny_model_dir, everything))[::-1][:4]
    np.testing.assert_allclose(table["p_single_phase"], best, atol=1e-5)
    grams = table.filter(like="grams_")
    np.testing.assert_allclose(grams.sum(axis=1), 50, rtol=1e-9)
    assert "# batch_grams: 50.0" in out.read_text()


@pytest.mark.needs_data
def test_design_latent_reproduces_the_paper_with_the_released_model(capsys):
    assert main(["design", "latent", "--z", "0", "-0.8", "--y", "0.9", "0.1", "--model", "released"]) == 0
    table = _design_table(capsys.readouterr().out)
    assert table["formula"].tolist() == [d.formula for d in paper.LATENT_DESIGNS[:2]]
    assert table["p_single_phase"].round(2).tolist() == [d.p for d in paper.LATENT_DESIGNS[:2]]


@pytest.mark.needs_data
def test_design_invert_flip_reproduces_the_paper(capsys, tmp_path):
    path = tmp_path / "path.csv"
    assert main(["design", "invert", "--seed", paper.FLIP_SEED, "--method", "flip",
                 "--target", str(paper.FLIP_TARGET), "--model", "released", "--trajectory", str(path)]) == 0
    final = _design_table(capsys.readouterr().out).iloc[0]
    assert (final["formula"], round(final["p_single_phase"], 2)) == paper.FLIP_PATH[-1]
    assert pd.read_csv(path, comment="#")["p_single_phase"].round(2).tolist() == [p for _, p in paper.FLIP_PATH]


@pytest.mark.needs_data
@pytest.mark.slow
def test_design_invert_gradient_respects_the_constraints(tiny_model_dir, capsys):
    assert main(["design", "invert", "--seed", "AlCoCrFeNi", "CoCrFeMnNi", "--method", "gradient",
                 "--elements", "Al", "Co", "Cr", "Fe", "Ni", "Mn", "Ti", "--max-elements", "4",
                 "--min-fraction", "0.1", "--step", "0.05", "--steps", "60", "--target", "0.9",
                 "--batch-grams", "20", "--model", str(tiny_model_dir)]) == 0
    table = _design_table(capsys.readouterr().out)
    assert table["seed"].tolist() == ["AlCoCrFeNi", "CoCrFeMnNi"]
    x = np.stack([composition_vector(f) for f in table["formula"]])
    allowed = [ELEMENTS.index(s) for s in ("Al", "Co", "Cr", "Fe", "Ni", "Mn", "Ti")]
    assert (np.delete(x, allowed, axis=1) == 0).all()
    assert ((x > 0).sum(axis=1) <= 4).all()
    assert (x[x > 0] >= 0.1 - 1e-9).all()
    np.testing.assert_allclose(x * 20, np.round(x * 20), atol=1e-9)  # on the 5 at.% grid
    assert table["admitted"].all()
    np.testing.assert_allclose(table.filter(like="grams_").sum(axis=1), 20, rtol=1e-9)


@pytest.mark.parametrize(
    "arguments, named",
    [
        (["design", "screen", "--elements", "Co", "Cr", "Xx", "--k", "2"], "Xx"),
        (["design", "screen", "--elements", "Co", "Cr", "Fe", "--k", "4"], "4"),
        (["design", "screen", "--k", "4", "--min-fraction", "0.3", "--step", "0.05"], "1.2"),
        (["design", "screen", "--k", "4", "--constraints", "missing.yaml"], "missing.yaml"),
        (["design", "screen", "--elements", "Co", "Cr", "Fe"], "--k"),
        (["design", "invert", "--seed", "CoCrFeNi", "--target", "1.5"], "1.5"),
        (["design", "invert", "--seed", "CoCrFeNi", "--target", "0"], "target"),
        (["design", "invert", "--seed", "CoCrUNi"], "U"),
        (["design", "invert", "--seed", "CoCrFeNi", "--n-elements", "4", "--min-fraction", "0.3"], "1.2"),
        (["design", "latent", "--z", "0", "0", "--y", "2"], "2"),
        (["design", "latent", "--z", "0", "0", "--batch-grams", "-5"], "-5"),
        (["design", "invert", "--seed", "CoCrFeNi", "--steps", "-1"], "-1"),
    ],
    ids=["unknown-element", "k-above-pool", "min-fractions-above-1", "missing-constraints-file", "no-k",
         "target-above-1", "target-0", "seed-element-outside-30", "contradictory-invert", "label-above-1",
         "negative-batch", "negative-steps"],
)
def test_design_bad_input_exits_2_and_writes_nothing(arguments, named, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "result.csv"
    assert main([*arguments, "--model", "released", "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert named in captured.err
    assert list(tmp_path.iterdir()) == []


def test_design_output_into_a_missing_folder_is_bad_input(tmp_path, capsys):
    out = tmp_path / "no" / "such" / "folder.csv"
    assert main(["design", "latent", "--z", "0", "0", "--model", "released", "--out", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_design_without_a_route_prints_its_help(capsys):
    assert main(["design"]) == 2
    assert "screen" in capsys.readouterr().err


@pytest.mark.needs_data
def test_design_screen_as_a_process_writes_its_file(tiny_model_dir, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
           "HEA_DVAE_CACHE_DIR": str(tmp_path / "cache")}
    out = tmp_path / "screen.csv"
    done = subprocess.run(
        [sys.executable, "-m", "hea_dvae", "design", "screen", "--elements", "Fe", "Ni", "Co", "Cr",
         "--k", "2", "--top", "3", "--model", str(tiny_model_dir), "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert len(pd.read_csv(out, comment="#")) == 3
    bad = subprocess.run(
        [sys.executable, "-m", "hea_dvae", "design", "screen", "--elements", "Fe", "Ni", "--k", "3",
         "--model", str(tiny_model_dir), "--out", str(tmp_path / "bad.csv")],
        capture_output=True, text=True, env=env, timeout=180,
    )
    assert bad.returncode == 2 and not (tmp_path / "bad.csv").exists()


@pytest.mark.needs_data
def test_design_screen_reads_a_constraints_file_and_flags_override_it(tiny_model_dir, tmp_path, capsys):
    path = tmp_path / "design.yaml"
    path.write_text("elements: [Co, Cr, Fe, Ni, Mn]\nn_elements: [4]\n")
    assert main(["design", "screen", "--constraints", str(path), "--top", "50", "--model", str(tiny_model_dir)]) == 0
    assert len(_design_table(capsys.readouterr().out)) == math.comb(5, 4)
    assert main(["design", "screen", "--constraints", str(path), "--k", "2", "--forbid", "Mn", "--top", "50",
                 "--model", str(tiny_model_dir)]) == 0
    table = _design_table(capsys.readouterr().out)
    assert len(table) == math.comb(4, 2) and not table["formula"].str.contains("Mn").any()


GRID = ["--elements", "Co", "Cr", "Fe", "Mn", "Ni", "Al", "--k", "3", "4", "--step", "0.1",
        "--min-fraction", "0.1", "--top", "15"]


def _body(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, comment="#")


@pytest.mark.needs_data
def test_design_screen_reads_yaml_and_toml_alike(tiny_model_dir, tmp_path, capsys):
    (tmp_path / "space.yaml").write_text(
        "elements: [Co, Cr, Fe, Ni, Mn, Al]\nforbidden: [Mn]\nn_elements: [3, 4]\n"
        "min_fraction: 0.1\nmax_fraction: 0.5\nbounds:\n  Al: [0.1, 0.2]\nstep: 0.1\n")
    (tmp_path / "space.toml").write_text(
        'elements = ["Co", "Cr", "Fe", "Ni", "Mn", "Al"]\nforbidden = ["Mn"]\nn_elements = [3, 4]\n'
        "min_fraction = 0.1\nmax_fraction = 0.5\nstep = 0.1\n\n[bounds]\nAl = [0.1, 0.2]\n")
    tables = []
    for name in ("space.yaml", "space.toml"):
        assert main(["design", "screen", "--constraints", str(tmp_path / name), "--top", "500",
                     "--model", str(tiny_model_dir)]) == 0
        tables.append(_design_table(capsys.readouterr().out))
    pd.testing.assert_frame_equal(tables[0], tables[1])
    x = np.stack([composition_vector(f) for f in tables[0]["formula"]])
    assert x[:, ELEMENTS.index("Mn")].max() == 0
    assert x.max() <= 0.5 + 1e-9 and x[:, ELEMENTS.index("Al")].max() <= 0.2 + 1e-9


@pytest.mark.needs_data
def test_design_screen_writes_its_summary_above_the_table(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "best.csv"
    assert main(["design", "screen", *GRID, "--model", str(tiny_model_dir), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "alloys of" in err and "per second" in err and "> 0.9" in err
    header = [line for line in out.read_text().splitlines() if line.startswith("#")]
    for key in ("alloys", "share_above_0.5", "share_above_0.9", "alloys_above_0.5", "seconds", "backend"):
        assert any(line.startswith(f"# {key}: ") for line in header), key


@pytest.mark.needs_data
def test_design_screen_resumes_from_its_state_file(tiny_model_dir, tmp_path, capsys):
    reference, first, second = (tmp_path / f"{name}.csv" for name in ("reference", "first", "second"))
    state = tmp_path / "state.npz"
    common = [*GRID, "--model", str(tiny_model_dir)]
    assert main(["design", "screen", *common, "--out", str(reference)]) == 0
    assert main(["design", "screen", *common, "--resume", str(state), "--out", str(first)]) == 0
    assert state.is_file()
    assert main(["design", "screen", *common, "--resume", str(state), "--out", str(second)]) == 0
    pd.testing.assert_frame_equal(_body(first), _body(reference))
    pd.testing.assert_frame_equal(_body(second), _body(reference))
    capsys.readouterr()
    other = tmp_path / "other.csv"
    assert main(["design", "screen", *common, "--forbid", "Al", "--resume", str(state), "--out", str(other)]) == 2
    assert "state.npz" in capsys.readouterr().err and not other.exists()


@pytest.mark.needs_data
@pytest.mark.parametrize("parallel", [["--workers", "2"], ["--backend", "dask", "--workers", "2"]],
                         ids=["threads", "dask-local-cluster"])
def test_design_screen_in_parallel_gives_the_serial_result(parallel, tiny_model_dir, tmp_path, capsys):
    serial, parallel_out = tmp_path / "serial.csv", tmp_path / "parallel.csv"
    common = [*GRID, "--model", str(tiny_model_dir)]
    assert main(["design", "screen", *common, "--workers", "1", "--out", str(serial)]) == 0
    assert main(["design", "screen", *common, *parallel, "--out", str(parallel_out)]) == 0
    pd.testing.assert_frame_equal(_body(parallel_out), _body(serial))
    backend = "dask" if "dask" in parallel else "threads"
    assert f"# backend: {backend}" in parallel_out.read_text()


@pytest.mark.parametrize(
    "arguments, named",
    [
        (["--k", "4", "--scheduler", "tcp://127.0.0.1:1", "--backend", "threads"], "--scheduler"),
        (["--k", "4", "--resume", "no/such/folder/state.npz"], "--resume"),
        (["--k", "4", "--workers", "0"], "--workers"),
        (["--k", "4", "--model", "no-such-checkpoint"], "no-such-checkpoint"),
    ],
    ids=["scheduler-with-threads", "resume-in-missing-folder", "no-workers", "missing-model"],
)
def test_design_screen_bad_options_exit_2_and_write_nothing(arguments, named, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["design", "screen", "--elements", "Co", "Cr", "Fe", "Ni", "Mn", *arguments,
                 "--out", str(tmp_path / "result.csv")]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and named in captured.err
    assert list(tmp_path.iterdir()) == []


def test_unreadable_constraints_file_is_bad_input(tmp_path, capsys):
    folder = tmp_path / "design.yaml"
    folder.mkdir()  # a folder where a file is expected
    assert main(["design", "screen", "--constraints", str(folder), "--model", "released"]) == 2
    assert "design.yaml" in capsys.readouterr().err


@pytest.mark.needs_data
def test_train_records_the_prior_and_the_table(tmp_path, capsys):
    out = tmp_path / "expert"
    assert main(["train", "--out", str(out), "--epochs", "2", "--prior", "expert", "--table", "corrected",
                 "--quiet"]) == 0
    description = checkpoint.read_config(out)
    assert description["extra"]["prior"]["kind"] == "expert"
    assert description["model"]["table"] == "corrected"
    out = tmp_path / "constant"
    assert main(["train", "--out", str(out), "--epochs", "2", "--prior", "0.6", "--quiet"]) == 0
    assert checkpoint.read_config(out)["extra"]["prior"] == {"kind": "constant", "r": 0.6}


def test_train_offers_every_element_table(tmp_path):
    # Kept apart so that --help loads no numpy: the tables of the library all the same.
    from hea_dvae import cli, elements

    assert cli.TABLES == elements.TABLES
    out = tmp_path / "standard"
    assert main(["train", "--out", str(out), "--epochs", "2", "--table", "standard", "--quiet"]) == 0
    assert checkpoint.read_config(out)["model"]["table"] == "standard"
    assert main(["predict", "CoCrFeMnNi", "--model", str(out)]) == 0


@pytest.mark.parametrize("prior", ["1.5", "optimistic"])
def test_train_refuses_a_nonsense_prior(tmp_path, capsys, prior):
    out = tmp_path / "never"
    assert main(["train", "--out", str(out), "--epochs", "2", "--prior", prior, "--quiet"]) == 2
    assert "prior" in capsys.readouterr().err
    assert not out.exists()
