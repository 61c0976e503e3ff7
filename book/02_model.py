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
# # 2. The model: a disentangled semi-supervised VAE
#
# ## Overview
#
# This chapter trains the model of {cite:t}`zeng2024dvae` on the paper's
# split and measures it honestly:
#
# 1. the generative story and the inference model;
# 2. the training recipe, chosen on the validation alloys: what was tried;
# 3. our models on the test alloys, with bootstrap intervals, against the
#    targets we set ourselves;
# 4. the authors' released model on the same split;
# 5. supervised baselines on the same features, compared pair by pair on the
#    same alloys;
# 6. cross-validation over all 1,373 alloys, also on alloy systems the models
#    have never seen, and which element table to use;
# 7. calibration: do the probabilities mean what they say? The predictor the
#    command line uses;
# 8. reconstructed test alloys beside the true ones.
#
# ## Prerequisites
#
# | Concept | Importance |
# | --- | --- |
# | {doc}`Chapter 1 <01_data>`: the data and the paper split | necessary |
# | Variational autoencoders {cite:p}`kingma2013vae` | helpful |
# | Semi-supervised VAEs, the "M2" model {cite:p}`kingma2014semi` | helpful |
# | Bootstrap intervals {cite:p}`efron1993bootstrap` | helpful |
#
# Time to read: 30 minutes; to run: minutes with a filled model cache (run
# time at the foot of the page); with an empty one, add the training: the
# recipe table's `seconds` column (section 2) and each cross-validation's
# time are printed where they run.
#
# :::{admonition} Run this chapter yourself
# :class: tip
# The download button at the top of the page gives this chapter as a
# notebook (`.ipynb`). It needs the `hea_dvae` package and the data: see
# {ref}`get-the-code` for the two install commands. The `parameters` cell
# below holds everything you can change. From a checkout,
# `make book PARAMS="-p seeds 3"` reruns every chapter and rebuilds the book;
# `.venv/bin/python scripts/execute_chapters.py -p seeds 3 book/02_model.py`
# reruns this chapter alone, and
# `papermill 02_model.ipynb out.ipynb -p seeds 3` works on the downloaded
# notebook. Trained models are cached (`HEA_DVAE_CACHE_DIR`): a rerun with
# the same parameters trains nothing.
# :::

# %% tags=["parameters"]
seeds = 5  # number of training runs (seeds 0, 1, ...) for mean ± std and the ensemble
table = "paper"  # element table of the features: "paper" (the paper's), "corrected" or "standard"
epochs = 800  # epochs per run (passes over the 1,160 training alloys)
batch_size = 128  # alloys per Adam step
learning_rate = 0.003  # peak Adam learning rate (cosine decay to 0)
alpha = 10.0  # weight of the classification loss on labelled alloys
z_dim = 2  # dimension of the latent space
recipe_seeds = 5  # seeds per recipe in the table of recipes tried (0 skips it)
cv_folds = 5  # folds of the cross-validation over all alloys (0 skips section 6)
cv_repeats = 1  # repeats of the cross-validation (differently shuffled folds)
cv_epochs = 800  # epochs of each SSVAE in the cross-validation (the full recipe; fewer is quicker)
head_epochs = 2000  # most epochs of the classifier network trained alone (sections 5 and 6; early stopping)
n_bootstrap = 2000  # bootstrap resamples of the test alloys for every interval
n_examples = 6  # reconstructed test alloys shown
build_predictor = True  # section 7: train the SSVAE ensemble of the command line's design routes (False skips it)
profile = "full"  # "full": the book; "smoke": every cell in seconds (tiny epochs, 2 seeds; numbers meaningless)

# %%
from dataclasses import replace

import pandas as pd
from myst_nb import glue

import hea_dvae
from hea_dvae import baselines, elements, evaluation, metrics, reporting, zoo
from hea_dvae import paper as published
from hea_dvae.compositions import formula_from_vector
from hea_dvae.data import as_arrays, split_with_table
from hea_dvae.model import SSVAEConfig, load_released_model
from hea_dvae.predictors import Ensemble
from hea_dvae.reporting import plots
from hea_dvae.train import TrainConfig

# The smoke profile (-p profile smoke) shrinks the parameters above: hea_dvae.reporting.profiles.
globals().update(reporting.profile_parameters(profile, globals()))
settings = TrainConfig(
    model=SSVAEConfig(z_dim=z_dim, alpha=alpha, table=table),
    lr=learning_rate,
    epochs=epochs,
    batch_size=batch_size,
)
reporting.chapter("02_model")
plots.use_style()
pd.set_option("display.precision", 3)
settings

