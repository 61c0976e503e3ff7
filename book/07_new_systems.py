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
# # 7. Beyond the paper: new alloy systems
#
# ## Overview
#
# A materials scientist uses `hea-dvae predict` and `hea-dvae design` on
# alloy systems that are not in the data: every top-ten alloy of the screens
# of {doc}`Chapter 6 <06_design>` lies outside it. {doc}`Chapter 2 <02_model>`
# measured that use with *grouped* cross-validation, where no element set
# is on both sides of a fold, and found the SSVAE of the paper's eight
# features the weakest model there. This chapter asks which predictor holds
# best on alloy systems it has never seen:
#
# 1. the protocol: nested grouped cross-validation, where no choice sees the
#    alloys it is scored on;
# 2. the inputs: the paper's 8 features or 31 descriptors of the
#    metallurgical literature;
# 3. the comparison: every model on the same folds, paired differences with
#    intervals, and what the inner choices chose;
# 4. the best predictor against the targets set for it;
# 5. its calibration and whether its spread knows when it is guessing;
# 6. what the `outside_data` flag is worth;
# 7. which predictor the command line uses, and why.
#
# ## Prerequisites
#
# | Concept | Importance |
# | --- | --- |
# | {doc}`Chapter 1 <01_data>`: the data, the corrected element table | necessary |
# | {doc}`Chapter 2 <02_model>`, section 6: cross-validation on unseen alloy systems | necessary |
# | Corrected paired t interval for cross-validation {cite:p}`nadeau2003inference` | helpful |
# | Empirical phase-formation rules {cite:p}`zhang2008rules,yang2012omega,guo2011vec` | helpful |
#
# Time to read: 15 minutes; to run: about three minutes on an otherwise idle
# two-core CPU with an empty model cache (five SSVAEs of the full recipe,
# about 45 s; the tree models, refitted every time, about two minutes).
#
# :::{admonition} Run this chapter yourself
# :class: tip
# The download button at the top of the page gives this chapter as a
# notebook (`.ipynb`); see {ref}`get-the-code` for the install commands.
# From a checkout,
# `.venv/bin/python scripts/execute_chapters.py -p cv_repeats 5 book/07_new_systems.py`
# reruns it with five repeats of the folds, and `-p profile smoke` runs
# every cell in seconds (numbers meaningless).
# :::

# %% tags=["parameters"]
cv_folds = 5  # outer grouped folds: each holds about a fifth of the element sets out
cv_repeats = 3  # repeats of the outer folds, differently shuffled (tree models)
ssvae_repeats = 1  # of those repeats, how many also train the SSVAE (5 models of the full recipe each)
cv_epochs = 800  # epochs of each SSVAE (the full recipe of chapter 2)
inner_folds = 3  # inner grouped folds of every choice, inside an outer training part
inner_trees = 100  # trees of each forest fitted for a choice (the chosen one is refitted with 500)
n_jobs = 2  # worker processes over folds
profile = "full"  # "full": the book; "smoke": every cell in seconds (numbers meaningless)

# %%
import pandas as pd
from myst_nb import glue

from hea_dvae import descriptors, evaluation, generalisation, reporting
from hea_dvae.data import load_dataset
from hea_dvae.metrics import paired_t
from hea_dvae.reporting import plots
from hea_dvae.train import TrainConfig

# The smoke profile (-p profile smoke) shrinks the parameters above: hea_dvae.reporting.profiles.
globals().update(reporting.profile_parameters(profile, globals()))
TABLE = generalisation.TABLE
ssvae_config = TrainConfig.with_table(TABLE, epochs=cv_epochs)
reporting.chapter("07_new_systems")
plots.use_style()
pd.set_option("display.precision", 3)
data = load_dataset()
ssvae_config

