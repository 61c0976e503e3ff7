"""The chapters' key numbers against the reference values kept in tests/reference/.

What is checked how (the README says the same):

- exact numbers (data, features, split, counts) are compared to a relative
  1e-9, and every cell whose text does not depend on training is compared
  exactly by nbval when ``make test`` re-executes the chapters;
- numbers that depend on training are compared within a tolerance derived
  from their seed-to-seed spread (``hea_dvae.reporting.tolerance_for``) or a
  stated basis, because another CPU's floating-point kernels send every
  training run down another trajectory.

Three sources are checked against the reference: the committed notebooks
(always), and the records a fresh execution wrote, when
``$HEA_DVAE_CHECK_RECORDS`` names their folder (``make test`` sets it after
nbval re-executed the chapters; ``make test-kernels`` after executing them
with other CPU kernels; ``$HEA_DVAE_CHECK_PARTIAL`` then limits the check
to the numbers that reduced execution recorded). After a smoke run
(``make test-quick``: every chapter with ``-p profile smoke``),
``$HEA_DVAE_CHECK_SMOKE`` names its records, and only the exact numbers are
checked (:func:`hea_dvae.reporting.smoke_checked`): its models are trained
for a few epochs.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from hea_dvae import reporting

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "reference"
# The chapters, and the headline page, which records its verdicts.
CHAPTERS = sorted((ROOT / "book").glob("[0-9][0-9]_*.py")) + [ROOT / "book" / "results.py"]
RECORDING = [c for c in CHAPTERS if re.search(r"reporting\.chapter\(", c.read_text())]


def _reference(stem: str) -> dict:
    path = REFERENCE / f"{stem}.json"
    assert path.is_file(), f"no reference values for {stem}: run `make reference` and review the diff"
    return json.loads(path.read_text())


def test_every_recording_chapter_has_reference_values_and_back():
    stems = {c.stem for c in RECORDING}
    files = {p.stem for p in REFERENCE.glob("*.json")}
    assert stems, "no chapter records its key numbers (reporting.chapter(...))"
    assert stems <= files, f"chapters without reference values: {sorted(stems - files)}"
    assert files <= stems, f"reference values of chapters that do not record: {sorted(files - stems)}"


def test_every_trained_number_has_a_stated_tolerance():
    for path in REFERENCE.glob("*.json"):
        for key, entry in json.loads(path.read_text()).items():
            assert entry["tolerance"] >= 0 and entry["basis"], f"{path.name}:{key} has no tolerance basis"
            if entry["kind"] == "trained":
                assert entry["tolerance"] > 0, f"{path.name}:{key}: a trained number with zero tolerance"


@pytest.mark.parametrize("chapter", RECORDING, ids=[c.stem for c in RECORDING])
def test_committed_notebook_matches_reference(chapter):
    notebook = chapter.with_suffix(".ipynb")
    found = reporting.read_notebook_records(notebook)
    problems = reporting.compare(found, _reference(chapter.stem))
    assert not problems, f"{notebook.name} disagrees with tests/reference:\n" + "\n".join(problems)


def _records_dir() -> Path | None:
    folder = os.environ.get("HEA_DVAE_CHECK_RECORDS")
    return Path(folder) if folder else None


@pytest.mark.parametrize("chapter", RECORDING, ids=[c.stem for c in RECORDING])
def test_executed_chapter_within_tolerance(chapter):
    folder = _records_dir()
    if folder is None:
        pytest.skip("no fresh execution to check: set HEA_DVAE_CHECK_RECORDS (make test does)")
    path = folder / f"{chapter.stem}.json"
    if not path.is_file():
        only = os.environ.get("HEA_DVAE_CHECK_ONLY", "")
        if only and chapter.stem not in only.split(","):
            pytest.skip(f"{chapter.stem} was not part of this execution ({only})")
        pytest.fail(f"{chapter.stem} was executed but wrote no records to {folder}")
    records, reference = json.loads(path.read_text()), _reference(chapter.stem)
    if os.environ.get("HEA_DVAE_CHECK_PARTIAL"):
        # A reduced execution (make test-kernels skips the slow sections):
        # the numbers it recorded are checked, and it must have recorded some.
        reference = {key: entry for key, entry in reference.items() if key in records}
        assert len(reference) >= 5, f"only {sorted(reference)} recorded: too few to check"
    problems = reporting.compare(records, reference)
    assert not problems, f"{chapter.stem} executed here disagrees with tests/reference:\n" + "\n".join(problems)


@pytest.mark.parametrize("chapter", RECORDING, ids=[c.stem for c in RECORDING])
def test_smoke_run_keeps_the_exact_numbers(chapter):
    folder = os.environ.get("HEA_DVAE_CHECK_SMOKE")
    if not folder:
        pytest.skip("no smoke run to check: set HEA_DVAE_CHECK_SMOKE (make test-quick does)")
    path = Path(folder) / f"{chapter.stem}.json"
    assert path.is_file(), f"{chapter.stem} was executed in the smoke profile but wrote no records to {folder}"
    checked = reporting.smoke_checked(json.loads(path.read_text()))
    reference = _reference(chapter.stem)
    unknown = sorted(set(checked) - set(reference))
    assert not unknown, f"{chapter.stem} records exact numbers the reference does not hold: {unknown}"
    problems = reporting.compare(checked, {key: reference[key] for key in checked})
    assert not problems, f"{chapter.stem} in the smoke profile disagrees with tests/reference:\n" + "\n".join(problems)


def test_profiles_shrink_only_what_a_chapter_declares():
    assert reporting.profile_parameters("full", {"seeds": 5, "epochs": 800}) == {}
    smoke = reporting.profile_parameters("smoke", {"seeds": 5, "epochs": 800, "fractions": [0.02, 0.1, 1.0],
                                                   "inversion_seeds": ["a", "b", "c"], "table": "paper"})
    assert smoke == {"seeds": 2, "epochs": 20, "fractions": [0.02, 1.0], "inversion_seeds": ["a"]}
    assert reporting.profile_parameters("smoke", {"seeds": 1}) == {"seeds": 1}  # never more than asked
    with pytest.raises(ValueError, match="profile must be one of"):
        reporting.profile_parameters("quick", {})
    records = {"n": {"value": 3, "kind": "exact"}, "auc": {"value": 0.9, "kind": "trained"},
               "table2_seeds_used": {"value": 2, "kind": "exact"}}
    assert list(reporting.smoke_checked(records)) == ["n"]


def test_every_chapter_declares_a_profile():
    for chapter in CHAPTERS:
        assert re.search(r'^profile = "full"  # ', chapter.read_text(), re.MULTILINE), (
            f"{chapter.name}: its parameters cell must declare profile = \"full\" (with a comment)")
        assert "reporting.profile_parameters(profile, globals())" in chapter.read_text(), chapter.name


def test_compare_reports_what_is_out_of_tolerance():
    reference = {
        "count": {"value": 1373, "tolerance": 0.0, "basis": "exact"},
        "auc": {"value": 0.92, "tolerance": 0.02, "basis": "seed spread"},
        "name": {"value": "paper", "tolerance": 0.0, "basis": "exact"},
    }
    assert reporting.compare({"count": 1373, "auc": 0.935, "name": "paper"}, reference) == []
    problems = reporting.compare({"count": 1372, "auc": 0.95}, reference)
    assert len(problems) == 3
    assert problems[0].startswith("count: 1372 differs") and "auc: 0.95 differs" in problems[1]
    assert "name: not recorded" in problems[2]


def test_tolerances_of_a_standard_deviation_and_of_a_paired_difference():
    tolerance, basis = reporting.std_tolerance(0.02, n=5, floor=0.01)
    assert tolerance == pytest.approx(reporting.Z_TRAINED * 0.02 / 2) and "of 5 seeds" in basis
    assert reporting.std_tolerance(0.001, n=5, floor=0.01)[0] == 0.01
    tolerance, basis = reporting.paired_interval_tolerance(-0.01, 0.03, floor=0.02)
    assert tolerance == pytest.approx(4 * 2**0.5 * 0.04 / 3.92) and "95 % paired-bootstrap" in basis


def test_tolerance_of_a_trained_mean_follows_its_seed_spread():
    tolerance, basis = reporting.tolerance_for({"value": 0.9, "kind": "trained", "spread": 0.01, "n": 5})
    assert tolerance == pytest.approx(reporting.Z_TRAINED * 0.01 * (2 / 5) ** 0.5)
    assert "seed std" in basis
    exact, _ = reporting.tolerance_for({"value": 1373, "kind": "exact"})
    assert exact == pytest.approx(reporting.EXACT_RTOL * 1373)


# A deliberate regression must fail the checks: that is what makes them worth
# running. Both tests compare against the committed reference of chapter 2.


@pytest.mark.needs_data
@pytest.mark.slow
def test_shuffled_labels_fail_the_tolerance_check():
    import numpy as np

    from hea_dvae import metrics, zoo
    from hea_dvae.data import paper_split
    from hea_dvae.train import TrainConfig

    reference = _reference("02_model")
    split = paper_split()
    labelled = split["labelled"].copy()
    labelled["label"] = np.random.default_rng(0).permutation(labelled["label"].to_numpy())
    models, _ = zoo.fit_seeds({**split, "labelled": labelled}, TrainConfig(), seeds=range(2), workers=2)
    auc = float(np.mean([metrics.evaluate(m, split["test"])["auc"] for m in models.values()]))
    problems = reporting.compare({"test_auc_mean": auc}, {"test_auc_mean": reference["test_auc_mean"]})
    assert len(problems) == 1 and problems[0].startswith("test_auc_mean"), (auc, problems)


@pytest.mark.needs_data
def test_a_corrupted_feature_column_fails_the_check():
    import numpy as np

    from hea_dvae import metrics
    from hea_dvae.data import paper_split
    from hea_dvae.model import load_released_model

    reference = _reference("02_model")
    released, test = load_released_model(), paper_split()["test"]
    intact = metrics.evaluate(released, test)
    assert reporting.compare({"released_test_auc": intact["auc"]},
                          {"released_test_auc": reference["released_test_auc"]}) == []
    broken = test.copy()
    broken["delta_h_mix"] = np.random.default_rng(0).permutation(broken["delta_h_mix"].to_numpy())
    auc = metrics.evaluate(released, broken)["auc"]
    problems = reporting.compare({"released_test_auc": auc}, {"released_test_auc": reference["released_test_auc"]})
    assert len(problems) == 1, (auc, problems)


def test_record_writes_the_chapter_file_and_refuses_an_unjustified_number(tmp_path, monkeypatch):
    monkeypatch.setenv("HEA_DVAE_RECORD_DIR", str(tmp_path))
    reporting.chapter("99_example")
    assert reporting.record("alloys", 1373, glue=False) is None  # a cell ending in record() prints nothing
    reporting.record("auc", 0.91, kind="trained", spread=0.014, n=5, glue=False)
    written = json.loads((tmp_path / "99_example.json").read_text())
    assert written == {"alloys": {"value": 1373, "kind": "exact"},
                       "auc": {"value": 0.91, "kind": "trained", "spread": 0.014, "n": 5}}
    with pytest.raises(ValueError, match="needs spread and n"):
        reporting.record("loss", 0.3, kind="trained", glue=False)
    with pytest.raises(ValueError, match="needs a basis"):
        reporting.record("loss", 0.3, kind="trained", tolerance=0.1, glue=False)
    with pytest.raises(ValueError, match="not a finite number"):
        reporting.record("loss", float("nan"), glue=False)
    assert set(json.loads((tmp_path / "99_example.json").read_text())) == {"alloys", "auc"}
    reporting.record_std("auc_std", 0.02, n=5, floor=0.01, glue=False)
    reporting.record_paired("gain", {"difference": 0.01, "low": -0.01, "high": 0.03}, glue=False)
    written = json.loads((tmp_path / "99_example.json").read_text())
    assert written["gain"]["value"] == 0.01 and written["gain"]["kind"] == "trained"
    assert written["auc_std"]["tolerance"] == pytest.approx(reporting.std_tolerance(0.02, 5, 0.01)[0])
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind
