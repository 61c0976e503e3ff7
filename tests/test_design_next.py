"""``design next``: a diverse batch of alloys to make next, from a constrained space, never a known alloy."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from hea_dvae import checkpoint, design
from hea_dvae.cli import STRATEGIES, build_parser, main
from hea_dvae.compositions import SAME_ALLOY_AT_PCT, composition_distance, composition_vector
from hea_dvae.design import experiments
from hea_dvae.design.screen import iter_compositions
from hea_dvae.features import ELEMENTS
from hea_dvae.model import SSVAEConfig
from hea_dvae.predictors import Ensemble, score
from hea_dvae.train import TrainConfig, fit
from hea_dvae.userdata import RESULTS_FILE
from synthetic import synthetic_alloys

POOL = ["Co", "Cr", "Fe", "Mn", "Ni", "Al", "Cu"]
#: A small grid space: 3- and 4-element alloys of POOL, 10-60 at.% in 10 at.% steps.
SPACE = {"elements": POOL, "n_elements": [3, 4], "min_fraction": 0.1, "max_fraction": 0.6, "step": 0.1}
SPACE_OPTIONS = ["--elements", *POOL, "--k", "3", "4", "--min-fraction", "0.1", "--max-fraction", "0.6",
                 "--step", "0.1"]


@pytest.fixture(scope="module")
def tiny_members(tmp_path_factory):
    """Two checkpoints trained for a few epochs on synthetic alloys (featurising needs the data)."""
    folder = tmp_path_factory.mktemp("members")
    config = TrainConfig(model=SSVAEConfig(hidden=(8, 8)), epochs=10, min_epochs=0)
    parts = [synthetic_alloys(80, 0, real_features=True), synthetic_alloys(20, 1, real_features=True),
             synthetic_alloys(30, 2, real_features=True)]
    return [checkpoint.save(fit(*parts, config, seed=seed, progress=False)[0], folder / f"seed{seed}")
            for seed in (0, 1)]


@pytest.fixture(scope="module")
def ensemble(tiny_members):
    return Ensemble([checkpoint.load(path) for path in tiny_members], name="two tiny members")


def _table(text: str) -> pd.DataFrame:
    from io import StringIO

    return pd.read_csv(StringIO(text), comment="#")


def _brute_force(predictor, constraints, n, strategy, min_distance, same_set, reference):
    """select_batch over every alloy of the space that is not known: what design next must return."""
    x = np.concatenate(list(iter_compositions(design.as_constraints(constraints))))
    known = composition_distance(x, reference.fractions).min(axis=1) <= SAME_ALLOY_AT_PCT
    x = x[~known]
    p, spread = score(predictor, x)
    values = design.acquisition_values(p, spread, strategy)
    return x[design.select_batch(x, values, n, min_distance, same_set)]


def _next_parser():
    return build_parser()._subparsers._group_actions[0].choices["design"]._subparsers._group_actions[0].choices["next"]


def test_the_command_line_s_defaults_are_the_library_s():
    # Kept apart so that --help loads no numpy: the same values all the same.
    assert STRATEGIES == design.STRATEGIES
    parser = _next_parser()
    defaults = {action.dest: action.default for action in parser._actions}
    assert defaults["strategy"] == "balanced"
    assert defaults["min_distance"] == design.acquisition.DEFAULT_MIN_DISTANCE
    assert defaults["kappa"] == design.acquisition.DEFAULT_KAPPA
    assert "balanced" in parser.format_help() and "p + spread" in parser.format_help()


@pytest.mark.needs_data
@pytest.mark.parametrize("strategy", ["balanced", "greedy", "uncertain"])
@pytest.mark.parametrize("same_set", [False, True])
def test_the_pool_gives_the_batch_of_the_whole_space(ensemble, strategy, same_set, monkeypatch):
    # A pool of one candidate per alloy wanted (and per set) is far too small:
    # it must grow until the batch is the one of the whole space.
    monkeypatch.setattr(experiments, "POOL_PER_ALLOY", 1)
    monkeypatch.setattr(experiments, "PER_SET", 1)
    monkeypatch.setattr(experiments, "GROWTH", 2)
    monkeypatch.setattr(experiments, "COMPILED_FROM", 0)  # the compiled softplus: the same bits
    reference = design.dataset_reference()
    got = design.next_experiments(ensemble, SPACE, n=6, strategy=strategy, min_distance=25,
                                  same_element_set=same_set, reference=reference, batch_size=1000)
    expected = _brute_force(ensemble, SPACE, 6, strategy, 25, same_set, reference)
    np.testing.assert_allclose(got[list(ELEMENTS)].to_numpy(), expected)
    assert got.attrs["parameters"]["exact"] is True


@pytest.mark.needs_data
def test_known_alloys_are_never_proposed(ensemble):
    first = design.next_experiments(ensemble, SPACE, n=4, strategy="greedy")
    # The first batch, once made, is known: the next batch avoids it.
    made = first[["formula", *ELEMENTS]].assign(label=1)
    reference = design.reference_with(made)
    second = design.next_experiments(ensemble, SPACE, n=4, strategy="greedy", reference=reference)
    distances = composition_distance(second[list(ELEMENTS)].to_numpy(), first[list(ELEMENTS)].to_numpy())
    assert distances.min() > SAME_ALLOY_AT_PCT
    assert second.attrs["parameters"]["known_skipped"] >= 1
    assert len(reference.fractions) == len(design.dataset_reference().fractions) + 4


@pytest.mark.needs_data
def test_random_is_seeded(ensemble):
    draw = [design.next_experiments(ensemble, SPACE, n=3, strategy="random", seed=s)["formula"].tolist()
            for s in (1, 1, 2)]
    assert draw[0] == draw[1] != draw[2]


@pytest.mark.needs_data
def test_design_next_proposes_n_diverse_alloys_outside_the_data(tiny_members, tmp_path, capsys):
    out = tmp_path / "next.csv"
    # Equimolar alloys of the pool: CoCrFeNi, CoCrFeMnNi and others are in the dataset.
    assert main(["design", "next", "--n", "8", "--elements", *POOL, "--k", "3", "4", "5",
                 "--model", str(tiny_members[0]), "--strategy", "greedy", "--min-distance", "10",
                 "--batch-grams", "20", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "8 of 91 alloys proposed (greedy)" in err
    table = pd.read_csv(out, comment="#")
    assert len(table) == 8
    x = np.stack([composition_vector(f) for f in table["formula"]])
    distances = composition_distance(x, x)
    np.fill_diagonal(distances, np.inf)
    assert distances.min() >= 10
    assert len({frozenset(np.flatnonzero(row)) for row in x}) == 8  # one per element set
    dataset = design.dataset_reference().fractions
    assert composition_distance(x, dataset).min() > SAME_ALLOY_AT_PCT
    assert not table["in_dataset"].any()
    for column in ("rank", "p_single_phase", "spread", "acquisition", "why", "rules_single_phase", "nearest",
                   "distance_to_data", "outside_data", "recipe"):
        assert column in table
    assert (np.diff(table["acquisition"]) <= 0).all()  # taken in order of value
    assert table["why"].str.startswith("highest p").all()
    text = out.read_text()
    assert "# route: next" in text and "# strategy: greedy" in text and "# min_distance: 10.0" in text


@pytest.mark.needs_data
def test_design_next_same_system_and_balanced(tiny_members, capsys):
    assert main(["design", "next", "--n", "5", "--elements", "Co", "Cr", "Fe", "Ni", "--k", "4", "--step", "0.05",
                 "--min-fraction", "0.05", "--same-system", "--min-distance", "8",
                 "--model", str(tiny_members[0])]) == 0
    table = _table(capsys.readouterr().out)
    assert len(table) == 5
    x = np.stack([composition_vector(f) for f in table["formula"]])
    distances = composition_distance(x, x)
    np.fill_diagonal(distances, np.inf)
    assert distances.min() >= 8 - 1e-9
    assert table["why"].str.contains("one model, no spread").all()  # a single checkpoint: balanced is greedy


@pytest.mark.needs_data
def test_design_next_leaves_out_your_results(tiny_members, tmp_path, capsys):
    options = ["design", "next", "--n", "3", *SPACE_OPTIONS, "--strategy", "greedy", "--model", str(tiny_members[0])]
    assert main(options) == 0
    first = _table(capsys.readouterr().out)
    results = tmp_path / "results.csv"
    results.write_text("formula,single_phase\n" + "".join(f"{f},0\n" for f in first["formula"]))
    assert main([*options, "--data", str(results)]) == 0
    captured = capsys.readouterr()
    assert "the 3 of" in captured.err
    second = _table(captured.out)
    assert not set(first["formula"]) & set(second["formula"])


@pytest.mark.needs_data
def test_a_space_of_known_alloys_proposes_what_is_left(tiny_members, capsys):
    # Equimolar alloys of Co Cr Fe Mn Ni: CoCrFeNi, CoCrFeMnNi and others are in the dataset.
    assert main(["design", "next", "--elements", "Co", "Cr", "Fe", "Mn", "Ni", "--k", "4", "5",
                 "--model", str(tiny_members[0])]) == 0
    captured = capsys.readouterr()
    table = _table(captured.out)
    known = design.dataset_reference().fractions
    x = np.stack([composition_vector(f) for f in table["formula"]])
    assert composition_distance(x, known).min() > SAME_ALLOY_AT_PCT
    skipped = int(captured.out.split("# known_skipped: ")[1].split()[0])
    assert len(table) + skipped == 6
    assert f"only {len(table)} proposals: of the 6 alloys of this space, {skipped} are known already" in captured.err


@pytest.mark.parametrize(
    "options, named",
    [
        (["--n", "0", "--k", "3"], "--n"),
        (["--min-distance", "-1", "--k", "3"], "--min-distance"),
        (["--kappa", "-1", "--k", "3"], "--kappa"),
        ([], "--k"),
        (["--k", "3", "--elements", "Co", "Xx"], "Xx"),
    ],
    ids=["n-zero", "negative-distance", "negative-kappa", "no-k", "unknown-element"],
)
def test_design_next_bad_options_exit_2_and_write_nothing(options, named, tmp_path, capsys):
    out = tmp_path / "next.csv"
    assert main(["design", "next", *options, "--model", "released", "--out", str(out)]) == 2
    assert named in capsys.readouterr().err
    assert not out.exists()


def test_design_next_bad_results_file_exits_2(tmp_path, capsys):
    bad = tmp_path / "results.csv"
    bad.write_text("formula,single_phase\nCoCrFeNi,2\n")
    assert main(["design", "next", "--k", "3", "--data", str(bad), "--model", "released"]) == 2
    assert "line 2: single_phase must be 1 (single phase) or 0 (not), got '2'" in capsys.readouterr().err


def test_unknown_strategy_is_refused(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["design", "next", "--k", "3", "--strategy", "best"])
    assert stop.value.code == 2
    assert "invalid choice: 'best'" in capsys.readouterr().err


@pytest.mark.needs_data
def test_several_model_folders_are_one_ensemble_with_a_spread(tiny_members, ensemble, capsys):
    # One checkpoint has no spread, so balanced is greedy; two --model folders are an ensemble.
    options = ["design", "next", "--n", "4", *SPACE_OPTIONS, "--strategy", "balanced"]
    assert main([*options, *(f"--model={folder}" for folder in tiny_members)]) == 0
    table = _table(capsys.readouterr().out)
    assert not table["why"].str.contains("no spread").any()
    x = np.stack([composition_vector(f) for f in table["formula"]])
    p, spread = score(ensemble, x)
    np.testing.assert_allclose(table["p_single_phase"], p, rtol=1e-6)
    np.testing.assert_allclose(table["spread"], spread, rtol=1e-5, atol=1e-7)
    assert (table["spread"] > 0).all()
    assert main(["predict", "CoCrFeNi", "--model", str(tiny_members[0]), "--model", str(tiny_members[1])]) == 0
    predicted = _table(capsys.readouterr().out)
    cocrfeni = np.stack([composition_vector("CoCrFeNi")])
    assert predicted["spread"].iloc[0] == pytest.approx(score(ensemble, cocrfeni)[1][0], rel=1e-5)


@pytest.mark.needs_data
def test_several_model_folders_leave_out_the_results_of_each(tiny_members, tmp_path, capsys):
    # Each folder trained with results (as train --data stores them): the alloys of both are known.
    options = ["design", "next", "--n", "4", *SPACE_OPTIONS, "--strategy", "greedy"]
    assert main([*options, "--model", str(tiny_members[0])]) == 0
    first = _table(capsys.readouterr().out)["formula"].tolist()
    members = []
    for folder, formulas in zip(tiny_members, (first[:2], first[2:])):
        copy = tmp_path / folder.name
        shutil.copytree(folder, copy)
        (copy / RESULTS_FILE).write_text("formula,single_phase\n" + "".join(f"{f},1\n" for f in formulas))
        members.append(str(copy))
    assert main([*options, "--model", members[0], "--model", members[1]]) == 0
    captured = capsys.readouterr()
    assert captured.err.count("known alloys: the dataset's and the 2 of") == 2
    assert not set(first) & set(_table(captured.out)["formula"])


@pytest.mark.parametrize("models, named", [(["released", "FOLDER"], "--model released stands alone"),
                                           (["FOLDER", "missing-folder"], "missing-folder")])
def test_a_bad_model_list_exits_2(tiny_members, models, named, capsys):
    models = [str(tiny_members[0]) if m == "FOLDER" else m for m in models]
    assert main(["predict", "CoCrFeNi", *(f"--model={m}" for m in models)]) == 2
    assert named in capsys.readouterr().err


@pytest.mark.needs_data
def test_an_ensemble_of_two_tables_is_refused(tiny_members, tmp_path, capsys):
    other = tmp_path / "standard"
    assert main(["train", "--out", str(other), "--epochs", "2", "--table", "standard", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["predict", "CoCrFeNi", "--model", str(tiny_members[0]), "--model", str(other)]) == 2
    err = capsys.readouterr().err
    assert "must share an element table" in err and "(standard)" in err