# %% [markdown]
# ## 1. The model
#
# Each alloy has a composition $x$ (atomic fractions over 30 elements), a
# label $y$ (1 if it forms a single phase) and eight engineered features
# $e$ computed from $x$. The generative model draws a label and a latent
# vector independently and composes an alloy from them:
#
# $$
# p(z) = \mathcal N(0, I), \qquad p(y) = \mathrm{Bernoulli}(\pi),
# $$
#
# $$
# p(x \mid y, z) = \mathrm{Multinomial}\big(N x \mid N,
#   \mathrm{softmax}(f_\theta(z, y))\big),
# $$
#
# with $N = 100$: the composition in at.% is the observation. Because $y$
# and $z$ are independent a priori, $z$ is pushed to encode what varies
# among alloys *of the same class*: the label is disentangled from the rest
# ({doc}`Chapter 4 <04_latent_space>` measures how far that holds).
#
# The inference model has a classifier on the features and a Gaussian
# encoder of the composition and label:
#
# $$
# q(y \mid e) = \mathrm{Bernoulli}\big(\sigma(g_\phi(e))\big), \qquad
# q(z \mid x, y) = \mathcal N\big(\mu_\phi(x, y), \mathrm{diag}\,\sigma^2_\phi(x, y)\big).
# $$
#
# A labelled alloy contributes
# $\mathcal L(x, y) = -\mathbb E_{q(z|x,y)}[\log p(x|y,z)] +
# \mathrm{KL}(q(z|x,y)\,\|\,p(z)) - \log p(y)$ plus $\alpha$ times the
# cross-entropy of $q(y|e)$; an unlabelled alloy sums over both labels
# exactly,
# $\mathcal U(x) = \sum_y q(y|e)\,[\ldots] + \mathrm{KL}(q(y|e)\,\|\,p(y))$.
# All three networks have two hidden layers of 100 softplus units, as in
# the paper.

# %%
paper = hea_dvae.paper_split()
split = split_with_table(paper, settings.model.table)
hea_dvae.model.SSVAE(settings.model)

# %% [markdown]
# ## 2. Training, and the recipe
#
# `hea_dvae.train.fit` trains on the 864 labelled and 296 unlabelled alloys
# together. The authors trained for 20,000 epochs of 32-alloy mini-batches;
# we want a run of minutes on a laptop CPU and a decoder
# as sharp as theirs, so the recipe was chosen by trying alternatives and
# reading **only the validation alloys**. The test alloys are never seen
# while training or choosing. The table below trains each recipe tried (with
# `recipe_seeds` seeds) and scores it on the validation alloys:
#
# - *full batch*: one Adam step on all alloys per epoch, constant learning
#   rate 0.01, compositions given to the encoder as fractions, standard
#   initialisation (this project's first recipe);
# - *mini-batch*: 128 alloys per step, constant learning rate 3e-3;
# - *+ cosine*: the learning rate decays to 0 over the 800 epochs;
# - *+ at.%, narrow posteriors*: the encoder reads at.% (as the authors'
#   model did) and its posterior standard deviations start near 0.05 instead
#   of 1;
# - *+ decoder ×3* (our default): the decoder's learning rate is three times
#   the rest's.
#
# Every recipe keeps two snapshots, chosen on validation: the classifier's
# weights from the evaluation with the best ROC AUC, the encoder's and
# decoder's from the one with the lowest reconstruction error.

# %%
default = settings
recipes = {
    "full batch": replace(default, batch_size=None, lr=0.01, lr_schedule="constant", epochs=2000,
                          patience=400, decoder_lr_scale=1.0, log_scale_init=None,
                          model=replace(default.model, encoder_input_scale=1.0)),
    "mini-batch": replace(default, lr_schedule="constant", decoder_lr_scale=1.0, log_scale_init=None,
                          model=replace(default.model, encoder_input_scale=1.0)),
    "+ cosine": replace(default, decoder_lr_scale=1.0, log_scale_init=None,
                        model=replace(default.model, encoder_input_scale=1.0)),
    "+ at.%, narrow posteriors": replace(default, decoder_lr_scale=1.0),
    "+ decoder ×3 (default)": default,
}
recipe_table = None
if recipe_seeds:
    recipe_scores = evaluation.compare_recipes(split, recipes, seeds=range(recipe_seeds))
    recipe_table = recipe_scores.groupby("recipe", sort=False)[
        ["auc", "accuracy", "element_set_recovered", "mae_all", "mae_present", "seconds"]
    ].mean()

# %% tags=["nbval-ignore-output"]
reporting.readable(recipe_table.round(3)) if recipe_table is not None else "recipe table skipped (recipe_seeds = 0)"

