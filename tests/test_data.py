"""The restricted unpickler, the tidy dataset, its validation and the splits."""

from __future__ import annotations

import builtins
import os
import pathlib
import pickle

import numpy as np
import pandas as pd
import pytest

from hea_dvae import config, data
from hea_dvae.data import (
    DataValidationError,
    labelled_fraction_split,
    load_dataset,
    paper_split,
    safe_unpickle,
    validate_dataset,
)
from hea_dvae.features import ELEMENTS, FEATURES

# --------------------------------------------------------------------------
# Restricted unpickler


class _Payload:
    """Pickles as a call to ``func(*args)``, made when the pickle is loaded."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def test_plain_pickle_would_run_the_payload(tmp_path):
    # Control: the payloads below are live, so refusing them matters.
    marker = tmp_path / "control"
    pickle.loads(pickle.dumps(_Payload(pathlib.Path.touch, marker)))
    assert marker.exists()


def test_os_system_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"Fe": _Payload(os.system, f"touch '{marker}'")})
    with pytest.raises(pickle.UnpicklingError, match="system"):
        safe_unpickle(payload)
    assert not marker.exists()


@pytest.mark.parametrize(
    "func, make_args",
    [
        (pathlib.Path.touch, lambda marker: (marker,)),
        (builtins.open, lambda marker: (str(marker), "w")),
        (builtins.eval, lambda marker: (f"open({str(marker)!r}, 'w')",)),
        (builtins.exec, lambda marker: (f"open({str(marker)!r}, 'w')",)),
    ],
    ids=["Path.touch", "open", "eval", "exec"],
)
def test_other_callables_are_refused_and_not_run(tmp_path, func, make_args):
    marker = tmp_path / "created"
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        safe_unpickle(pickle.dumps(_Payload(func, *make_args(marker))))
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [3, 4, 5])
def test_dict_of_numpy_scalars_round_trips(protocol):
    table = {"Fe": {"tm": np.float64(1811.15), "vac": np.float64(8.0)}, "Ni": {"k": np.float64(-0.5)}}
    loaded = safe_unpickle(pickle.dumps(table, protocol=protocol))
    assert loaded == table
    assert type(loaded["Fe"]["tm"]) is np.float64
    assert loaded["Fe"]["tm"] == 1811.15


@pytest.mark.needs_data
def test_real_upstream_pickles_load():
    elements, enthalpies = data.read_upstream_tables()
    assert len(elements) == 70
    assert len(enthalpies) == 435  # C(30, 2): one per pair of the 30 elements
    assert set(ELEMENTS) <= set(elements)
    assert elements["W"]["vac"] == 20  # the upstream 4f-counting error
    assert set(elements["Fe"]) == {"tm", "vac", "vm", "chi", "ar", "k"}
    assert all(type(v) is float for v in elements["Fe"].values())
    pairs = {tuple(key.split(",")) for key in enthalpies}
    assert all(a < b for a, b in pairs)  # keys are sorted symbol pairs
    assert {s for pair in pairs for s in pair} == set(ELEMENTS)


# --------------------------------------------------------------------------
# The tidy dataset


@pytest.mark.needs_data
def test_dataset_shape_and_counts():
    dataset = load_dataset()
    assert list(dataset.columns) == ["formula", *ELEMENTS, *FEATURES, "label"]
    assert len(dataset) == 1373
    assert dataset["formula"].is_unique
    assert (dataset["label"] == 1).sum() == 710
    assert (dataset["label"] == 0).sum() == 663
    assert dataset["label"].dtype.kind == "i"
    n_elements = (dataset[list(ELEMENTS)] > 0).sum(axis=1)
    assert (n_elements == 2).sum() == 525
    assert (n_elements == 5).sum() == 361
    assert (n_elements == 6).sum() == 300
    fractions = dataset[list(ELEMENTS)].to_numpy()
    np.testing.assert_allclose(fractions.sum(axis=1), 1, atol=1e-6)


@pytest.mark.needs_data
def test_load_dataset_returns_a_fresh_copy():
    first = load_dataset()
    first.loc[first.index[0], "label"] = 7
    assert load_dataset()["label"].isin([0, 1]).all()


def _small_dataset() -> pd.DataFrame:
    """Three valid alloys: CoCrFeMnNi, NiAl and Al0.5CoCrFeNi."""
    rows = []
    for formula, amounts, label in [
        ("CoCrFeMnNi", {"Co": 1, "Cr": 1, "Fe": 1, "Mn": 1, "Ni": 1}, 1),
        ("NiAl", {"Ni": 1, "Al": 1}, 0),
        ("Al0.5CoCrFeNi", {"Al": 0.5, "Co": 1, "Cr": 1, "Fe": 1, "Ni": 1}, 1),
    ]:
        total = sum(amounts.values())
        row = {"formula": formula, **{e: amounts.get(e, 0) / total for e in ELEMENTS}}
        row.update({f: 1.0 for f in FEATURES}, label=label)
        rows.append(row)
    return pd.DataFrame(rows)


def test_small_valid_dataset_passes():
    validate_dataset(_small_dataset())


def test_fractions_not_summing_to_one_name_alloy_and_sum():
    frame = _small_dataset()
    frame.loc[1, "Ni"] = 0.6  # NiAl now sums to 0.6 + 0.5 = 1.1
    with pytest.raises(DataValidationError, match=r"NiAl \(sum 1\.1\)"):
        validate_dataset(frame)


def test_small_rounding_is_tolerated():
    frame = _small_dataset()
    frame.loc[1, "Ni"] += 5e-7
    validate_dataset(frame)


def test_negative_fraction_is_refused():
    frame = _small_dataset()
    frame.loc[2, "Al"] = -0.1
    frame.loc[2, "Fe"] += 0.2  # keeps the sum at 1: the sign alone is at fault
    with pytest.raises(DataValidationError, match=r"1 alloys have negative fractions.*Al0\.5CoCrFeNi"):
        validate_dataset(frame)


def test_missing_value_names_alloy_and_column():
    frame = _small_dataset()
    frame.loc[0, "tm"] = np.nan
    with pytest.raises(DataValidationError, match=r"1 missing values.*CoCrFeMnNi:tm"):
        validate_dataset(frame)


def test_label_other_than_zero_or_one_is_refused():
    frame = _small_dataset()
    frame.loc[1, "label"] = 2
    with pytest.raises(DataValidationError, match=r"labels must be 0 or 1, found \[2\]"):
        validate_dataset(frame)


def test_duplicate_formula_is_refused():
    frame = pd.concat([_small_dataset(), _small_dataset().iloc[[1]]], ignore_index=True)
    with pytest.raises(DataValidationError, match=r"duplicate formulas: \['NiAl'\]"):
        validate_dataset(frame)


def test_missing_column_is_named():
    with pytest.raises(DataValidationError, match="delta_h_mix"):
        validate_dataset(_small_dataset().drop(columns="delta_h_mix"))


def test_load_dataset_from_small_files(tmp_data_dir, monkeypatch):
    # Two CSVs laid out like upstream, with a repeated row each, through the
    # real fetch (digests computed here) and merge.
    import hashlib

    comps = "# comment 1\n# comment 2\n# comment 3\nAlloys,Class," + ",".join(ELEMENTS) + "\n"
    for formula, fe, ni, label in [("FeNi", 0.5, 0.5, 1), ("Fe3Ni", 0.75, 0.25, 0), ("FeNi", 0.5, 0.5, 1)]:
        comps += f"{formula},{label},{fe},{ni}" + ",0" * (len(ELEMENTS) - 2) + "\n"
    engineered = "Alloys," + ",".join(FEATURES) + ",Class\n"
    for formula in ["Fe3Ni", "FeNi", "FeNi", "CoCr"]:
        engineered += formula + ",1" * len(FEATURES) + ",1\n"
    files = {"HEA_top30_comps.csv": comps, "HEA_feature_engineered.csv": engineered}
    pinned = {}
    for name, text in files.items():
        (tmp_data_dir / name).write_text(text)
        pinned[name] = ("data/" + name, hashlib.sha256(text.encode()).hexdigest())
    monkeypatch.setattr(config, "DATA_FILES", pinned)
    dataset = load_dataset()
    assert dataset["formula"].tolist() == ["FeNi", "Fe3Ni"]  # composition file's order
    assert dataset["label"].tolist() == [1, 0]  # labels from the composition file
    assert dataset["Fe"].tolist() == [0.5, 0.75]


# --------------------------------------------------------------------------
# Splits


@pytest.fixture(scope="module")
def dataset():
    # Only requested by needs_data tests, which are skipped before it is made.
    return load_dataset()


@pytest.mark.needs_data
def test_paper_split_sizes_disjoint_and_complete(dataset):
    split = paper_split(dataset)
    assert list(split) == ["labelled", "unlabelled", "validation", "test"]
    assert {k: len(v) for k, v in split.items()} == {
        "labelled": 864, "unlabelled": 296, "validation": 75, "test": 138,
    }  # fmt: skip
    formulas = [set(part["formula"]) for part in split.values()]
    assert sum(len(f) for f in formulas) == 1373
    assert set().union(*formulas) == set(dataset["formula"])
    # Disjoint: the union has as many formulas as the parts together.
    assert len(set().union(*formulas)) == 1373


@pytest.mark.needs_data
def test_paper_split_is_deterministic(dataset):
    first, second = paper_split(dataset), paper_split(load_dataset())
    for name in first:
        assert first[name]["formula"].tolist() == second[name]["formula"].tolist()


@pytest.mark.needs_data
def test_labelled_fraction_split(dataset):
    paper = paper_split(dataset)
    split = labelled_fraction_split(0.25, seed=3, data=dataset)
    assert split["validation"]["formula"].tolist() == paper["validation"]["formula"].tolist()
    assert split["test"]["formula"].tolist() == paper["test"]["formula"].tolist()
    pool = set(paper["labelled"]["formula"]) | set(paper["unlabelled"]["formula"])
    labelled, unlabelled = set(split["labelled"]["formula"]), set(split["unlabelled"]["formula"])
    assert len(pool) == 1160
    assert labelled | unlabelled == pool and not labelled & unlabelled
    assert len(labelled) == 290  # round(0.25 * 1160)
    pool_share = pd.concat([paper["labelled"], paper["unlabelled"]])["label"].mean()
    assert abs(split["labelled"]["label"].mean() - pool_share) <= 0.01

    same = labelled_fraction_split(0.25, seed=3, data=dataset)
    assert same["labelled"]["formula"].tolist() == split["labelled"]["formula"].tolist()
    other = labelled_fraction_split(0.25, seed=4, data=dataset)
    assert set(other["labelled"]["formula"]) != labelled


@pytest.mark.needs_data
def test_labelled_fraction_one_labels_the_whole_pool(dataset):
    split = labelled_fraction_split(1, data=dataset)
    assert len(split["labelled"]) == 1160 and len(split["unlabelled"]) == 0


@pytest.mark.parametrize(
    "fraction, error, words",
    [
        (0, ValueError, r"\(0, 1\].*got 0"),
        (1.5, ValueError, r"\(0, 1\].*got 1\.5"),
        (-0.1, ValueError, r"\(0, 1\].*got -0\.1"),
        (float("nan"), ValueError, r"\(0, 1\]"),
        ("a", TypeError, r"number.*'a'"),
        (True, TypeError, r"number.*True"),
        (None, TypeError, r"number.*None"),
    ],
)
def test_bad_fraction_is_refused_before_any_data_is_read(fraction, error, words, tmp_data_dir):
    # The data folder is empty: reaching the data would fail differently.
    with pytest.raises(error, match=words):
        labelled_fraction_split(fraction)


def _dirichlet_frame(n: int) -> pd.DataFrame:
    """``n`` random Fe-Ni-Cr alloys with alternating labels."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(0.0, index=range(n), columns=list(ELEMENTS))
    frame[["Fe", "Ni", "Cr"]] = rng.dirichlet(np.ones(3), size=n)
    frame.insert(0, "formula", [f"alloy{i}" for i in range(n)])
    frame["label"] = [0, 1] * (n // 2)
    return frame


def test_fraction_labelling_fewer_than_two_alloys_is_refused():
    # 20 alloys: 2 test; of the other 18, 6 held out, 2 of them validation;
    # the pool is 12 labelled + 4 unlabelled = 16.
    frame = _dirichlet_frame(20)
    split = paper_split(frame)
    assert len(split["labelled"]) + len(split["unlabelled"]) == 16
    with pytest.raises(ValueError, match="labels only 1 of 16"):
        labelled_fraction_split(0.05, data=frame)
    assert len(labelled_fraction_split(0.125, data=frame)["labelled"]) == 2


def test_fraction_leaving_one_alloy_unlabelled():
    # 15 of 16 labelled: one unlabelled alloy cannot hold both classes, so
    # the draw cannot be stratified, but it is still a valid fraction.
    frame = _dirichlet_frame(20)
    split = labelled_fraction_split(15 / 16, seed=1, data=frame)
    assert (len(split["labelled"]), len(split["unlabelled"])) == (15, 1)
    pool = set(split["labelled"]["formula"]) | set(split["unlabelled"]["formula"])
    assert len(pool) == 16


def test_data_config_checks_its_values():
    assert data.DataConfig().table == "paper"
    with pytest.raises(ValueError, match="table"):
        data.DataConfig(table="pymatgen")
    with pytest.raises(ValueError, match="labelled_fraction"):
        data.DataConfig(labelled_fraction=0)
    with pytest.raises(ValueError, match="seed"):
        data.DataConfig(seed=-1)


@pytest.mark.needs_data
def test_with_table_recomputes_features_only_for_other_tables():
    from hea_dvae.data import split_with_table, with_table

    data = load_dataset()
    assert with_table(data, "paper").equals(data)
    corrected = with_table(data, "corrected")
    w_alloys = data["W"] > 0
    # W counts 6 valence electrons in the corrected table instead of 20.
    drop = (data.loc[w_alloys, "vac"] - corrected.loc[w_alloys, "vac"]).to_numpy()
    np.testing.assert_allclose(drop, 14 * data.loc[w_alloys, "W"].to_numpy()
                               + 14 * data.loc[w_alloys, ["Hf", "Ta", "Re", "Os", "Ir", "Pt", "Au"]].sum(axis=1).to_numpy()
                               + 10 * data.loc[w_alloys, "Sn"].to_numpy(), rtol=1e-12)
    assert corrected[list(ELEMENTS)].equals(data[list(ELEMENTS)])
    parts = split_with_table(paper_split(data), "corrected")
    assert {k: len(v) for k, v in parts.items()} == {"labelled": 864, "unlabelled": 296, "validation": 75, "test": 138}


@pytest.mark.parametrize(
    "kwargs, word",
    [({"table": "nist"}, "table"), ({"labelled_fraction": 0}, "labelled_fraction"),
     ({"labelled_fraction": 1.5}, "labelled_fraction"), ({"seed": -1}, "seed"), ({"seed": 1.5}, "seed")],
)
def test_data_config_refuses_nonsense(kwargs, word):
    from hea_dvae.data import DataConfig

    with pytest.raises((TypeError, ValueError), match=word):
        DataConfig(**kwargs)
