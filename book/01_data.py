# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 1. The data
#
# ## Overview
#
# The model of {cite:t}`zeng2024dvae` learns from experimental alloys, each
# labelled single phase or not. This chapter looks at that data as the paper
# presents it (its Fig. 1; see the {doc}`paper map <paper_map>`):
#
# 1. where the files come from and how they are checked;
# 2. the class balance, the number of elements per alloy and how often each
#    element occurs;
# 3. the eight physics-informed features by class;
# 4. how faithfully our featurizer reproduces the published features, and
#    what a corrected element table changes;
# 5. alloys that appear twice under different spellings;
# 6. the paper's split into labelled, unlabelled, validation and test alloys.
#
# ## Prerequisites
#
# | Concept | Importance |
# | --- | --- |
# | High-entropy alloys {cite:p}`yeh2004hea,cantor2004` | helpful |
# | Empirical phase-formation rules {cite:p}`zhang2008rules,guo2011vec` | helpful |
# | pandas DataFrames | necessary |
#
# Time to read: 15 minutes; to run: under a minute. {doc}`Chapter 2
# <02_model>` trains on the split made here and {doc}`chapter 3
# <03_data_efficiency>` varies how much of it is labelled.
#
# :::{admonition} Run this chapter yourself
# :class: tip
# The download button at the top of the page gives this chapter as a
# notebook (`.ipynb`). It needs the `hea_dvae` package and the data: see
# {ref}`get-the-code` for the two install commands. The `parameters` cell
# below holds everything you can change. From a checkout,
# `make book PARAMS="-p table corrected"` reruns every chapter with the
# corrected element table and rebuilds the book;
# `.venv/bin/python scripts/execute_chapters.py -p table corrected book/01_data.py`
# reruns this chapter alone, and
# `papermill 01_data.ipynb out.ipynb -p table corrected` works on the
# downloaded notebook.
# :::

# %% tags=["parameters"]
table = "paper"  # element table for the featurizer: "paper" or "corrected"
labelled_fraction = 0.25  # share of the training pool kept labelled in the example split
seed = 0  # seed of that labelled-fraction draw
profile = "full"  # "full": the book; "smoke": every cell in seconds (this chapter trains nothing: the same)

# %%
import numpy as np
import pandas as pd

import hea_dvae
from hea_dvae import config, features, reporting
from hea_dvae.data import DataConfig, split_sizes
from hea_dvae.reporting import plots

# The smoke profile (-p profile smoke) shrinks the parameters above: hea_dvae.reporting.profiles.
globals().update(reporting.profile_parameters(profile, globals()))
reporting.chapter("01_data")
settings = DataConfig(table=table, labelled_fraction=labelled_fraction, seed=seed)
plots.use_style()
pd.set_option("display.precision", 4)
settings

# %% [markdown]
# ## 1. Provenance
#
# The authors published their data with their code. `hea_dvae` downloads
# each file from their repository at one pinned commit and checks its
# SHA-256 digest before use; a file that does not match is refused and never
# cached. Set `HEA_DVAE_DATA_DIR` to a folder that already holds the files
# and nothing is downloaded.

# %%
pd.DataFrame(
    [(name, path, digest[:16] + "…") for name, (path, digest) in config.DATA_FILES.items()],
    columns=["file", "upstream path", "SHA-256 (first 16 hex)"],
)

# %%
print("pinned commit:", config.UPSTREAM_COMMIT)

# %% [markdown]
# `load_dataset` joins the composition table and the feature table on the
# formula, keeps one row per formula, and validates what it loads: fractions
# non-negative and summing to one, no missing values, labels 0 or 1. Each
# row holds the formula, the atomic fractions of the 30 elements, the eight
# published features and the label (the first five rows, one alloy per
# column):

# %%
data = hea_dvae.load_dataset()
reporting.readable(data.head().T)

# %% [markdown]
# ## 2. What the alloys are
#
# ### Class balance