# %% [markdown]
# ## 1. The protocol: nested grouped cross-validation
#
# The outer folds are those of chapter 2 (`hea_dvae.evaluation.cv_folds`,
# scheme `"grouped"`, corrected element table): stratified, with every
# element set (Al-Co-Cr-Fe-Ni, ...) wholly on one side, so every test alloy
# belongs to an alloy system its models never saw. Each fold's training
# part is split as in chapter 2: a tenth held out for the SSVAE's early
# stopping, a quarter of the rest given to the SSVAE without labels; every
# model learns from the same labelled alloys, and the tree models see only
# those. The folds, the labelled alloys and the seeds are exactly chapter
# 2's, so the SSVAE trained there and the trees fitted here are compared
# fold by fold.
#
# Some models *choose* (which inputs to read, and a setting or two): a
# choice is made by cross-validation on inner grouped folds of the outer
# fold's labelled alloys, never on its test alloys
# (`hea_dvae.generalisation.choose`; `tests/test_generalisation.py` checks
# that no inner fit or score touches an outer test alloy).

# %%
folds = generalisation.outer_folds(data, cv_folds, cv_repeats)
fold_sizes = pd.DataFrame([{"repeat": f["repeat"], "fold": f["fold"], "test alloys": len(f["test"]),
                            "labelled": len(f["labelled"]), "unlabelled": len(f["unlabelled"]),
                            "validation": len(f["validation"])} for f in folds]).set_index(["repeat", "fold"])
glue("outer_folds", len(folds), display=False)
fold_sizes.head(cv_folds)

# %% [markdown]
# ## 2. The inputs: 8 features or 31 descriptors
#
# The paper's eight features are averages and spreads of element
# properties. `hea_dvae.descriptors` computes 31 descriptors exactly from
# the composition: the eight, the rule parameters $\Omega$, $\Lambda$ and
# $\gamma$, electronegativity spreads on the Pauling and Allen scales,
# spreads of melting point, bulk modulus, VEC and molar volume, statistics
# of the pair mixing enthalpies of the elements present (strongest and
# weakest pair, their spread, the share of strongly compound-forming
# pairs), the radius ratios of the smallest and largest atoms, and the
# number of elements; every one with its reference in the module's
# documentation. Here they are computed with the corrected element table,
# so their first eight columns are the paper's eight features of chapter
# 2's grouped folds; $\Omega$ and $\Lambda$, infinite for some alloys, are
# read as logarithms clipped to $[10^{-2}, 10^{3}]$
# (`hea_dvae.generalisation.model_inputs`). Each descriptor alone, as a
# score of single phase over all alloys (no model, no training):

# %%
inputs = generalisation.model_inputs(data)
single = descriptors.descriptor_auc(inputs, data["label"])
reporting.record("best_single_descriptor", single.index[0])
reporting.record("best_single_descriptor_auc", single["auc"].iloc[0])
single.head(8)

# %% [markdown]
# The strongest descriptor alone, {glue:text}`best_single_descriptor`,
# ranks all alloys with an AUC of {glue:text}`best_single_descriptor_auc:.3f`
# (only its direction is read from the labels). The question is what a
# model makes of all of them on alloy systems it has not seen.
#
# ## 3. Every model on the same folds
#
# - **Tree models, fixed**: the random forest and gradient boosting of
#   chapter 2 (`hea_dvae.baselines.sklearn_baselines`, default settings) on
#   the 8 features and on the 31 descriptors.
# - **Tree models, nested**: each family chooses on the inner folds between
#   the 8 features and the 31 descriptors and between two settings
#   (`hea_dvae.generalisation.GRIDS`: the forest's features per split,
#   $\sqrt{d}$ or $d/2$; boosting's tree depth, 3, or 5 with a subsample of
#   0.8), then the chosen model is refitted on the fold's labelled alloys.
# - **The SSVAE** of chapter 2 with the paper's 8 features, the full recipe
#   of 800 epochs, on the first `ssvae_repeats` repeat(s) of the folds
#   (`hea_dvae.evaluation.cross_validate`; one SSVAE per fold, through the
#   model cache).

# %%
nested = generalisation.nested_cross_validate(data, inputs, n_folds=cv_folds, n_repeats=cv_repeats,
                                              n_inner=inner_folds, inner_trees=inner_trees, n_jobs=n_jobs)