# %%
if recipe_seeds > 1:
    for metric, subject in (("auc", "The validation ROC AUC"),
                            ("element_set_recovered", "The share of element sets recovered")):
        reporting.interval_claim(
            f"recipe_{metric}", evaluation.recipe_difference(recipe_scores, "+ decoder ×3 (default)", "full batch",
                                                             metric),
            reporting.difference_sentences(subject, "the default recipe", "full batch"), tolerance=0.03,
            basis=f"a difference of two {recipe_seeds}-seed means on 75 validation alloys; each moves by about 0.01")

# %% [markdown]
# The table is a mean over `recipe_seeds` seeds of 75 validation alloys,
# so differences of a few hundredths are within the spread over seeds.
# The default has the highest mean share of element sets recovered in the
# table, the measure latent-space design needs (a decoded alloy should have
# the right elements, not a trace of twenty), but by less than the spread
# over seeds, and other recipes have lower reconstruction errors: it is a
# preference, not a resolved win. Against the first recipe, full batch:
# {glue:md}`said_recipe_element_set_recovered`
# {glue:md}`said_recipe_auc` The full-batch recipe runs 2,000 epochs of
# one step each; the `seconds` column is wall time with the runs of a recipe
# trained together (`hea_dvae.batched`). A wider search of the recipe on
# the validation alloys is one command (`scripts/search_recipes.py`).
# Now the default recipe, once per seed
# (trained models come from the model cache, `hea_dvae.zoo`, so each is
# trained once per machine):

# %%
models, histories = zoo.fit_seeds(split, settings, seeds=range(seeds))
first = min(models)
selected = pd.DataFrame(
    {s: {"classifier": h.attrs["best_epoch"], "encoder and decoder": h.attrs["best_vae_epoch"]}
     for s, h in histories.items()}
)

# %% tags=["nbval-ignore-output"]
selected.rename_axis("selected epoch")

# %%
plots.glue_figure("fig-training", plots.training_curves(histories[first]))

# %% [markdown]
# ```{glue:figure} fig-training
# :name: fig-training
# :alt: Two panels against epoch for seed 0. Left, the training loss per alloy and its parts and the validation loss on a symmetric-log axis. Right, the validation ROC AUC, with a dotted line at the epoch whose classifier weights were kept.
#
# Training of seed 0: the loss per alloy and its parts (left; symmetric-log
# scale) and the validation ROC AUC (right). The dotted line marks the
# epoch whose classifier weights were kept.
# ```
#
# ## 3. Our models on the test alloys
#
# Reconstruction encodes each alloy with its true label to the mean of
# $q(z|x,y)$ and decodes it with the same label; the error is the mean
# absolute difference in at.% over all 30 elements, and over the elements
# present in the true alloy. An element set is recovered when the decoded
# alloy has exactly the true alloy's elements at 1 at.% or more.

# %%
ours_scores = pd.DataFrame(
    [{"seed": seed, **metrics.evaluate(model, split["test"])} for seed, model in models.items()]
).set_index("seed")
ours_summary = metrics.summarize(ours_scores)
for name in ("auc", "accuracy", "brier", "element_set_recovered", "mae_all", "mae_present"):
    reporting.record(f"test_{name}_mean" if name in ("auc", "accuracy", "brier") else f"{name}_mean",
                     ours_summary.loc[name, "mean"], kind="trained", spread=ours_summary.loc[name, "std"], n=seeds)
reporting.record_std("test_auc_std", ours_summary.loc["auc", "std"], n=seeds, floor=0.01)

# %% [markdown]
# :::{dropdown} Every seed's test scores
# ```{glue:figure} table-seed-scores
# ```
# :::

# %% tags=["nbval-ignore-output"]
glue("table-seed-scores", reporting.readable(ours_scores.round(3)), display=False)
reporting.readable(ours_summary[["mean ± std"]])

# %% [markdown]
# One test set of 138 alloys gives a wide interval on every metric. The
# predictions of the five seeds averaged (the ensemble, `hea_dvae.predictors.Ensemble`)
# make one model whose test metrics get a 95 % bootstrap interval
# ({cite:t}`efron1993bootstrap`; alloys resampled within each class,
# `n_bootstrap` times):

# %%
ours = Ensemble([models[s] for s in sorted(models)], name="ours (ensemble)")
test_x, test_e, test_y = as_arrays(split["test"])
released = load_released_model()
released_test_e = as_arrays(paper["test"])[1]
predictions = {"ours (ensemble)": ours.predict_proba(test_e),
               "ours (seed 0)": models[first].predict_proba(test_e),
               "released (authors)": released.predict_proba(released_test_e)}
