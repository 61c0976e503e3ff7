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
# 2. one training run, its curves and its ROC curves;
# 3. test accuracy, ROC AUC, Brier score and reconstruction error as
#    mean ± standard deviation over several seeds;
# 4. the authors' released model on the same split;
# 5. supervised baselines on the same features;
# 6. reconstructed test alloys beside the true ones.
#
# ## Prerequisites
#
# | Concept | Importance |
# | --- | --- |
# | {doc}`Chapter 1 <01_data>`: the data and the paper split | necessary |
# | Variational autoencoders {cite:p}`kingma2013vae` | helpful |
# | Semi-supervised VAEs, the "M2" model {cite:p}`kingma2014semi` | helpful |
#
# Time to read: 20 minutes; to run: about three minutes on a laptop CPU.

# %% tags=["parameters"]
seeds = 5  # number of training runs (seeds 0, 1, ...) for mean ± std
epochs = 2000  # maximum epochs per run (full-batch Adam steps)
patience = 400  # stop after this many epochs without a better validation score
learning_rate = 0.01  # Adam learning rate
alpha = 10.0  # weight of the classification loss on labelled alloys
z_dim = 2  # dimension of the latent space
select = "auc"  # model selection on validation: "auc" or "loss"
table = "paper"  # element table of the features: "paper" or "corrected"
n_examples = 6  # reconstructed test alloys shown

# %%
import pandas as pd

import hea_dvae
from hea_dvae import baselines, metrics, plots
from hea_dvae.data import split_with_table
from hea_dvae.model import SSVAEConfig, load_released_model
from hea_dvae.train import TrainConfig, fit_seeds

settings = TrainConfig(
    model=SSVAEConfig(z_dim=z_dim, alpha=alpha, table=table),
    lr=learning_rate,
    epochs=epochs,
    patience=patience,
    select=select,
)
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
# p(z) = \mathcal N(0, I), \qquad p(y) = \mathrm{Bernoulli}(\pi), \qquad
# p(x \mid y, z) = \mathrm{Multinomial}\big(N x \mid N,
#   \mathrm{softmax}(f_\theta(z, y))\big),
# $$
#
# with $N = 100$: the composition in at.% is the observation. Because $y$
# and $z$ are independent a priori, $z$ is pushed to encode what varies
# among alloys *of the same class*: the label is disentangled from the rest.
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
# ## 2. Training
#
# `hea_dvae.train.fit` trains on the 864 labelled and 296 unlabelled alloys
# together with full-batch Adam: with about a thousand alloys one step on
# all of them costs a few milliseconds. After every epoch it scores the
# validation alloys, keeps the best weights and stops when the score has
# not improved for `patience` epochs. The test alloys are never seen.

# %%
models, histories = fit_seeds(split, settings, seeds=range(seeds))
first = min(models)
summary_epochs = pd.Series({s: h.attrs["best_epoch"] for s, h in histories.items()}, name="selected epoch")
summary_epochs.to_frame().T

# %%
plots.glue_figure("fig-training", plots.training_curves(histories[first]))

# %% [markdown]
# ```{glue:figure} fig-training
# :name: fig-training
#
# Training of the first seed: the loss per alloy and its parts (left;
# symmetric-log scale) and the validation ROC AUC (right). The dotted line
# marks the epoch whose weights were kept.
# ```
#
# ## 3. How well it classifies and reconstructs
#
# ROC curves of the first seed on the labelled training alloys, the
# validation alloys and the test alloys:

# %%
curves = {
    name: (split[name]["label"], models[first].predict_proba(split[name]))
    for name in ("labelled", "validation", "test")
}
plots.glue_figure("fig-roc", plots.roc_curves(curves))

# %% [markdown]
# ```{glue:figure} fig-roc
# :name: fig-roc
# :figwidth: 420px
#
# ROC curves of $q(y\mid e)$ for the first seed.
# ```
#
# Over all seeds, on the test set. Reconstruction encodes each alloy with
# its true label to the mean of $q(z|x,y)$ and decodes it with the same
# label; the error is the mean absolute difference in at.% over all 30
# elements, and over the elements present in the true alloy.

# %%
scores = pd.DataFrame(
    [{"seed": seed, **metrics.evaluate(model, split["test"])} for seed, model in models.items()]
).set_index("seed")
scores.round(3)

# %%
ours = metrics.summarize(scores)
ours[["mean ± std"]]

# %% [markdown]
# ## 4. The authors' released model on the same split
#
# The authors published the weights of their best model. Loaded into the
# same class, it is evaluated on the same test alloys. It saw raw
# (unstandardised) features and compositions in at.%, which the loader
# accounts for. Its features are those of the paper table.