# %%
counts = data["label"].value_counts().rename(index=plots.CLASS_NAMES)
reporting.record("n_alloys", len(data))
reporting.record("n_single_phase", int((data["label"] == 1).sum()))
reporting.record("n_multi_phase", int((data["label"] == 0).sum()))
reporting.record("single_phase_share", data["label"].mean())
print(f"alloys: {len(data)}")
print(counts.to_string())
print(f"single-phase share: {data['label'].mean():.3f}")
plots.glue_figure("fig-class-balance", plots.class_balance(data))

# %% [markdown]
# There are {glue:text}`n_alloys:,d` alloys:
# {glue:text}`n_single_phase:,d` single phase and
# {glue:text}`n_multi_phase:,d` multi phase.
#
# ```{glue:figure} fig-class-balance
# ---
# name: fig-class-balance
# figwidth: 360px
# alt: >-
#   Bar chart of the number of single-phase alloys (blue) and
#   multi-phase alloys (red); the two bars are of nearly equal height.
# ---
#
# The two classes are nearly balanced.
# ```
#
# ### Number of elements

# %%
n_elements = features.element_counts(data)
by_size = (
    pd.DataFrame({"n_elements": n_elements, "label": data["label"]})
    .groupby("n_elements")["label"]
    .agg(alloys="size", single_phase_rate="mean")
)
reporting.record("n_binaries", int(by_size.loc[2, "alloys"]))
reporting.record("binary_share", by_size.loc[2, "alloys"] / len(data))
reporting.record("n_five_or_six_elements", int(by_size.loc[[5, 6], "alloys"].sum()))
reporting.record("n_eight_or_more_elements", int(by_size.loc[by_size.index >= 8, "alloys"].sum()))
for size in (2, 4, 5, 6, 7):
    reporting.record(f"single_phase_rate_{size}_elements", by_size.loc[size, "single_phase_rate"])
reporting.readable(by_size.round(3))

# %% [markdown]
# {glue:text}`binary_share:.0%` of the alloys
# ({glue:text}`n_binaries:,d`) are binaries, and
# {glue:text}`n_five_or_six_elements:,d` have five or six elements.

# %%
plots.glue_figure("fig-elements-per-alloy", plots.elements_per_alloy(data))

# %% [markdown]
# ```{glue:figure} fig-elements-per-alloy
# ---
# name: fig-elements-per-alloy
# alt: >-
#   Stacked bars of the number of alloys with 2 to 10 elements, split
#   into single-phase and multi-phase alloys, with a line for the
#   single-phase share of each group. The binaries form the tallest bar and
#   are mostly single phase; five- and six-element alloys come next and are
#   mostly multi phase.
# ---
#
# Alloys by number of elements (bars, by class) and the share of each group
# that forms a single phase (line).
# ```
#
# The raw data do not show entropy stabilisation. Binaries are mostly solid
# solutions (a single-phase share of
# {glue:text}`single_phase_rate_2_elements:.2f`), while from four to seven
# elements the share falls from
# {glue:text}`single_phase_rate_4_elements:.2f` through
# {glue:text}`single_phase_rate_5_elements:.2f` and
# {glue:text}`single_phase_rate_6_elements:.2f` to
# {glue:text}`single_phase_rate_7_elements:.2f` (the groups of eight or more
# elements hold only {glue:text}`n_eight_or_more_elements:d` alloys).
# Which alloys were made and reported (binaries chosen from known
# solid-solution systems; multi-principal-element alloys explored more
# widely) may shape this picture as much as physics does; these data cannot
# separate the two. A model that leans on
# the number of elements, or on the mixing entropy that grows with it,
# partly learns this selection.
#
# ### Elements

# %%
element_share = (data[list(hea_dvae.ELEMENTS)] > 0).sum().sort_values(ascending=False)
element_share.head(10).rename("alloys containing it").rename_axis("element").to_frame()

# %%
plots.glue_figure("fig-element-frequency", plots.element_frequency(data))