intervals = metrics.interval_table(test_y, predictions, n_boot=n_bootstrap)
reporting.record("ensemble_test_auc", intervals.loc["ours (ensemble)", "auc"], kind="trained",
                 tolerance=0.03, basis="the ensemble AUC moves less than one seed's (spread 0.010-0.015 "
                 "over seeds); 0.03 is twice the seed spread")

# %% tags=["nbval-ignore-output"]
reporting.readable(intervals)

# %%
plots.glue_figure("fig-roc", plots.roc_curves({name: (test_y, p) for name, p in predictions.items()}))

# %% [markdown]
# ```{glue:figure} fig-roc
# :name: fig-roc
# :alt: ROC curves on the 138 test alloys of our seed ensemble, of our first seed's model and of the authors' released model, with the AUC of each in the legend and the diagonal of a random classifier.
#
# ROC curves of $q(y \mid e)$ on the test alloys (the paper's Fig. 3): our
# ensemble of the seed models, our seed 0 alone, and the authors' released
# model.
# ```

# %% [markdown]
# Where each target of this project stands (mean of the seeds on the test
# alloys; the targets were set before choosing the recipe: an AUC at least
# the released model's, a decoder sharp enough to design with, a run in
# seconds):

# %%
targets = {  # metric: (direction, target)
    "auc": (">=", 0.915),
    "element_set_recovered": (">=", 0.30),
    "mae_all": ("<=", 2.2),
    "mae_present": ("<=", 12.0),
}
seconds = pd.Series({s: h["seconds"].iloc[-1] for s, h in histories.items()})
released_test = metrics.evaluate(released, paper["test"])
standing = metrics.against_targets(ours_summary["mean"], released_test, targets)

# %% tags=["nbval-ignore-output"]
print(f"one training run: {seconds.mean():.0f} s here, two runs sharing the two cores "
      "(target <= 30 s for one run alone: see make bench)")
reporting.readable(standing)

# %% [markdown]
# :::{admonition} Where the targets stand
# :class: note
# The classifier's AUC (mean {glue:text}`test_auc_mean:.3f` over the seeds,
# ensemble {glue:text}`ensemble_test_auc:.3f`) and the reconstruction over
# all 30 elements are compared with the released model's
# ({glue:text}`released_test_auc:.3f`) in section 5, on the same test
# alloys (one run's wall time is printed above). The
# reconstruction over the elements present and the share of element sets
# recovered stay short of the targets: a two-dimensional latent space holds
# the well-sampled families (Cantor-type alloys, refractory alloys), but a
# test binary of rarely seen elements lands between training alloys and
# decodes to a blend of their elements. The recipes tried above (mini-batches,
# the schedule, the input scale, narrow initial posteriors, a faster decoder)
# each moved the reconstruction on validation; none reached the targets
# (`epochs` is a parameter, for a longer run). The released model, trained
# with the authors' recipe and with steps on the validation alloys, stands
# against the same targets in the table's last column: it recovers more
# element sets ({glue:text}`released_element_set_recovered:.3f` against our
# seed mean {glue:text}`element_set_recovered_mean:.3f`), and its error over
# the elements present ({glue:text}`released_mae_present:.1f` at.%) is not
# below our seed mean ({glue:text}`mae_present_mean:.1f` at.%). It is one
# model against a mean of five: our seeds one by one are in the per-seed
# table of section 3.
# :::
#
# ## 4. The authors' released model on the same split
#
# The authors published the weights of their best model. Loaded into the
# same class, it is evaluated on the same alloys. It saw raw
# (unstandardised) features and compositions in at.%, which the loader
# accounts for. Its features are those of the paper table.

# %% tags=["nbval-ignore-output"]
released_scores = pd.DataFrame(
    {"training (labelled)": metrics.evaluate(released, paper["labelled"]),
     "validation": metrics.evaluate(released, paper["validation"]), "test": released_test}
).T
for name in ("auc", "accuracy", "brier"):
    reporting.record_released(f"released_test_{name}", released_scores.loc["test", name], tolerance=1e-4)
reporting.record_released("released_validation_auc", released_scores.loc["validation", "auc"], tolerance=1e-4)
reporting.record_released("released_train_auc", released_scores.loc["training (labelled)", "auc"], tolerance=1e-4)
for name in ("element_set_recovered", "mae_all", "mae_present"):
    reporting.record_released(f"released_{name}", released_scores.loc["test", name], tolerance=1e-3)
reporting.readable(released_scores.round(3))