# %%
ssvae_results, ssvae_predictions = evaluation.cross_validate(
    data, schemes="grouped", tables=TABLE, models=("ssvae",), n_folds=cv_folds, n_repeats=ssvae_repeats,
    train_config=ssvae_config, unlabelled_share=0.25, n_jobs=n_jobs, return_predictions=True)
results = pd.concat([ssvae_results.replace({"model": {"ssvae": "ssvae_8"}}), nested.results], ignore_index=True)
predictions = pd.concat([ssvae_predictions.replace({"model": {"ssvae": "ssvae_8"}}), nested.predictions],
                        ignore_index=True)
summary = evaluation.summarize_cv(results).droplevel(["scheme", "table"])

# %% tags=["nbval-ignore-output"]
table = summary["mean ± std"].unstack("metric")[["auc", "accuracy", "brier", "ece"]]
table.insert(0, "folds", summary.xs("auc", level="metric")["folds"])
reporting.readable(table.rename(index=generalisation.MODEL_LABELS))

# %% [markdown]
# Mean ± standard deviation over the outer test folds (all repeats; the
# SSVAE's over its repeats only). Lower is better for the Brier score and
# the calibration error.

# %%
auc = summary.xs("auc", level="metric")
tree_basis = ("scikit-learn trees with fixed seeds on fixed folds: only another CPU's or library build's "
              "rounding moves them")
ssvae_basis = "five SSVAEs of the full recipe; chapter 2's fold AUCs move by about 0.02 on another CPU"
for model in auc.index:
    is_ssvae = model.startswith("ssvae")
    reporting.record(f"cv_auc_{model}", auc.loc[model, "mean"], kind="trained", tolerance=0.03 if is_ssvae else 0.01,
                     basis=ssvae_basis if is_ssvae else tree_basis)
plots.glue_figure("fig-new-systems-cv",
                  plots.cv_comparison(results.replace({"model": generalisation.MODEL_LABELS}), metric="auc"))

# %% [markdown]
# ```{glue:figure} fig-new-systems-cv
# :name: fig-new-systems-cv
# :alt: ROC AUC on held-out alloy systems of each model, mean and standard deviation over the outer grouped folds: the SSVAE on 8 features, random forests and gradient boosting on 8 features and on 31 descriptors, and both with their choices made on inner folds.
#
# ROC AUC on alloy systems held out of training (grouped folds, corrected
# element table), mean ± standard deviation over the outer folds.
# ```
#
# ### Paired on the same folds
#
# Each difference below is a mean over the folds both models were scored
# on, with the 95 % interval of {cite:t}`nadeau2003inference`, which widens
# the t interval for the training alloys the folds share
# (`hea_dvae.evaluation.compare_models`):

# %%
pairs = {  # name: (model a, model b, who is a, who is b)
    "forest_descriptors": ("random_forest_31", "random_forest_8", "the 31 descriptors", "the 8 features"),
    "boosting_descriptors": ("gradient_boosting_31", "gradient_boosting_8", "the 31 descriptors",
                             "the 8 features"),
    "forest_vs_boosting": ("random_forest_nested", "gradient_boosting_nested", "the nested random forest",
                           "the nested gradient boosting"),
    "ssvae_vs_forest": ("ssvae_8", "random_forest_8", "the SSVAE", "the random forest (both on 8 features)"),
}
paired = pd.DataFrame({name: evaluation.compare_models(results, a, b).iloc[0]
                       for name, (a, b, _, _) in pairs.items()}).T
subjects = {"forest_descriptors": "The random forest's ROC AUC", "boosting_descriptors": "Gradient boosting's ROC AUC",
            "forest_vs_boosting": "The ROC AUC", "ssvae_vs_forest": "The ROC AUC"}
for name, (a, b, who_a, who_b) in pairs.items():
    tolerance, basis = (0.03, ssvae_basis) if "ssvae" in a else (0.01, tree_basis)
    reporting.interval_claim(name, paired.loc[name, ["difference", "low", "high"]],
                             reporting.difference_sentences(subjects[name], who_a, who_b),
                             tolerance=tolerance, basis=basis)

