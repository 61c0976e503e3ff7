"""The paper's published numbers: one module, each with where the paper prints it."""

from __future__ import annotations

from hea_dvae import paper, reporting
from hea_dvae.compositions import parse_formula


def test_every_published_value_says_where_the_paper_prints_it():
    published = [value for value in vars(paper).values() if isinstance(value, paper.Published)]
    assert len(published) >= 6
    for value in published:
        assert value.where and 0 < value.resolution < 1


def test_the_headline_page_reads_the_paper_from_here():
    values = {r.paper for r in reporting.PAPER_RESULTS if r.paper is not None}
    assert paper.TEST_ACCURACY.value in values and paper.SHARE_IN_BOX.value in values
    # Like with like: the best model's numbers beside the released model, the five-run means beside ours.
    rows = {r.published: r for r in reporting.PAPER_RESULTS if r.published is not None}
    for single in (paper.TEST_ACCURACY, paper.TEST_AUC, paper.VALIDATION_AUC, paper.TRAIN_AUC):
        assert rows[single].released and rows[single].ours is None
    for mean in (paper.SEEDS_TEST_ACCURACY, paper.SEEDS_TEST_AUC):
        assert mean.runs == 5 and rows[mean].ours and rows[mean].released is None
    assert {row: paper.table_2(row, "semi-supervised").value for row in paper.TABLE_2} == {1: 0.877, 2: 0.841}


def test_published_formulas_are_formulas_in_at_percent():
    formulas = [f for f, _ in paper.FLIP_PATH] + [d.formula for d in paper.LATENT_DESIGNS]
    formulas += [f for row in paper.TABLE_1 for f in row[:2]] + [paper.TABLE_3_EXAMPLE.formula]
    for formula in formulas:
        # Truncated whole at.% (the authors' writing) may sum to a few at.% less than 100.
        assert 90 <= sum(parse_formula(formula).values()) <= 101, formula
    assert paper.FLIP_PATH[0][0] == paper.FLIP_SEED
    assert paper.LATENT_DESIGNS[2].printed_z != paper.LATENT_DESIGNS[2].z  # the sign slip
    assert sorted(paper.SHAP_ORDER) == sorted(["k", "vm", "tm", "vac", "delta", "delta_chi", "delta_s_mix",
                                                "delta_h_mix"])