# %%
released_parts = {"training (labelled)": paper["labelled"], "validation": paper["validation"], "test": paper["test"]}
released_curves = {part: (as_arrays(frame)[2], released.predict_proba(as_arrays(frame)[1]))
                   for part, frame in released_parts.items()}
plots.glue_figure("fig-released-roc", plots.roc_curves(released_curves))

# %% [markdown]
# ```{glue:figure} fig-released-roc
# :name: fig-released-roc
# :alt: ROC curves of the authors' released model on its 864 labelled training alloys, its 75 validation alloys and the 138 test alloys, with the AUC of each in the legend and the diagonal of a random classifier.
#
# The paper's Fig. 3 redrawn from the released weights: ROC curves of
# $q(y \mid e)$ on the training (labelled), validation and test alloys of
# the paper's split.
# ```
#
# The paper's Fig. 3 shows this model's ROC curves: AUC 0.97 on its
# training alloys, 0.96 on validation and 0.91 on test, and its text gives
# the test accuracy 0.877. Here the released model gives
# {glue:text}`released_train_auc:.3f`, {glue:text}`released_validation_auc:.3f`,
# {glue:text}`released_test_auc:.3f` and {glue:text}`released_test_accuracy:.3f`:
# {glue:md}`said_released_reproduces_fig3`
#
# But this model was picked by its test accuracy, and its training took
# gradient steps on the validation alloys (the authors' `evaluate_model`
# calls the optimiser): its test numbers are an optimistic single draw, and
# its validation numbers are not a fair measure at all. The paper's fair
# counterpart to our models is its mean over five training runs, test
# accuracy 0.829 ± 0.050 and AUC 0.890 ± 0.025; our mean over
# {glue:text}`seeds_used` seeds is {glue:text}`test_accuracy_mean:.3f` and
# {glue:text}`test_auc_mean:.3f` on the same test alloys.
# {glue:md}`said_seed_auc_vs_paper`

# %%
reporting.record("seeds_used", seeds)
fig3_worst = max(abs(released_scores.loc[part, "auc"] - value.value) - value.resolution
                 for part, value in (("training (labelled)", published.TRAIN_AUC),
                                     ("validation", published.VALIDATION_AUC), ("test", published.TEST_AUC)))
# How far the worst of the four lies beyond the paper's printed digits (<= 0: all four reproduced).
reporting.record_released("released_fig3_worst_excess", max(fig3_worst, abs(released_scores.loc["test", "accuracy"]
                          - published.TEST_ACCURACY.value) - published.TEST_ACCURACY.resolution))
reporting.claim("released_reproduces_fig3", "sign", {"value": "released_fig3_worst_excess"}, {
    "negative": "all four are the paper's numbers to the digits it prints.",
    "zero": "all four are the paper's numbers to the digits it prints.",
    "positive": "at least one differs from the paper's number beyond its printed digits.",
})
seed_gap = metrics.difference_of_means(ours_summary.loc["auc", "mean"], ours_summary.loc["auc", "std"], seeds,
                                       published.SEEDS_TEST_AUC.value, published.SEEDS_TEST_AUC.spread,
                                       published.SEEDS_TEST_AUC.runs)
reporting.interval_claim("seed_auc_vs_paper", seed_gap, reporting.difference_sentences(
    "The mean test ROC AUC over runs", "our recipe", "the paper's five runs"), tolerance=0.02,
    basis="a difference of two seed means; ours moves by about 0.01 between seed sets")

# %% [markdown]
# ## 5. Baselines on the same features
#
# How much of the accuracy comes from the eight features alone? Each
# baseline is fitted on the labelled alloys only: logistic regression,
# a random forest, gradient boosting, and the model's own classifier
# network $q(y|e)$ trained with cross-entropy alone (same architecture,
# same validation-based early stopping).

# %%
baseline_predictions = baselines.baseline_predictions(split, seeds=range(seeds), head_epochs=head_epochs)
comparison = metrics.interval_table(test_y, predictions | baseline_predictions, n_boot=n_bootstrap)
paired = metrics.paired_table(test_y, "ours (ensemble)", predictions | baseline_predictions,
                              n_boot=n_bootstrap)

# %% tags=["nbval-ignore-output"]
reporting.readable(comparison)

# %% [markdown]
# Each model's test AUC minus our ensemble's, paired on the same resampled
# alloys (a difference whose interval excludes 0 is one the test set can
# tell):

# %%
for name, who in (("released (authors)", "the released model"), ("random_forest", "the random forest")):
    reporting.interval_claim(f"test_{name.split()[0]}_vs_ensemble",
                             paired.loc[f"{name} − ours (ensemble)", ["difference", "low", "high"]],
                             reporting.difference_sentences("The test ROC AUC", who, "our ensemble"), tolerance=0.03,
                             basis="a paired bootstrap on 138 test alloys; our ensemble moves by about 0.01")