# %% [markdown]
# ```{glue:figure} fig-element-frequency
# ---
# name: fig-element-frequency
# alt: >-
#   Stacked bars of the number of alloys containing each of the 30
#   elements, by class, sorted from the most to the least frequent. Ni, Fe,
#   Co and Cr lead; the rare elements on the right occur in a few alloys
#   each.
# ---
#
# Number of alloys containing each of the 30 elements, by class. The 3d
# transition metals of the Cantor family dominate.
# ```
#
# ## 3. The eight features
#
# Each alloy is also described by eight features computed from its
# composition: the fraction-weighted bulk modulus $K$, molar volume $V_m$,
# melting point $T_m$ and valence-electron concentration (VEC, the column
# `vac` of the data), the atomic size mismatch $\delta$
# {cite:p}`zhang2008rules`, the electronegativity difference $\Delta\chi$,
# the ideal mixing entropy $\Delta S_\mathrm{mix}$ and the mixing enthalpy
# $\Delta H_\mathrm{mix} = \sum_{i<j} 4\,\Delta H_{ij}\,c_i c_j$ from
# binary enthalpies of mixing {cite:p}`takeuchi2005` (formulas and units in
# `hea_dvae.features`). The class means:

# %%
class_means = data.groupby("label")[list(hea_dvae.FEATURES)].mean().rename(index=plots.CLASS_NAMES).T
reporting.record("vec_gap_paper", class_means.loc["vac", "single phase"] - class_means.loc["vac", "multi phase"])
reporting.readable(class_means.round(3), labels={"label": "mean over the class"})

# %%
plots.glue_figure("fig-features", plots.feature_distributions(data))

# %% [markdown]
# ```{glue:figure} fig-features
# ---
# name: fig-features
# alt: >-
#   Eight histograms, one per feature, of single-phase alloys (blue)
#   over multi-phase alloys (red). The classes overlap in every panel; the
#   single-phase histograms sit at higher VEC and melting point and at lower
#   size mismatch, mixing entropy and magnitude of mixing enthalpy.
# ---
#
# The eight features by class. Single-phase alloys have, on average, a
# higher VEC and melting point and a lower size mismatch, mixing entropy and
# magnitude of mixing enthalpy; every feature overlaps strongly between
# the classes. Part of the VEC gap is an error of the element table
# ({ref}`sec-vec-warning`): with corrected valence counts the difference of
# the class means shrinks from {glue:text}`vec_gap_paper:.2f` to
# {glue:text}`vec_gap_corrected:.2f` electrons per atom.
# ```
#
# ## 4. Reproducing the published features
#
# `hea_dvae.featurize` computes the eight features from the 30 fractions,
# for numpy arrays and, differentiably, for torch tensors (inverse design
# optimises through it). With the authors' element table it reproduces the
# published columns:

# %%
agreement = features.feature_agreement(data, table="paper")
reporting.record("featurizer_max_rel_diff", agreement["max_rel_diff"].max())
reporting.readable(agreement)

# %%
print(f"largest relative difference over all features: {agreement['max_rel_diff'].max():.1e}")
computed = features.featurize(data[list(hea_dvae.ELEMENTS)].to_numpy(), table=settings.table)
plots.glue_figure("fig-parity", plots.parity(data, computed))

# %% [markdown]
# ```{glue:figure} fig-parity
# ---
# name: fig-parity
# alt: >-
#   Eight scatter plots, one per feature, of the computed value
#   against the published value for every alloy, with the diagonal dashed.
# ---
#
# Features computed with the table chosen in the parameters cell against
# the published values. With the paper table every point lies on the
# diagonal.
# ```
#
# (sec-vec-warning)=
# ### A corrected element table
#
# :::{admonition} The upstream table counts filled inner shells as valence electrons
# :class: warning
# For Hf, Ta, W, Re, Os, Ir, Pt and Au the upstream table counts the 14
# electrons of the filled 4f shell as valence electrons (W has 20, it is 6),
# and for Sn the 10 of its filled 4d shell (14, it is 4). It also gives Sn a melting point of 395.71 K (it melts
# at 505 K). The dataset's `vac` column, and so every model trained on it,
# inherits these values.
# :::
#
# The `"corrected"` table takes melting point, molar volume,
# electronegativity, bulk modulus and radius from pymatgen's element data
# {cite:p}`ong2013pymatgen` (the upstream value where pymatgen has none) and
# VEC as the s + d electron count. Every difference from the paper table:

# %%
differences = features.table_differences()
reporting.record("n_table_differences", len(differences))
print(f"{len(differences)} element properties differ")
differences.head(15)

# %%
print("kept from upstream:", *features.get_table("corrected").notes, sep="\n  ")

# %% [markdown]
# How many alloys each feature changes for by more than 1 %:

# %%
reporting.readable(features.table_effect(data))

# %%
heavy = ["Hf", "Ta", "W", "Re", "Os", "Ir", "Pt", "Au", "Sn"]
has_heavy = features.contains_any(data, heavy)
reporting.record("n_alloys_affected", int(has_heavy.sum()))
reporting.record("affected_share", has_heavy.mean())
reporting.record("single_phase_share_affected", data.loc[has_heavy, "label"].mean())
reporting.record("single_phase_share_unaffected", data.loc[~has_heavy, "label"].mean())
print(f"alloys with one of {' '.join(heavy)}: {has_heavy.sum()} ({has_heavy.mean():.1%})")
print(f"single-phase share with them:    {data.loc[has_heavy, 'label'].mean():.3f}")
print(f"single-phase share without them: {data.loc[~has_heavy, 'label'].mean():.3f}")

# %% [markdown]
# The affected alloys are far more often single phase than the rest
# ({glue:text}`single_phase_share_affected:.0%` against
# {glue:text}`single_phase_share_unaffected:.0%`), so the inflated VEC is
# correlated with the label through an artefact of the table ({doc}`Chapter
# 5 <05_interpretation>` measures how much the classifiers use it). The
# next figure shows how far the corrected VEC moves them.

# %%
corrected = features.featurize(data[list(hea_dvae.ELEMENTS)].to_numpy(), table="corrected")
paper_values = features.featurize(data[list(hea_dvae.ELEMENTS)].to_numpy(), table="paper")
vec = hea_dvae.FEATURES.index("vac")
is_single = data["label"].to_numpy() == 1
reporting.record("vec_gap_corrected", corrected[is_single, vec].mean() - corrected[~is_single, vec].mean())
plots.glue_figure("fig-vec", plots.table_comparison(paper_values, corrected, data["label"], "vac"))

# %% [markdown]
# ```{glue:figure} fig-vec
# ---
# name: fig-vec
# figwidth: 420px
# alt: >-
#   Scatter plot of each alloy's VEC under the corrected table against
#   its VEC under the paper table, by class. Most alloys lie on the
#   diagonal; a group of mostly single-phase alloys lies far below it.
# ---
#
# VEC under the paper table and the corrected one. Alloys off the diagonal
# contain one of the nine affected elements.
# ```
#
# The book follows the paper and uses the `"paper"` table by default, so that
# its numbers can be compared with the paper's; the corrected table is one
# parameter away.
#
# ### A third table: the values the empirical rules were calibrated on
#
# The corrected table mends VEC (and takes the other properties listed
# above from pymatgen), but leaves the size mismatch $\delta$ and the
# mixing enthalpy as the paper's table has them, computed from other element data
# than the literature's: its radii are pymatgen's empirical atomic radii
# (Al 125 pm, smaller than Fe's 140), not the metallic radii on which the
# $\delta \le 6.6\,\%$ rule was calibrated, and its pair enthalpies are not
# the Takeuchi–Inoue values behind the $\Omega$ and $\Delta H_\mathrm{mix}$
# windows. The `"standard"` table takes metallic radii and Takeuchi–Inoue
# enthalpies (`hea_dvae.elements`). Published values of reference alloys
# beside each table ($\delta$ in %, $\Delta H_\mathrm{mix}$ in kJ/mol):

# %%
literature = features.tables_against_literature()
for (formula, feature), row in literature.iterrows():
    for table in ("paper", "standard"):
        reporting.record(f"{formula}_{feature}_{table}", round(row[table], 6))
literature.round(2)

