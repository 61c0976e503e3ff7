"""Your own results in: every line checked, duplicates against the dataset reported, trained on through the cache."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest

from hea_dvae import checkpoint, userdata, zoo
from hea_dvae.cache import models_dir
from hea_dvae.cli import build_parser, main
from hea_dvae.data import load_dataset, paper_split, split_with_table
from hea_dvae.features import ELEMENTS, FEATURES, composition_vector, featurize
from hea_dvae.model import model_digest
from hea_dvae.train import TrainConfig

#: Alloys of ours, none of them in the dataset (checked below).
NEW_ALLOYS = "Fe30Ni30Co30Ti10,1,lab\nCo30Cr30Ni30V10,0,lab\n"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A model cache of this test alone: what a command leaves in it is seen."""
    folder = tmp_path / "model-cache"
    monkeypatch.setenv("HEA_DVAE_CACHE_DIR", str(folder))
    return folder


def _cached_models() -> list:
    folder = models_dir()
    return [p for p in folder.iterdir() if p.is_dir()] if folder.is_dir() else []


def _write(tmp_path, text: str, name: str = "results.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


BAD_FILES = {
    "unknown-symbol": ("formula,single_phase\nCoCrFeNi,1\nCoCrXxNi,1\n",
                       "line 3: formula 'CoCrXxNi': unknown element symbol 'Xx'"),
    "element-outside-the-30": ("formula,single_phase\nCoCrFeNiU,0\n",
                               "line 2: formula 'CoCrFeNiU': U not among the 30 supported elements"),
    "unparsable": ("formula,single_phase\n(CoCrFe,0\n", "line 2: cannot parse formula '(CoCrFe': '(' is never closed"),
    "label-2": ("formula,single_phase\nCoCrFeNi,2\n", "line 2: single_phase must be 1 (single phase) or 0 (not), got '2'"),
    "label-word": ("formula,single_phase,source\nCoCrFeNi,yes,lab\n", "got 'yes'"),
    "label-missing": ("formula,single_phase\nCoCrFeNi\n", "line 2: single_phase must be 1 (single phase) or 0 (not), "
                      "got nothing"),
    "empty-formula": ("formula,single_phase\n,1\n", "line 2: empty formula"),
    "empty-file": ("", "holds no alloy"),
    "comments-only": ("# nothing yet\n\n", "holds no alloy"),
    "header-only": ("formula,single_phase\n", "holds no alloy: it has a header line and nothing else"),
    "missing-column": ("formula,label\nCoCrFeNi,1\n", "line 1: the header must name the columns 'formula' and "
                       "'single_phase'"),
    "one-column": ("formula\nCoCrFeNi\n", "lacks 'single_phase'"),
    "no-header": ("CoCrFeNi,1\n", "lacks 'formula' and 'single_phase'"),
    "two-labels": ("formula,single_phase\nCoCrFeNi,1\nAlCoCrFeNi,1\nCo25Cr25Fe25Ni25,0\n",
                   "lines 2 and 4: 'CoCrFeNi' and 'Co25Cr25Fe25Ni25' are the same alloy (0.00 at.% apart) with two "
                   "labels, 1 and 0"),
}


@pytest.mark.parametrize("content, named", list(BAD_FILES.values()), ids=list(BAD_FILES))
def test_a_bad_file_trains_nothing_and_writes_nothing(content, named, tmp_path, cache, capsys):
    out = tmp_path / "model"
    path = _write(tmp_path, content)
    assert main(["train", "--data", str(path), "--out", str(out), "--epochs", "1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert named in err
    assert str(path) in err  # the message names the file
    assert not out.exists()
    assert _cached_models() == []


@pytest.mark.parametrize("content, named", list(BAD_FILES.values()), ids=list(BAD_FILES))
def test_a_bad_file_raises_in_python(content, named, tmp_path):
    with pytest.raises(userdata.ResultsError) as error:
        userdata.read_results(_write(tmp_path, content))
    assert named in str(error.value)


def test_the_header_hint_names_the_column_to_rename(tmp_path):
    with pytest.raises(userdata.ResultsError, match="rename the column 'label' to 'single_phase'"):
        userdata.read_results(_write(tmp_path, "formula,label\nCoCrFeNi,1\n"))


def test_every_problem_is_reported_at_once_in_line_order(tmp_path):
    lines = ["formula,single_phase", "CoCrFeNi,1", "Xx,1", "CoCrFeNi,3", "CoCrFe,1", "Co33.3Cr33.3Fe33.4,0"]
    with pytest.raises(userdata.ResultsError) as error:
        userdata.read_results(_write(tmp_path, "\n".join(lines) + "\n"))
    reported = str(error.value).splitlines()
    assert [line.split(":")[0].rsplit(" ", 1)[-1] for line in reported] == ["3", "4", "6"]
    assert "lines 5 and 6" in reported[2]


def test_a_long_list_of_problems_is_cut(tmp_path):
    bad = "formula,single_phase\n" + "".join(f"Co{i}Xx,1\n" for i in range(1, 60))
    with pytest.raises(userdata.ResultsError) as error:
        userdata.read_results(_write(tmp_path, bad))
    reported = str(error.value).splitlines()
    assert len(reported) == userdata.MAX_REPORTED + 1
    assert reported[-1] == f"... and {59 - userdata.MAX_REPORTED} more problems"


def test_an_unreadable_file_is_bad_input(tmp_path, cache, capsys):
    assert main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "m"), "--quiet"]) == 2
    assert "cannot read input file" in capsys.readouterr().err
    assert _cached_models() == []