# %%
released = load_released_model()
released_scores = pd.DataFrame(
    {part: metrics.evaluate(released, paper[part]) for part in ("validation", "test")}
).T
released_scores.round(3)

# %% [markdown]
# ## 5. Baselines on the same features
#
# How much of the accuracy comes from the eight features alone? Each
# baseline is fitted on the labelled alloys only: logistic regression,
# a random forest, gradient boosting, and the model's own classifier
# network $q(y|e)$ trained with cross-entropy alone (same architecture,
# same validation-based early stopping).

# %%
baseline_scores = pd.concat(
    [baselines.run_baselines(split, seed=seed).assign(seed=seed) for seed in models]
)
baseline_table = baseline_scores.groupby("baseline")[["accuracy", "auc", "brier"]].agg(["mean", "std"])
baseline_table.round(3)

# %% [markdown]
# All together, on the 138 test alloys (mean ± std over seeds where a
# method has any randomness):

# %%
comparison = metrics.comparison_table(
    {"SSVAE (ours)": scores, "released SSVAE (authors)": released_scores.loc[["test"]]}
    | {name: frame for name, frame in baseline_scores.groupby("baseline")},
    columns=["accuracy", "auc", "brier", "mae_all", "mae_present"],
)
comparison

# %%
ours_auc = scores["auc"]
reference = {
    "released SSVAE": released_scores.loc["test", "auc"],
    "gradient boosting": baseline_table.loc["gradient_boosting", ("auc", "mean")],
    "random forest": baseline_table.loc["random_forest", ("auc", "mean")],
    "classifier head alone": baseline_table.loc["classifier_head", ("auc", "mean")],
}
print(f"our test AUC: {ours_auc.mean():.3f} ± {ours_auc.std():.3f} over {len(ours_auc)} seeds")
for name, value in reference.items():
    print(f"  {name:22s} {value:.3f}  (ours minus it: {ours_auc.mean() - value:+.3f})")

# %% [markdown]
# :::{admonition} Where our numbers stand
# :class: note
# The paper reports a test accuracy of 0.877 and a test AUC of about 0.89.
# The authors' released model reproduces that accuracy on this split, with
# an AUC of 0.915, but it was picked by its test accuracy, and its training
# took gradient steps on the validation set: its numbers are an optimistic
# single draw. Our models are selected on validation alone, trained for
# seconds rather than hours, and reported as mean ± std over seeds, which
# is what a new user should expect. With the default parameters they
# classify and reconstruct worse than the released model (the differences
# are printed above): part of that gap is the released model's selection
# on test, part is training time, and we do not close it by looking at the
# test set.
#
# The baselines put all of this in proportion: on these eight features a
# random forest or gradient boosting fitted to the labelled alloys alone
# reaches a higher test AUC than either SSVAE, and the model's own
# classifier network does as well without the unlabelled alloys. The
# semi-supervised VAE does not buy classification accuracy here; what it
# adds is a latent space and a decoder, which the later chapters use for
# design.
# :::
#
# ## 6. Reconstructed test alloys
#
# A few test alloys, encoded and decoded with their true label by the first
# seed's model:

# %%
examples = split["test"].head(n_examples)
reconstructed = metrics.reconstruct(models[first], examples[list(hea_dvae.ELEMENTS)], examples["label"])
pd.DataFrame(
    {
        "true": examples["formula"].to_numpy(),
        "reconstructed (at.%)": [hea_dvae.features.formula_from_vector(r, digits=0) for r in reconstructed],
    }
)

# %%
fig = plots.composition_bars(
    examples[list(hea_dvae.ELEMENTS)].to_numpy(), reconstructed, list(examples["formula"])
)
plots.glue_figure("fig-reconstruction", fig)

# %% [markdown]
# ```{glue:figure} fig-reconstruction
# :name: fig-reconstruction
#
# True (grey) and reconstructed (blue) compositions of test alloys, largest
# elements first. A two-dimensional latent space cannot store every
# composition. For alloys of the well-sampled Cantor family the main
# elements come back in about the right amounts; for binaries of rarer
# elements the decoder returns a diffuse mixture, which is why the error
# over the elements present is far larger than over all 30.
# ```
#
# ## Summary
#
# In this chapter we wrote down the generative and inference models,
# trained the semi-supervised VAE in seconds on a CPU, and measured it on the
# test set over several seeds; loaded the authors' released weights and
# reproduced their test accuracy on the same split; compared both with
# supervised baselines on the same features; and looked at reconstructions.
#
# ## What's next
#
# Later chapters vary the labelled fraction, read the latent space, explain
# the classifier and design new alloys with these models.
#
# Works cited here are listed on the [references](references.md) page.
