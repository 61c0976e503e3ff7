"""The data-efficiency ablation on a tiny grid: tidy results, paired comparisons, Table 2."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hea_dvae import ablation, paper
from hea_dvae.reporting import plots
from hea_dvae.model import SSVAEConfig
from hea_dvae.train import TrainConfig

TINY = TrainConfig(model=SSVAEConfig(hidden=(16,)), epochs=6, eval_every=2)
FRACTIONS = (0.05, 1.0)
SEEDS = (0, 1)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    # A module fixture runs before conftest's per-test cache fixture: point the
    # cache at the same throw-away folder here, never at the user's.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HEA_DVAE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "model-cache"))
        return ablation.run_ablation(FRACTIONS, SEEDS, train_config=TINY, table2_rows=(2,),
                                     table2_seeds=(0,), workers=1, progress=False)


# --------------------------------------------------------------------------
# Parameters are checked before anything is read or trained


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(fractions=(0.1, 0)), r"\(0, 1\].*got 0"),
        (dict(fractions=(1.5,)), r"\(0, 1\].*got 1\.5"),
        (dict(fractions=()), "fractions is empty"),
        (dict(fractions=(0.1, 0.1)), "repeat"),
        (dict(seeds=()), "seeds is empty"),
        (dict(seeds=(-1,)), r"seeds must be .*integer.*-1"),
        (dict(models=("vae-expert", "svm")), r"unknown model.*svm.*choose from"),
        (dict(models=()), "models is empty"),
        (dict(table2_rows=(3,)), r"Table 2 row.*3"),
        (dict(table2_seeds=()), "table2_seeds is empty"),
    ],
)
def test_bad_parameters_are_refused_before_any_data_is_read(kwargs, words, tmp_data_dir):
    with pytest.raises(ValueError, match=words):
        ablation.run_ablation(**kwargs)


def test_a_fraction_that_is_not_a_number_is_refused(tmp_data_dir):
    with pytest.raises(TypeError, match="fraction must be a number.*got True"):
        ablation.run_ablation(fractions=(True,))


def test_train_config_must_be_a_train_config():
    with pytest.raises(TypeError, match="TrainConfig"):
        ablation.run_ablation(train_config={"epochs": 5})


# --------------------------------------------------------------------------
# The tiny grid


@pytest.mark.needs_data
@pytest.mark.slow
def test_results_are_one_tidy_table(run):
    results = run.results
    assert list(results.columns) == ["fraction", "n_labelled", "seed", "model", "metric", "value"]
    assert len(results) == len(FRACTIONS) * len(SEEDS) * len(ablation.MODELS) * len(ablation.METRICS)
    assert not results.duplicated(["fraction", "seed", "model", "metric"]).any()
    assert dict(results.groupby("fraction")["n_labelled"].unique().map(list)) == {0.05: [58], 1.0: [1160]}
    assert results["value"].between(0, 1).all()
    assert set(run.predictions.groupby(["fraction", "seed", "model"]).size()) == {138}


@pytest.mark.needs_data
@pytest.mark.slow
def test_fraction_one_trains_one_model_for_the_three_networks(run):
    for seed in SEEDS:
        same = {id(run.models[("fraction", 1.0), seed, m]) for m in ablation.SSVAE_MODELS}
        assert len(same) == 1
        differ = {id(run.models[("fraction", 0.05), seed, m]) for m in ablation.SSVAE_MODELS}
        assert len(differ) == 3


@pytest.mark.needs_data
@pytest.mark.slow
def test_rules_do_not_depend_on_seed_or_fraction(run):
    rules = run.results[run.results["model"] == "rules"]
    assert rules.groupby("metric")["value"].nunique().eq(1).all()
    expected = ablation.rules_table(tables=("paper",)).loc["paper"]
    by_metric = rules.groupby("metric")["value"].first()
    assert by_metric["auc"] == pytest.approx(expected["test auc"])
    assert by_metric["accuracy"] == pytest.approx(expected["test accuracy"])


@pytest.mark.needs_data
@pytest.mark.slow
def test_summary_is_mean_and_std_over_seeds(run):
    summary = ablation.summarize(run.results)
    chosen = run.results.query("fraction == 0.05 and model == 'vae-flat' and metric == 'auc'")["value"]
    row = summary.loc[(0.05, "vae-flat", "auc")]
    assert row["mean"] == pytest.approx(chosen.mean())
    assert row["std"] == pytest.approx(chosen.std(ddof=1))
    assert row["seeds"] == 2 and row["n_labelled"] == 58
    table = ablation.summary_table(run.results)
    assert list(table.index) == list(ablation.MODELS)
    assert list(table.columns) == ["0.05 (58 alloys)", "1 (1160 alloys)"]


@pytest.mark.needs_data
@pytest.mark.parametrize("metric", ablation.METRICS)
@pytest.mark.slow
def test_paired_comparison_numbers(run, metric):
    compared = ablation.paired_comparison(run.predictions, "vae-expert", "head", metric=metric, n_boot=300)
    wide = run.results[run.results["metric"] == metric].pivot_table(
        index=["fraction", "seed"], columns="model", values="value")
    difference = (wide["vae-expert"] - wide["head"]).groupby("fraction")
    np.testing.assert_allclose(compared["difference"], difference.mean())
    np.testing.assert_array_equal(compared["wins"], difference.apply(lambda d: (d > 0).sum()))
    assert (compared["runs"] == 2).all() and (compared["low"] <= compared["high"]).all()
    # Fraction 1: the same model on both sides, so no difference at all.
    assert compared.loc[1.0, ["difference", "low", "high"]].tolist() == [0, 0, 0]
    assert compared.loc[1.0, "ties"] == 2 and not compared.loc[1.0, "clear"]


@pytest.mark.needs_data
@pytest.mark.slow
def test_paired_comparison_checks_its_arguments(run):
    with pytest.raises(ValueError, match="svm"):
        ablation.paired_comparison(run.predictions, "vae-expert", "svm")
    with pytest.raises(ValueError, match="metric"):
        ablation.paired_comparison(run.predictions, "vae-expert", "head", metric="brier")


def test_paired_bootstrap_interval_by_hand():
    # Two seeds, four alloys; a ranks every alloy right, b every alloy wrong.
    labels = [1, 1, 0, 0]
    frames = []
    for seed in (0, 1):
        for model, score in (("a", [0.9, 0.8, 0.2, 0.1]), ("b", [0.1, 0.2, 0.8, 0.9])):
            frames.append(pd.DataFrame({"fraction": 0.5, "seed": seed, "model": model, "position": range(4),
                                        "label": labels, "score": score,
                                        "prediction": (np.array(score) > 0.5).astype(int)}))
    predictions = pd.concat(frames, ignore_index=True)
    auc = ablation.paired_comparison(predictions, "a", "b", n_boot=200).loc[0.5]
    assert auc[["difference", "low", "high", "wins", "runs"]].tolist() == [1, 1, 1, 2, 2]
    assert auc["clear"]
    accuracy = ablation.paired_comparison(predictions, "b", "a", metric="accuracy", n_boot=200).loc[0.5]
    assert accuracy["difference"] == -1 and accuracy["wins"] == 0


@pytest.mark.needs_data
@pytest.mark.slow
def test_table2_reproduction(run):
    summary = ablation.table2_summary(run.table2)
    assert list(summary.index) == [(2, "semi-supervised"), (2, "supervised network")]
    assert summary[["labelled", "unlabelled", "validation"]].drop_duplicates().values.tolist() == [[247, 790, 198]]
    assert summary["paper accuracy"].tolist() == [paper.TABLE_2[2]["semi-supervised"],
                                                  paper.TABLE_2[2]["supervised network"]]
    np.testing.assert_allclose(summary["accuracy − paper"], summary["accuracy_mean"] - summary["paper accuracy"])


@pytest.mark.needs_data
@pytest.mark.slow
def test_a_warm_cache_trains_nothing_and_gives_the_same_numbers(run):
    again = ablation.run_ablation(FRACTIONS, SEEDS, train_config=TINY, table2_rows=(2,), table2_seeds=(0,),
                                  models=("vae-expert", "head", "random-forest"), workers=1, progress=False)
    assert again.trained == 0
    assert any((Path(os.environ["HEA_DVAE_CACHE_DIR"]) / "baselines").iterdir())
    chosen = run.results[run.results["model"].isin(["vae-expert", "head", "random-forest"])]
    chosen = chosen.reset_index(drop=True)
    pd.testing.assert_frame_equal(again.results.reset_index(drop=True), chosen)


@pytest.mark.needs_data
def test_rules_table_both_element_tables():
    table = ablation.rules_table()
    assert list(table.index) == ["paper", "corrected"]
    assert table.to_numpy().min() > 0.4 and table.to_numpy().max() < 1


@pytest.mark.needs_data
@pytest.mark.slow
def test_data_efficiency_figure(run):
    fig = plots.data_efficiency(run.results)
    assert len(fig.axes) == 2 and all(ax.get_xscale() == "log" for ax in fig.axes)
    assert len(fig.axes[0].get_lines()) == len(ablation.MODELS)
    with pytest.raises(ValueError, match="brier"):
        plots.data_efficiency(run.results, metrics=("brier",))