def test_only_needs_data(tmp_path, capsys):
    assert main(["train", "--only", "--out", str(tmp_path / "m"), "--quiet"]) == 2
    assert "--only trains on the alloys of --data FILE alone" in capsys.readouterr().err


def test_the_only_help_states_the_minimum():
    train = build_parser()._subparsers._group_actions[0].choices["train"]
    assert f"at least {userdata.MIN_PER_LABEL_ALONE} alloys of each label" in train.format_help()


@pytest.mark.needs_data
def test_a_good_file_in_the_dataset_s_layout(tmp_path):
    path = _write(tmp_path, "# our first castings\nformula,single_phase,source,notes\n"
                  "CoCrFeNi,0,arc melting,odd\n\nCo25Cr25Fe25Ni25,0,again,\n" + NEW_ALLOYS)
    results = userdata.read_results(path)
    data = load_dataset()
    alloys = results.alloys
    assert list(alloys.columns) == [*data.columns, "source", "origin"]
    assert alloys["formula"].tolist() == ["CoCrFeNi", "Fe30Ni30Co30Ti10", "Co30Cr30Ni30V10"]
    assert alloys["label"].tolist() == [0, 1, 0]
    assert alloys["origin"].tolist() == [f"{path} line {n}" for n in (3, 6, 7)]
    assert results.repeats == ((5, 3),)  # the same alloy with the same label: counted once
    x = np.stack([composition_vector(f) for f in alloys["formula"]])
    np.testing.assert_allclose(alloys[list(ELEMENTS)], x)
    np.testing.assert_allclose(alloys[list(FEATURES)], featurize(x), rtol=1e-12)
    # CoCrFeNi is in the dataset, single phase: a conflict, listed.
    assert results.in_dataset["origin"].tolist() == [f"{path} line 3"]
    assert results.conflicts["dataset_label"].tolist() == [1]
    assert results.conflicts["part"].iloc[0] in ("labelled", "unlabelled", "validation", "test")
    text = "\n".join(results.describe())
    assert "3 alloys (1 single phase, 2 not)" in text and "1 conflicting label:" in text
    assert results.provenance()["conflicts"] == 1
    # Written back for a checkpoint and read again, the same alloys.
    again = userdata.read_results(_write(tmp_path, results.to_csv(), "copy.csv"))
    pd.testing.assert_frame_equal(again.alloys.drop(columns="origin"), alloys.drop(columns="origin"))


@pytest.mark.needs_data
def test_your_label_replaces_the_dataset_s_wherever_it_was(tmp_path):
    split = paper_split()
    taken = {part: split[part].iloc[0] for part in ("labelled", "unlabelled", "validation", "test")}
    rows = "".join(f"{row['formula']},{1 - int(row['label'])},\n" for row in taken.values())
    results = userdata.read_results(_write(tmp_path, "formula,single_phase,source\n" + rows + NEW_ALLOYS))
    assert sorted(results.conflicts["part"]) == sorted(taken)
    mine = userdata.results_split(results)
    for part, row in taken.items():
        kept = mine[part]["formula"] == row["formula"]
        if part == "labelled":
            assert mine[part].loc[kept, "label"].tolist() == [1 - int(row["label"])]
        else:
            assert not kept.any()
    assert len(mine["labelled"]) == len(split["labelled"]) - 1 + len(results.alloys)
    assert len(mine["test"]) == len(split["test"]) - 1


@pytest.mark.needs_data
def test_only_holds_out_a_stratified_fifth_and_needs_enough_alloys(tmp_path):
    unlabelled = paper_split()["unlabelled"]
    chosen = pd.concat([unlabelled[unlabelled["label"] == label].head(12) for label in (0, 1)])
    text = "formula,single_phase\n" + "".join(f"{f},{y}\n" for f, y in zip(chosen["formula"], chosen["label"]))
    results = userdata.read_results(_write(tmp_path, text))
    split = userdata.results_split(results, only=True)
    assert len(split["validation"]) == round(0.2 * 24) and split["validation"]["label"].sum() in (2, 3)
    assert len(split["labelled"]) + len(split["validation"]) == 24
    assert len(split["test"]) == 0
    assert not split["unlabelled"]["formula"].isin(chosen["formula"]).any()  # now labelled: not also unlabelled
    assert len(split["unlabelled"]) == len(unlabelled) - 24

    few = userdata.read_results(_write(tmp_path, "formula,single_phase\n" + NEW_ALLOYS, "few.csv"))
    with pytest.raises(userdata.ResultsError, match="needs at least 10 alloys of each label.*1 single-phase and 1"):
        userdata.results_split(few, only=True)


@pytest.mark.needs_data
def test_the_model_key_holds_the_data_s_digest(tmp_path):
    # zoo.model_key hashes the labelled, unlabelled and validation arrays: the results are in it.
    def key(text, name):
        results = userdata.read_results(_write(tmp_path, "formula,single_phase\n" + text, name))
        split = split_with_table(userdata.results_split(results), "paper")
        return zoo.key_digest(zoo.model_key(split["labelled"], split["unlabelled"], split["validation"],
                                            TrainConfig(), 42))

    paper = paper_split()
    plain = zoo.key_digest(zoo.model_key(paper["labelled"], paper["unlabelled"], paper["validation"],
                                         TrainConfig(), 42))
    first = key("Fe30Ni30Co30Ti10,1\n", "a.csv")
    assert first == key("Fe30Ni30Co30Ti10,1\n", "b.csv")  # the same alloys: the same model
    assert first != key("Fe30Ni30Co30Ti10,0\n", "c.csv")  # one label changed: another model
    assert first != key("Fe30Ni30Co30Ti11,1\n", "d.csv")  # one composition changed
    assert first != plain


@pytest.mark.needs_data
def test_train_with_your_data_then_predict_with_it(tmp_path, cache, capsys):
    path = _write(tmp_path, "formula,single_phase,source\nCoCrFeNi,0,lab\n" + NEW_ALLOYS)
    out = tmp_path / "mine"
    arguments = ["train", "--data", str(path), "--out", str(out), "--epochs", "2", "--seed", "3", "--quiet"]
    assert main(arguments) == 0
    captured = capsys.readouterr()
    assert "test," in captured.out
    assert "3 alloys (1 single phase, 2 not)" in captured.err and "1 conflicting label" in captured.err
    assert "(864 of the paper's, 3 yours)" in captured.err  # CoCrFeNi is a test alloy: it leaves the test part
    assert "validation alloys (the paper's)" in captured.err
    description = checkpoint.read_config(out)["extra"]
    assert description["split"] == "paper + results"
    assert description["results"]["alloys"] == 3 and len(description["results"]["sha256"]) == 64
    assert (out / userdata.RESULTS_FILE).is_file()

    # The model is the cached one, keyed by these data; training again trains nothing.
    results = userdata.read_results(path)
    split = userdata.results_split(results)
    config = TrainConfig(epochs=2)
    assert zoo.is_cached(split["labelled"], split["unlabelled"], split["validation"], config, 3)
    assert len(_cached_models()) == 1
    model, _, _ = userdata.train_on_results(results, train_config=config, seed=3, progress=False)
    assert model_digest(model) == model_digest(checkpoint.load(out))
    assert len(_cached_models()) == 1

    assert main(["predict", "--model", str(out), "Fe30Ni30Co30Ti10", "CoCrFeMnNi"]) == 0
    table = pd.read_csv(io.StringIO(capsys.readouterr().out), comment="#")
    assert table["formula"].tolist() == ["Fe30Ni30Co30Ti10", "CoCrFeMnNi"]
    features = featurize(np.stack([composition_vector(f) for f in table["formula"]]))
    np.testing.assert_allclose(table["p_single_phase"], checkpoint.load(out).predict_proba(features), atol=1e-6)


@pytest.mark.needs_data
def test_train_on_your_data_alone(tmp_path, cache, capsys):
    unlabelled = paper_split()["unlabelled"]
    chosen = pd.concat([unlabelled[unlabelled["label"] == label].head(10) for label in (0, 1)])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["formula", "single_phase"])
    writer.writerows(zip(chosen["formula"], chosen["label"]))
    path = _write(tmp_path, buffer.getvalue())
    out = tmp_path / "alone"
    assert main(["train", "--data", str(path), "--only", "--out", str(out), "--epochs", "2", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "trained on 16 labelled alloys (yours, less a fifth held out)" in captured.err
    assert "selected on 4 validation alloys (a fifth of yours)" in captured.err
    assert not any(line.startswith("test,") for line in captured.out.splitlines())  # no test part
    assert checkpoint.read_config(out)["extra"]["split"] == "results only"


@pytest.mark.needs_data
def test_only_with_too_few_alloys_trains_nothing(tmp_path, cache, capsys):
    path = _write(tmp_path, "formula,single_phase\n" + NEW_ALLOYS)
    assert main(["train", "--data", str(path), "--only", "--out", str(tmp_path / "m"), "--quiet"]) == 2
    assert "needs at least 10 alloys of each label" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()
    assert _cached_models() == []


@pytest.mark.needs_data
def test_the_new_alloys_are_not_in_the_dataset():
    x = np.stack([composition_vector(line.split(",")[0]) for line in NEW_ALLOYS.splitlines()])
    from hea_dvae.compositions import SAME_ALLOY_AT_PCT, composition_distance

    assert composition_distance(x, load_dataset()[list(ELEMENTS)].to_numpy()).min() > SAME_ALLOY_AT_PCT