# %% [markdown]
# The standard table gives the published values to the printed digits;
# the paper's table gives the Cantor alloy CoCrFeMnNi a $\delta$ of
# {glue:text}`CoCrFeMnNi_delta_paper:.2f` % (published 3.27 %) and a
# $\Delta H_\mathrm{mix}$ of {glue:text}`CoCrFeMnNi_delta_h_mix_paper:.2f`
# kJ/mol (published −4.16). The book keeps the paper's table wherever it
# reproduces the paper.
#
# ## 5. One composition, two spellings
#
# Formulas are unique, but compositions are not: some alloys appear twice,
# written differently.

# %%
split = hea_dvae.paper_split(data)
duplicates = features.find_duplicate_compositions(data, split)
duplicates

# %%
groups = duplicates.groupby("group").agg(
    conflict=("labels_conflict", "first"), crosses=("crosses_split", "first")
)
reporting.record("n_duplicate_groups", len(groups))
reporting.record("n_duplicate_groups_conflicting", int(groups["conflict"].sum()))
reporting.record("n_duplicate_groups_crossing_split", int(groups["crosses"].sum()))
print(f"groups of equal compositions: {len(groups)}")
print(f"with conflicting labels: {int(groups['conflict'].sum())}")
print(f"spread over two parts of the paper split: {int(groups['crosses'].sum())}")

# %% [markdown]
# One of these formulas writes a zero amount (`Mo0`), which
# `hea_dvae.composition_vector` refuses. The
# {glue:text}`n_duplicate_groups:d` groups are few and the book keeps them,
# as the paper did. A twin on each side of the split moves the test score:
# up when the twins share their label (the model has seen the answer),
# down when they do not; twins with conflicting labels are irreducible
# error.
#
# ## 6. The paper's split
#
# The authors split the alloys with chained
# `train_test_split(random_state=42)`: 10 % test, then 30 % of the rest
# unlabelled, then 20 % of that validation. `paper_split` reproduces it
# exactly.

# %%
sizes = split_sizes(split)
for part in ("labelled", "unlabelled", "validation", "test"):
    reporting.record(f"n_{part}", int(sizes.loc[part, "alloys"]))
reporting.record("n_training_pool", int(sizes.loc[["labelled", "unlabelled"], "alloys"].sum()))
reporting.readable(sizes.round(3))

# %% [markdown]
# The ablation over the labelled fraction ({doc}`chapter 3
# <03_data_efficiency>`) keeps the same validation and test alloys and
# labels only a share of the {glue:text}`n_training_pool:,d`-alloy training
# pool, stratified by class. With the `labelled_fraction` and `seed` of the
# parameters cell:

# %%
example = hea_dvae.labelled_fraction_split(settings.labelled_fraction, seed=settings.seed)
reporting.readable(split_sizes(example).round(3))

# %% [markdown]
# ## Summary
#
# In this chapter we loaded the {glue:text}`n_alloys:,d` alloys from
# pinned, checksummed files; saw that the classes are balanced, that
# binaries are mostly single phase and that single-phase alloys are a
# minority among alloys of five or more elements (a share of
# {glue:text}`single_phase_rate_5_elements:.2f`,
# {glue:text}`single_phase_rate_6_elements:.2f` and
# {glue:text}`single_phase_rate_7_elements:.2f` for five, six and seven);
# reproduced the published features to machine precision (largest relative
# difference {glue:text}`featurizer_max_rel_diff:.0e`); found that the
# upstream element table inflates the VEC of alloys with 5d elements or Sn,
# a group that is mostly single phase; listed compositions that appear under
# two spellings; and reproduced the paper's
# {glue:text}`n_labelled:d` / {glue:text}`n_unlabelled:d` /
# {glue:text}`n_validation:d` / {glue:text}`n_test:d` split.
#
# ## What's next
#
# {doc}`Chapter 2 <02_model>` trains the disentangled semi-supervised VAE on
# this split. The {doc}`headline results <results>` compare every number
# the book reproduces with the paper's.
#
# Works cited here are listed on the {doc}`references <references>` page.
#
# ---
#
# What produced this page (package, data, machine):

# %% tags=["nbval-ignore-output"]
reporting.provenance()