# %% tags=["nbval-ignore-output"]
reporting.readable(paired)

# %% [markdown]
# - {glue:md}`said_forest_descriptors`
# - {glue:md}`said_boosting_descriptors`
# - {glue:md}`said_forest_vs_boosting`
# - {glue:md}`said_ssvae_vs_forest`
#
# ### What the inner folds chose
#
# How often each candidate was chosen, over the outer folds (each choice
# made on that fold's labelled alloys alone):

# %%
chosen = nested.choices[nested.choices["chosen"]]
choice_counts = chosen.groupby(["family", "candidate"]).size().rename("outer folds")
for family in generalisation.NESTED:
    share = float((chosen.loc[chosen["family"] == family, "features"] == "31").mean())
    reporting.record(f"{family}_chose_descriptors", share, kind="trained", tolerance=0.2,
                     basis="a choice between candidates whose inner AUCs differ by less than 0.005 may flip")

# %% tags=["nbval-ignore-output"]
reporting.readable(choice_counts.to_frame())

# %% [markdown]
# The forest read the descriptors in {glue:text}`random_forest_chose_descriptors:.0%`
# of the outer folds, gradient boosting in
# {glue:text}`gradient_boosting_chose_descriptors:.0%`.
#
# ## 4. The predictor that generalises best, against its targets
#
# The candidates for the predictor users screen new systems with are the
# three models that make their own choices: the SSVAE (whose recipe was
# chosen in chapter 2) and the two nested tree families. The best is the
# one with the highest mean AUC over the outer folds:

# %%
contenders = ["random_forest_nested", "gradient_boosting_nested", "ssvae_8"]
best = auc.loc[contenders, "mean"].idxmax()
reporting.claim("best_model", "first", {model: f"cv_auc_{model}" for model in contenders}, {
    model: f"On alloy systems held out of training, the **{generalisation.MODEL_LABELS[model]}** has the "
           "highest mean ROC AUC of the three." for model in contenders})
best_vs_forest = evaluation.compare_models(results, best, "random_forest_8").iloc[0]
reporting.interval_claim("best_vs_forest", best_vs_forest[["difference", "low", "high"]],
                         reporting.difference_sentences("The ROC AUC", "the best predictor",
                                                        "chapter 2's random forest on 8 features"),
                         tolerance=0.03 if best.startswith("ssvae") else 0.01,
                         basis=ssvae_basis if best.startswith("ssvae") else tree_basis)
ece = summary.xs("ece", level="metric")
reporting.record("cv_auc_best", auc.loc[best, "mean"], kind="trained", tolerance=0.01, basis=tree_basis)
reporting.record("cv_ece_best", ece.loc[best, "mean"], kind="trained", tolerance=0.01, basis=tree_basis)

# %% [markdown]
# {glue:md}`said_best_model` Its mean AUC over
# {glue:text}`outer_folds` outer folds is {glue:text}`cv_auc_best:.3f`.
# {glue:md}`said_best_vs_forest`
#
# The targets set for this predictor (grouped folds, corrected table, mean
# over folds and repeats) and where it stands; its spread and
# calibration are measured in the next section:

# %%
spread_model = best if best.startswith("random_forest") else "random_forest_nested"
ranking = generalisation.spread_ranks_errors(nested.predictions, spread_model)
reporting.record("spread_auc", ranking["spread_auc"].mean(), kind="trained", tolerance=0.01, basis=tree_basis)
reporting.record("closeness_auc", ranking["closeness_auc"].mean(), kind="trained", tolerance=0.01,
                 basis=tree_basis)