# %% tags=["nbval-ignore-output"]
reporting.readable(paired)

# %% [markdown]
# {glue:md}`said_test_released_vs_ensemble`
# {glue:md}`said_test_random_forest_vs_ensemble`

# %% [markdown]
# ## 6. Cross-validation over all alloys, and on unseen alloy systems
#
# One test set of 138 alloys cannot separate models a few hundredths apart.
# Cross-validation over all 1,373 alloys tests every alloy once
# (stratified folds; duplicate compositions kept in the same fold). Two
# schemes:
#
# - *random* folds: new alloys of systems seen in training;
# - *grouped* folds: no element set (the set of elements present) appears in
#   both training and test folds, so every test alloy belongs to an alloy
#   system the models have never seen. This is what a user screening new
#   systems gets.
#
# In each fold a tenth of the training alloys is held out for early
# stopping and a quarter of the rest is given to the SSVAE without labels
# (the paper's proportion); the baselines see only the labelled ones. The
# three element tables of {doc}`Chapter 1 <01_data>` (the paper's, the
# corrected one and the standard one with metallic radii and Takeuchi–Inoue
# enthalpies) are compared on the grouped folds. The SSVAE here is
# trained with the full recipe of section 2 (`cv_epochs` = 800 epochs).

# %%
cv_results = cv_auc = None
if cv_folds:
    cv_config = replace(settings, epochs=cv_epochs)
    cv_results = pd.concat([
        evaluation.cross_validate(schemes=("random", "grouped"), tables=("paper",), n_folds=cv_folds,
                                  n_repeats=cv_repeats, train_config=cv_config, unlabelled_share=0.25,
                                  n_jobs=2, head_epochs=head_epochs),
        *(evaluation.cross_validate(schemes=("grouped",), tables=(name,), n_folds=cv_folds,
                                    n_repeats=cv_repeats, unlabelled_share=0.25, n_jobs=2, head_epochs=head_epochs,
                                    train_config=TrainConfig.with_table(name, epochs=cv_epochs))
          for name in ("corrected", "standard")),
    ])
    cv_summary = evaluation.summarize_cv(cv_results)
    cv_auc = cv_summary.xs("auc", level="metric")["mean ± std"].unstack("model")

# %% tags=["nbval-ignore-output"]
reporting.readable(cv_auc) if cv_folds else "cross-validation skipped (cv_folds = 0)"

# %%
if cv_folds:
    plots.glue_figure("fig-cv", plots.cv_comparison(cv_results, metric="auc"))

# %% [markdown]
# ```{glue:figure} fig-cv
# :name: fig-cv
# :alt: Test ROC AUC of each model in cross-validation, one point per fold, for random folds and grouped folds with the paper table, and grouped folds with the corrected and the standard tables.
#
# ROC AUC per fold of cross-validation over all alloys. Grouped folds hold
# whole alloy systems out of training.
# ```
#
# Paired across the same folds (mean difference of AUC with a 95 % interval
# corrected for the overlap of training sets, {cite:t}`nadeau2003inference`):
# the SSVAE against the random forest and against its own classifier network
# trained alone, and the corrected element table against the paper's:

# %%
versus = tables = None
if cv_folds:
    versus = pd.concat({
        "SSVAE − random forest": evaluation.compare_models(cv_results, "ssvae", "random_forest"),
        "SSVAE − classifier network alone": evaluation.compare_models(cv_results, "ssvae", "classifier_head"),
    }, names=["comparison"])
    tables = pd.concat({f"{a} − {b}": evaluation.compare_models(cv_results, a, b, between="table")
                        for a, b in (("corrected", "paper"), ("standard", "paper"), ("standard", "corrected"))},
                       names=["tables"])
    gain = tables.loc[("corrected − paper", "grouped", "ssvae"), "difference"]
    reporting.record("cv_grouped_table_gain_ssvae", gain, kind="trained", tolerance=0.03,
                     basis="fold-to-fold spread of the paired AUC difference (0.02-0.04 over 5 folds)")
    fold_basis = "a paired AUC difference over 5 folds; it moves by about 0.02 between executions"
    reporting.interval_claim("cv_table", tables.loc[("corrected − paper", "grouped", "ssvae"),
                                                    ["difference", "low", "high"]],
                             reporting.difference_sentences("On held-out alloy systems the SSVAE's ROC AUC",
                                                            "the corrected table", "the paper's"),
                             tolerance=0.03, basis=fold_basis)
    reporting.interval_claim("cv_table_standard", tables.loc[("standard − corrected", "grouped", "ssvae"),
                                                             ["difference", "low", "high"]],
                             reporting.difference_sentences("On held-out alloy systems the SSVAE's ROC AUC",
                                                            "the standard table", "the corrected one"),
                             tolerance=0.03, basis=fold_basis)
    for name in elements.TABLES:
        reporting.record(f"cv_grouped_auc_ssvae_{name}", cv_summary.loc[("grouped", name, "ssvae", "auc"), "mean"],
                         kind="trained", tolerance=0.03, basis=fold_basis)
    reporting.claim("cv_table_first", "first", {name: f"cv_grouped_auc_ssvae_{name}" for name in elements.TABLES}, {
        name: f"On held-out alloy systems the SSVAE's mean ROC AUC is highest with the {name} table "
              "({" + name + ":.3f}; the others: " + ", ".join("{" + other + ":.3f}" for other in elements.TABLES
                                                               if other != name) + ")."
        for name in elements.TABLES})
    for scheme, table_name in (("random", "paper"), ("grouped", zoo.DEFAULT_TABLE)):
        row = versus.loc[("SSVAE − random forest", scheme, table_name)]
        reporting.interval_claim(f"cv_ssvae_vs_forest_{scheme}", row[["difference", "low", "high"]],
                                 reporting.difference_sentences(f"On {scheme} folds ({table_name} table) the ROC AUC",
                                                                "the SSVAE", "the random forest"),
                                 tolerance=0.03, basis=fold_basis)
        reporting.record(f"cv_ssvae_vs_forest_{scheme}_wins", int(row["wins"]), kind="trained", tolerance=2,
                         basis="folds out of 5; a fold can flip")
reporting.record("default_table", zoo.DEFAULT_TABLE)

# %% tags=["nbval-ignore-output"]
reporting.readable(versus) if cv_folds else None

# %% tags=["nbval-ignore-output"]
reporting.readable(tables) if cv_folds else None

# %% [markdown]
# What the cross-validation shows, paired on the same folds:
#
# - {glue:md}`said_cv_ssvae_vs_forest_random` The SSVAE wins
#   {glue:text}`cv_ssvae_vs_forest_random_wins` of the folds.
# - {glue:md}`said_cv_ssvae_vs_forest_grouped` The SSVAE wins
#   {glue:text}`cv_ssvae_vs_forest_grouped_wins` of the folds.
#
# What the SSVAE offers beyond a classifier of the eight features is its
# latent space and its decoder (chapters 4 and 6).
#
# :::{admonition} Which element table for users
# :class: note
# {glue:md}`said_cv_table` {glue:md}`said_cv_table_standard`
# {glue:md}`said_cv_table_first` Each step from the paper's table is
# physics: the corrected table's VEC counts s + d electrons (the paper
# table gives TiZrNbHfTa a VEC of 10 instead of 4.4), and the standard
# table takes the metallic radii and Takeuchi–Inoue pair enthalpies behind
# δ and ΔH_mix, so that the Cantor alloy's δ and ΔH_mix are the published
# 3.27 % and −4.16 kJ/mol ({doc}`Chapter 1 <01_data>`). Neither step makes
# the SSVAE clearly worse on unseen alloy systems, so the SSVAE ensemble of
# `hea-dvae design` (and `hea-dvae predict --model ssvae`) uses the
# **{glue:text}`default_table` table**, whose features a metallurgist can
# check against standard tools; the book keeps the paper's table
# wherever it reproduces the paper. These folds include the 138 test
# alloys that sections 3 to 5 score the models on, so this choice of table
# is not independent of those alloys.
# :::
#
# ## 7. Calibration, and the predictor users design with
#
# A probability of 0.9 should come true nine times in ten. The reliability
# diagram bins the test alloys by predicted probability and compares each
# bin's mean prediction with its share of single-phase alloys; the expected
# calibration error (ECE) is the average gap, weighted by bin size, and the
# Brier score the mean squared error of the probability.

# %%
plots.glue_figure("fig-reliability", plots.reliability_diagram(
    {name: (test_y, p) for name, p in predictions.items() if name != "ours (seed 0)"}))