glue("spread_model_label", generalisation.MODEL_LABELS[spread_model], display=False)
targets = {  # name: (target, the claim's evidence: "at least" reads value >= threshold; the measured role)
    "target_auc": ("ROC AUC ≥ 0.93", {"value": "cv_auc_best", "threshold": 0.93}, "value"),
    "target_gain": ("≥ 0.02 above the forest on 8 features",
                    {"value": "best_vs_forest_difference", "threshold": 0.02}, "value"),
    "target_ece": ("calibration error (ECE) ≤ 0.05", {"value": 0.05, "threshold": "cv_ece_best"}, "threshold"),
    "target_spread": ("spread ranks errors, AUC ≥ 0.65", {"value": "spread_auc", "threshold": 0.65}, "value"),
}
standing = {}
for name, (target, evidence, role) in targets.items():
    reporting.claim(name, "at least", evidence, {"met": f"{target}: met ({{{role}:.4f}}).",
                                                 "missed": f"{target}: missed ({{{role}:.4f}})."})
    standing[target] = {"measured": f"{reporting.records()[evidence[role]]['value']:.4f}",
                        "outcome": reporting.records()[f"claim_{name}"]["value"]}

# %% tags=["nbval-ignore-output"]
pd.DataFrame(standing).T

# %% [markdown]
# :::{admonition} Where the targets stand
# :class: note
# - {glue:md}`said_target_auc`
# - {glue:md}`said_target_gain` The gain's interval:
#   {glue:md}`said_best_vs_forest`
# - {glue:md}`said_target_ece`
# - {glue:md}`said_target_spread`
#
# The best of three was picked on the same outer folds that score it, so
# its AUC is slightly optimistic; the margin between the families is in
# the paired table of section 3. The calibration error is that of the
# forest's raw vote shares: recalibrating them (isotonic or a temperature,
# fitted on inner folds) is the obvious next step and is not done here.
# :::
#
# ## 5. Calibration, and a spread that knows when it is guessing
#
# The reliability diagram pools the out-of-fold predictions of the first
# repeat (every alloy once); the calibration error (ECE, 10 bins) of the
# table above is the mean over folds:

# %%
first_repeat = predictions[predictions["repeat"] == 0]
shown = dict.fromkeys([best, "random_forest_8", "ssvae_8"])
curves = {generalisation.MODEL_LABELS[m]: (part["label"].to_numpy(), part["probability"].to_numpy())
          for m in shown for part in [first_repeat[first_repeat["model"] == m]]}
plots.glue_figure("fig-new-systems-reliability", plots.reliability_diagram(curves))

# %% [markdown]
# ```{glue:figure} fig-new-systems-reliability
# :name: fig-new-systems-reliability
# :alt: Reliability diagram on held-out alloy systems: observed single-phase share against mean predicted probability per bin, for the best predictor, the random forest on 8 features and the SSVAE, with the diagonal of perfect calibration.
#
# Reliability on alloy systems held out of training (first repeat of the
# outer folds, every alloy once).
# ```
#
# A forest's *spread* is the standard deviation of its trees'
# probabilities. It is worth reporting if it ranks the forest's wrong
# predictions (probability on the wrong side of 0.5) above its right ones:
# the AUC of the spread as a score of being wrong, per outer fold. A
# probability near 0.5 already says "unsure", so the yardstick is the same
# AUC for $0.5 - |p - 0.5|$:

# %%
spread_gain = paired_t((ranking["spread_auc"] - ranking["closeness_auc"]).to_numpy(), folds=cv_folds)
spread_sentence = reporting.interval_claim(
    "spread_vs_closeness", (spread_gain.difference, spread_gain.low, spread_gain.high),
    reporting.difference_sentences("The AUC of telling wrong predictions from right ones", "the trees' spread",
                                   "the probability's closeness to 0.5"), tolerance=0.01, basis=tree_basis)

# %% tags=["nbval-ignore-output"]
ranking.describe().loc[["mean", "std", "min", "max"]]

# %% [markdown]
# The spread of the {glue:text}`spread_model_label` tells its wrong
# predictions from its right ones with an AUC of
# {glue:text}`spread_auc:.3f`, against {glue:text}`closeness_auc:.3f` for
# the probability's own closeness to 0.5.
# {glue:md}`said_target_spread` {glue:md}`said_spread_vs_closeness`
# For a forest of fully grown trees the two nearly coincide by
# construction: each tree votes (almost always) 0 or 1, so the spread is
# close to $\sqrt{p(1-p)}$, a function of the probability itself. A spread
# that carries information of its own needs members that disagree for
# other reasons (other training data, other inputs).
#
# ## 6. What the `outside_data` flag is worth
#
# `hea-dvae predict` flags an alloy `outside_data` when it is farther from
# every known alloy than nine in ten known alloys are from their nearest
# neighbour, holds an element pair no known alloy holds, or has a number of
# elements no known alloy has (`hea_dvae.design.data_flags`). Here the flag
# of each outer test alloy is computed against its fold's training part
# alone, as a user's new alloy is against the whole data, and the best
# predictor is scored on the flagged and the unflagged test alloys
# separately:

# %%
flags = generalisation.outside_flags(data, folds)
flag_table = generalisation.flag_value(predictions, flags, best)
reporting.record("flagged_share", float(flags["outside_data"].mean()))
for metric in ("auc", "accuracy"):
    worth = generalisation.flag_difference(flag_table, metric, n_folds=cv_folds)
    reporting.interval_claim(f"flag_{metric}", (worth.difference, worth.low, worth.high),
                             reporting.difference_sentences(f"The best predictor's {metric.replace('auc', 'ROC AUC')}",
                                                            "the unflagged test alloys", "the flagged ones"),
                             tolerance=0.02, basis=tree_basis + "; split by a flag that does not depend on training")

# %% tags=["nbval-ignore-output"]
flag_table.describe().loc[["mean", "std"]]

# %% [markdown]
# Of the outer test alloys, {glue:text}`flagged_share:.0%` are flagged.
# {glue:md}`said_flag_auc` {glue:md}`said_flag_accuracy`
# (Differences unflagged minus flagged, per fold, with the corrected
# interval.) Above zero, the flag would mark predictions to trust less;
# not resolved or below zero, it marks compositions far from the known
# ones, not predictions that are worse. The share of single-phase alloys
# differs between the two groups (the table above), which moves accuracy
# more than the ROC AUC.
#
# ## 7. Which predictor the command line uses
#
# {glue:md}`said_best_model` Yet `hea-dvae predict`, `hea-dvae design` and
# the screen still use the **SSVAE ensemble** of chapter 2 (standard
# table, five seeds), for now, for three reasons:
#
# - gradient inversion ({doc}`Chapter 6 <06_design>`, section 5) follows
#   the gradient of the probability with respect to the composition: it
#   needs a differentiable model, and a forest's probability is a step
#   function of its inputs;
# - latent-space design and the label-flip loop decode compositions from
#   the SSVAE's latent space: a tree model has no decoder;
# - a predictor on the 31 descriptors needs a featurizer of the
#   descriptors in the prediction path, and a stored, identified model
#   (`hea_dvae.predictors`); neither exists yet.
#
# Where this book reproduces the paper it keeps the SSVAE. The screen,
# which only scores compositions, is the route that could switch to the
# best predictor first.
#
# :::{admonition} Not done here: the SSVAE whose classifier reads the descriptors
# :class: warning
# The issue asked also for the SSVAE whose classifier $q(y|e)$ reads the
# 31 descriptors. The model's input width is a setting
# (`SSVAEConfig.n_features`), but the model cache stores models through
# `hea_dvae.checkpoint`, which accepts only the 8 features, and the
# predictors featurize compositions with the 8; five more SSVAEs of the
# full recipe would also take this chapter past its time budget. It is
# left for a later chapter, with the checkpoint format extended.
# :::
#
# ## Summary
#
# In this chapter we compared, on folds that hold whole alloy systems out
# of training, the SSVAE of the paper's eight features with random forests
# and gradient boosting on those features and on 31 descriptors, with every
# choice of inputs and settings made on inner folds of the training part;
# named the predictor that generalises best and set it against its
# targets; measured its calibration and whether its spread ranks its
# errors; and measured what the `outside_data` flag says about a
# prediction.
#
# ## What's next
#
# The headline page ({doc}`results`) gathers every chapter's numbers.
#
# Works cited here are listed on the [references](references.md) page.
#
# ---
#
# What produced this page (package, data, machine):

# %% tags=["nbval-ignore-output"]
reporting.provenance()