# %% [markdown]
# ```{glue:figure} fig-reliability
# :name: fig-reliability
# :alt: Reliability diagram of our ensemble and of the released model on the test alloys: observed single-phase share against mean predicted probability per bin, with the diagonal of perfect calibration.
#
# Reliability on the 138 test alloys: points on the diagonal are calibrated.
# ```
#
# Temperature scaling divides every member's logit by one number $T$ fitted
# on the validation alloys. Whether it helps is decided on the validation
# alloys too, by cross-validation within them (fit $T$ on four fifths,
# measure the log-loss on the fifth left out). It is used only when it saves
# more than 0.01 nats per alloy (`hea_dvae.zoo.MIN_TEMPERATURE_GAIN`): on 75
# alloys a smaller saving is noise, and acting on it would change the
# predictor from one machine to the next.

# %%
predictor, calibration = None, {}
if build_predictor:
    default_split = split_with_table(paper, zoo.DEFAULT_TABLE)
    predictor, calibration = zoo.seed_ensemble(default_split,
                                              TrainConfig.with_table(zoo.DEFAULT_TABLE, epochs=epochs), range(seeds))
    default_test_e = as_arrays(default_split["test"])[1]
    calibrated = {f"predictor ({zoo.DEFAULT_TABLE} table)": predictor.predict_proba(default_test_e),
                  "same, without temperature": Ensemble(predictor.members).predict_proba(default_test_e)}
    reporting.record("predictor_temperature_fitted", calibration["temperature"], kind="trained", tolerance=0.6,
                     basis="T fitted on 75 validation alloys; other members (another CPU) move it by a few "
                     "tenths")
    reporting.record("predictor_temperature_gain", calibration["nll_without"] - calibration["nll_with"],
                     kind="trained", tolerance=0.02,
                     basis="held-out log-loss saved by T on 75 alloys; moves by about 0.01 between seed sets")

# %% tags=["nbval-ignore-output"]
if build_predictor:
    print({k: round(v, 3) if isinstance(v, float) else v for k, v in calibration.items()})
    display(reporting.readable(metrics.interval_table(test_y, calibrated, n_boot=n_bootstrap)))

# %% [markdown]
# `hea-dvae predict --model ssvae` and every design table report this
# predictor's probability (the mean of its members, after the temperature
# when it was used) and the spread of the members, a first measure of how
# much the seeds disagree. `hea-dvae predict` scores by default with the
# random forest on 31 descriptors that {doc}`chapter 7 <07_new_systems>`
# finds with the highest mean AUC on unseen alloy systems.
#
# ## 8. Reconstructed test alloys
#
# A few test alloys, encoded and decoded with their true label by seed 0's
# model:

# %%
examples = split["test"].head(n_examples)
reconstructed = metrics.reconstruct(models[first], examples[list(hea_dvae.ELEMENTS)], examples["label"])
reconstruction_table = pd.DataFrame(
    {
        "true": examples["formula"].to_numpy(),
        "reconstructed (at.%)": [formula_from_vector(r, digits=0) for r in reconstructed],
    }
)

# %% tags=["nbval-ignore-output"]
reconstruction_table

# %%
fig = plots.composition_bars(
    examples[list(hea_dvae.ELEMENTS)].to_numpy(), reconstructed, list(examples["formula"])
)
plots.glue_figure("fig-reconstruction", fig)

# %% [markdown]
# ```{glue:figure} fig-reconstruction
# :name: fig-reconstruction
# :alt: Bar charts, one per test alloy, of the true and the reconstructed at.% of its largest elements.
#
# True (grey) and reconstructed (blue) compositions of test alloys by seed
# 0's model, largest elements first. For alloys of the well-sampled Cantor
# family the main elements come back in about the right amounts; for
# binaries of rarer elements the decoder returns a mixture of neighbours.
# The error over all 30 elements looks small mostly because it averages
# over the elements absent from both alloys, which decode near zero.
# ```
#
# ## Summary
#
# In this chapter we wrote down the generative and inference models, chose
# a training recipe on the validation alloys, and
# measured the models on the test set over several seeds with bootstrap
# intervals; loaded the authors' released weights and reproduced their test
# accuracy on the same split; compared both with supervised baselines, pair
# by pair and in cross-validation, also on unseen alloy systems; checked the
# calibration; and chose the element table of the predictor users design
# with.
#
# ## What's next
#
# {doc}`Chapter 3 <03_data_efficiency>` varies the number of labelled
# alloys and tests the expert-informed prior;
# {doc}`Chapter 4 <04_latent_space>` reads the latent space;
# {doc}`Chapter 5 <05_interpretation>` explains the classifier; and
# {doc}`Chapter 6 <06_design>` designs new alloys with these models.
#
# Works cited here are listed on the [references](references.md) page.
#
# ---
#
# What produced this page (package, data, models, machine):

# %% tags=["nbval-ignore-output"]
reporting.provenance(models=[*models.values(), released, *(predictor.members if predictor else [])])
