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
# # 4. Reading the latent space
#
# ## Overview
#
# The model of {doc}`Chapter 2 <02_model>` compresses an alloy into two
# numbers $z$ and is meant to keep the single-phase label $y$ out of them.
# This chapter reads that latent space, first with the authors' released
# model (whose numbers must come out as in the paper), then with our
# retrained models (does each finding hold across seeds?):
#
# 1. reconstruction of the test alloys, by the authors' protocol (paper
#    Fig. 4 and Table 1);
# 2. the posterior means and where they lie (Fig. 5);
# 3. how the latent space sorts alloys by number of elements and by element
#    family (Fig. 6);
# 4. disentanglement measured: can the label be read off $z$?
# 5. the decoder as a map: what it makes of a grid of $z$ with each label
#    (Table 3), and of the whole plane.
#
# ## Prerequisites
#
# | Concept | Importance |
# | --- | --- |
# | {doc}`Chapter 1 <01_data>`: the data and the paper split | necessary |
# | {doc}`Chapter 2 <02_model>`: the model and the released weights | necessary |
# | Variational autoencoders {cite:p}`kingma2013vae` | helpful |
#
# Time to read: 25 minutes; to run: a few minutes with the model cache
# filled (the time of the run shown is at the foot of the page; training
# the cached models takes a few minutes more).

# %% tags=["parameters"]
seeds = 5  # number of our retrained models (seeds 0, 1, ...), from the model cache
epochs = 800  # epochs of each of our models (800: the default recipe of chapter 2)
table = "paper"  # element table of our models' features: "paper" or "corrected"
pair_distance = 0.05  # latent distance (z units) under which two alloys count as a pair
probe_neighbours = 15  # neighbours of the k-NN probe that reads the label off z
probe_folds = 5  # cross-validation folds of the probe
grid_z1 = [-0.1, 0.1]  # z1 limits of the decoded grid (the paper's Table 3)
grid_z2 = [-0.5, -0.3]  # z2 limits of the decoded grid
grid_points = 5  # grid points per axis
map_limit = 3.0  # the whole-plane map covers [-map_limit, map_limit] on both axes (z units)
map_points = 61  # map points per axis
profile = "full"  # "full": the book; "smoke": every cell in seconds (tiny epochs, 2 seeds; numbers meaningless)

# %%
import pandas as pd

import hea_dvae
from hea_dvae import latent, metrics, reporting, zoo
from hea_dvae import paper as published
from hea_dvae.data import split_with_table
from hea_dvae.model import load_released_model
from hea_dvae.reporting import plots
from hea_dvae.train import TrainConfig

# The smoke profile (-p profile smoke) shrinks the parameters above: hea_dvae.reporting.profiles.
globals().update(reporting.profile_parameters(profile, globals()))
settings = latent.LatentSettings(
    pair_distance=pair_distance,
    probe_neighbours=probe_neighbours,
    probe_folds=probe_folds,
    grid_z1=grid_z1,
    grid_z2=grid_z2,
    grid_points=grid_points,
    map_limit=map_limit,
    map_points=map_points,
)
reporting.chapter("04_latent_space")
plots.use_style()
pd.set_option("display.precision", 3)
paper = hea_dvae.paper_split()
released = load_released_model()
# The released weights run in float32; other CPUs' kernels change the last bits.
record_released = reporting.record_released
settings

# %% [markdown]
# ## 1. Reconstruction of the test alloys
#
# The authors measured reconstruction with their own protocol
# (`reconstruct.py` in their repository), and we follow it step by step
# (`hea_dvae.latent.reconstruct_as_authors`):
#
# 1. encode the test alloy $x$ with its **true** label to the mean
#    $z = \mu(x, y)$;
# 2. decode with the **predicted** probability $p = q(y{=}1 \mid e(x))$,
#    not with the label: $\hat x = \mathrm{decode}(z, p)$;
# 3. round $\hat x$ to whole at.% (two decimals, then truncated, in float32),
#    write it as a formula and renormalise it;
# 4. score the reconstructed alloy, $\hat p = q(y{=}1 \mid e(\hat x))$, and
#    encode it with $\hat p$ in place of a label, $\hat z = \mu(\hat x, \hat p)$.
#
# The three errors are the mean absolute difference in at.% over all 30
# elements (against $x$ written with truncated whole at.%, as their code
# writes it), $|p - \hat p|$ (both rounded to 0.01), and the mean of
# $|z - \hat z|$ over the two dimensions (rounded to 0.001).

# %% tags=["nbval-ignore-output"]
reconstruction = latent.reconstruct_as_authors(released, paper["test"])
authors = latent.load_authors_reconstruction()
agreement = latent.compare_with_authors(reconstruction, authors)
reporting.record("test_alloys", len(agreement), kind="exact")
comparison = pd.DataFrame(
    {
        "released model, here": latent.reconstruction_summary(reconstruction),
        "authors' file": latent.reconstruction_summary(authors),
        "paper": pd.Series(published.RECONSTRUCTION),
    }
).reindex(list(published.RECONSTRUCTION))
comparison.round(3)

# %%
summary = comparison["released model, here"]
for key, tolerance in [("composition_error_mean", 0.005), ("composition_error_max", 0.05),
                       ("probability_error_mean", 0.002), ("latent_error_mean", 0.002)]:
    record_released(f"released_{key}", summary[key], tolerance=tolerance)
    reporting.record(f"authors_{key}", comparison.loc[key, "authors' file"], kind="exact")

# %% tags=["nbval-ignore-output"]
same = int(agreement["same_reconstructed_alloy"].sum())
record_released("released_same_reconstruction", same, tolerance=2,
                basis=reporting.FLOAT32 + "; an alloy on a rounding tie may flip")
written = agreement["same_normalized_alloy"].sum()
print(f"written formulas identical to the authors': {written} of {len(agreement)}")
print(f"reconstructed formulas identical: {same} of {len(agreement)}")
agreement.loc[~agreement["same_reconstructed_alloy"],
              ["formula", "reconstructed_alloy", "reconstructed_alloy_authors"]]

# %% [markdown]
# Alloy by alloy, the released model gives back the authors' file
# ({glue:text}`released_same_reconstruction` of
# {glue:text}`test_alloys` reconstructed formulas identical; the table
# above lists any that differ: an alloy whose content sits on a rounding
# tie, within float32 precision, may round either way on another CPU). The
# means agree with the paper: a composition error of
# {glue:text}`released_composition_error_mean:.2f` at.% (paper: 2.3 %), a probability
# error of {glue:text}`released_probability_error_mean:.3f` (paper: 0.169)
# and a latent error of {glue:text}`released_latent_error_mean:.3f` (paper:
# 0.175). The largest composition error is
# {glue:text}`released_composition_error_max:.1f` at.% (paper: "about 6 %"
# at most).

# %%
plots.glue_figure("fig-reconstruction-errors", plots.reconstruction_histograms(reconstruction))

# %% [markdown]
# ```{glue:figure} fig-reconstruction-errors
# :name: fig-reconstruction-errors
# :alt: Three stacked histograms of the released model's reconstruction errors on the 138 test alloys, coloured by the number of elements: composition error from 0 to about 7 at.%, probability error from 0 to 1 with most alloys near 0, latent error from 0 to 1 with most alloys below 0.2.
#
# Reconstruction errors of the {glue:text}`test_alloys` test alloys with the released model, by
# the authors' protocol, stacked by number of elements (the paper's
# Fig. 4). The composition error is a mean over all 30 elements, most of
# which are absent from both alloys: that is why it looks small.
# ```
#
# ### The paper's Table 1
#
# The table shows four test alloys and their reconstructions. We decode each
# twice, with the predicted probability (the protocol above) and with the
# true label:

# %% tags=["nbval-ignore-output"]
by_label = latent.reconstruct_as_authors(released, paper["test"], decode_with="true")
table_1 = latent.table_one(reconstruction, by_label)
al4 = table_1.set_index("written").loc["Al4Ti23Mo23V23Ta23"]
record_released("table1_p_al4", al4["p"], tolerance=0.001)
record_released("table1_p_reconstruction_al4", al4["p_reconstruction"], tolerance=0.001)
shown = table_1.drop(columns="written").set_index("formula")  # two tables, each as wide as the page
display(reporting.readable(shown[["paper", "decoded_with_p", "decoded_with_label"]]))
reporting.readable(shown[["label", "p_paper", "p", "p_reconstruction", "reproduced_by"]])

# %% [markdown]
# Three rows of the table come out of the protocol of the authors' code,
# digit for digit. The second, Al11Ti22V22Nb22Zr22 →
# Cr3Al7Ti18V20Nb32Zr16Ta4, does not: the protocol gives
# Cr2Al2Ti20V22Nb32Zr20Ta3 (their own file says so too), and the table's
# alloy appears only when decoding with the true label 0. The table thus
# mixes two decoding rules while the method describes one.
#
# Two more things the table does not say. The probability in its last
# column is that of the *test* alloy, $q(y \mid e(x))$, not of the
# reconstruction, which can differ a lot: Al4Ti23Mo23V23Ta23 has
# {glue:text}`table1_p_al4:.2f` and its reconstruction
# {glue:text}`table1_p_reconstruction_al4:.2f`, so the reconstruction
# changes the predicted class. And Fe20Ni20Co20Ti20Cu20 is the written form of two test alloys,
# CoCuFeNiTi (label 1) and Co1Cu1Fe1Ni1Ti1 (label 0): the same composition
# with opposite labels in the data. Encoded with different labels, they
# land at different $z$ and decode to different alloys; the table shows
# the first.
#
# ## 2. The latent space
#
# The posterior means of the labelled, validation and test alloys, each
# encoded with its true label:

# %% tags=["nbval-ignore-output"]
points = latent.latent_frame(released, {name: paper[name] for name in latent.LATENT_PARTS})
reporting.record("latent_points", len(points), kind="exact")
share = latent.share_in_box(points[["z1", "z2"]], settings.box)
record_released("released_share_in_box", share, tolerance=0.002,
                basis=reporting.FLOAT32 + "; a point on the box edge may move across")
print(f"{len(points)} alloys; share with z1 in [-2.5, 2.5] and z2 in [-2, 2]: {share:.3f}")

# %%
plots.glue_figure("fig-latent-released", plots.latent_space(points, box=settings.box))

# %% [markdown]
# ```{glue:figure} fig-latent-released
# :name: fig-latent-released
# :alt: Left, a scatter of about a thousand latent points of the released model coloured blue for single phase and red for multi phase, mixed over the plane; right, a hexagonal density of the same points, concentrated inside the dashed box from -2.5 to 2.5 and -2 to 2.
#
# Posterior means of the {glue:text}`latent_points` labelled, validation
# and test alloys under the released model, coloured by label (left), and
# their density (right). The
# dashed box is the paper's region, which holds
# {glue:text}`released_share_in_box:.1%` of them (paper: more than 84 %).
# ```
#
# The paper points at pairs of alloys with opposite labels at nearly the
# same $z$, such as CoCrFeMo0.3Ni (single phase) and AlCo0.5CrFeMo0.5
# (multi phase), as a sign that the label is not what places an alloy
# (Section 4 tests this). Their means, and the closest opposite-label pairs:

# %% tags=["nbval-ignore-output"]
points.set_index("formula").loc[["CoCrFeMo0.3Ni", "Al1Co0.5Cr1Fe1Mo0.5"], ["label", "z1", "z2"]]

# %% tags=["nbval-ignore-output"]
pairs = latent.opposite_label_pairs(points[["z1", "z2"]], points["label"], points["formula"], pair_distance)
print(f"{len(pairs)} pairs of opposite labels closer than {pair_distance} in z")
pairs.head(8).round({"distance": 4})

# %% [markdown]
# ## 3. What the latent space sorts by
#
# Coloured by number of elements, and with every equimolar four-element
# alloy from three element families encoded: refractory (Ti V Cr Zr Nb Mo
# Ta Hf W), noble (Ag Cu Pd Au Pt Ru Rh Ir Os) and magnetic / late
# transition (Fe Co Ni Ru Rh Ir). These alloys have no label, so, as in the
# authors' code, the classifier's probability stands in for it when
# encoding.

# %%
families = latent.family_alloys()
family_z, _ = latent.place_alloys(released, families[list(hea_dvae.ELEMENTS)])
family_points = {name: family_z[families["family"] == name] for name in latent.FAMILIES}
plots.glue_figure("fig-families-released", plots.latent_by_elements(points, family_points))

# %% [markdown]
# ```{glue:figure} fig-families-released
# :name: fig-families-released
# :alt: Left, the released model's latent points coloured by number of elements, with binaries and ternaries spread outward and alloys of five or more elements gathered in the lower left; right, equimolar quaternaries of three element families drawn over the grey data points, each family in its own compact region.
#
# Released model: posterior means coloured by number of elements (left);
# equimolar quaternaries of three element families over the data (right,
# the paper's Fig. 6).
# ```
#
# How separate are the families? The mutual information between $z$ and
# the family, against its ceiling, the entropy of the family:

# %% tags=["nbval-ignore-output"]
family_mi = latent.mutual_information(family_z, families["family"])
record_released("released_mi_families", family_mi, tolerance=0.005)
reporting.record("family_entropy", latent.entropy(families["family"]), kind="exact")
print(f"I(z; family) = {family_mi:.2f} nats of H(family) = {latent.entropy(families['family']):.2f} nats")

# %% [markdown]
# The refractory quaternaries gather in one compact region, the magnetic
# ones in a smaller one, and the noble ones spread over a wide fan: $z$
# carries {glue:text}`released_mi_families:.2f` of the
# {glue:text}`family_entropy:.2f` nats that would tell the families apart
# without error.
#
# ## 4. Disentanglement, measured
#
# The generative model draws $z$ and $y$ independently, so in a model that
# had learnt it, the posterior means of single-phase and multi-phase alloys
# would be spread alike and no classifier could tell the label from $z$
# alone. A k-nearest-neighbour probe, cross-validated, measures this: its
# ROC AUC would be near 0.5. The same probe on the compositions $x$ shows
# how much of the label the composition itself carries. The mutual
# information {cite:p}`ross2014mi` between $z$ and the number of elements,
# beside that between $z$ and the label, says what $z$ does encode (a
# drawing is no proof of disentanglement {cite:p}`locatello2019challenging`).

# %% tags=["nbval-ignore-output"]
released_summary = latent.latent_summary(released, paper, settings)
probe = latent.disentanglement(released_summary, paper, settings).rename("released model")
record_released("released_probe_auc_z", released_summary["probe_auc_z"], tolerance=0.005)
reporting.record("probe_auc_x", probe["probe AUC, label from x"], kind="exact")
record_released("released_mi_elements", released_summary["mi_elements"], tolerance=0.005)
record_released("released_mi_label", released_summary["mi_label"], tolerance=0.005)
probe.round(3).to_frame()

# %% [markdown]
# Here $z$ was encoded with the true label, which the encoder $q(z|x,y)$
# takes as an input: the probe might only read that input back. The
# controls encode the same alloys without it: with the classifier's
# predicted label, with $y = 1$ and with $y = 0$ for every alloy, and
# marginalised over $y$ (the two posterior means weighted by $q(y|e)$):

# %% tags=["nbval-ignore-output"]
controls = latent.probe_controls(released, paper, settings)
for name, value in controls.items():
    record_released(f"released_probe_{name.replace(' ', '_').replace('=', 'is')}", value, tolerance=0.01)
record_released("released_probe_weakest_control", controls.drop("true label").min(), tolerance=0.01)
reporting.claim("probe_controls", "greater", {"a": "released_probe_weakest_control", "b": 0.5, "margin": 0.05}, {
    "greater": "Without the true label the probe still reads the label off *z* (weakest control: AUC {a:.2f}): "
               "the label is in *z* through the composition, not only through the encoder's input *y*.",
    "less": "Without the true label the probe reads the label off *z* worse than chance (weakest control: "
            "AUC {a:.2f}).",
    "equal within the margin": "Without the true label the probe can no longer read the label off *z* "
                               "(weakest control: AUC {a:.2f}): what it read was the encoder's input *y*.",
})
controls.round(3).to_frame()

# %% [markdown]
# {glue:md}`said_probe_controls` With the true label the probe reads it
# with an AUC of {glue:text}`released_probe_auc_z:.2f`, from the composition
# itself {glue:text}`probe_auc_x:.2f`, and $z$ holds
# {glue:text}`released_mi_label:.2f` nats about the label. In the figure the
# two classes overlap over much of the plane, and opposite-label pairs at
# the same $z$ exist; but each neighbourhood leans to one class enough for
# a probe to read it. What the figures show is true: $z$ sorts alloys by their number of elements
# ({glue:text}`released_mi_elements:.2f` nats) and by their chemistry. But
# it sorts them by chemistry so well that the phase, which the chemistry
# largely decides, comes along.
#
# ## 5. The decoder as a map
#
# The paper's Table 3 decodes a 5 × 5 grid of $z$ with $y = 1$ and with
# $y = 0$ and scores each alloy with the classifier (rounded to whole at.%
# as before). A decoder that had learnt the label would give alloys the
# classifier calls single phase for $y = 1$ and multi phase for $y = 0$:

# %% tags=["nbval-ignore-output"]
designs = latent.grid_designs(released, grid_z1, grid_z2, grid_points)
designs.round({"probability": 2}).pivot(index=["z1", "z2"], columns="y", values=["formula", "probability"])

# %% tags=["nbval-ignore-output"]
consistent = designs.groupby("y")["consistent"].sum()
record_released("released_grid_consistent_1", int(consistent[1.0]), tolerance=1)
record_released("released_grid_consistent_0", int(consistent[0.0]), tolerance=1)
record_released("released_grid_nearly_pure", int((designs.query("y == 1")["largest"] >= 80).sum()), tolerance=1)
example = latent.design_at(designs, *published.TABLE_3_EXAMPLE.z, y=published.TABLE_3_EXAMPLE.y)  # Table 3's
reporting.record_decoded("released_grid_example", example["formula"])
record_released("released_grid_example_p", example["probability"], tolerance=0.001)
print(f"y = 1: {consistent[1.0]} of {grid_points ** 2} decoded alloys score above 0.5")
print(f"y = 0: {grid_points ** 2 - consistent[0.0]} of {grid_points ** 2} score above 0.5")

# %% [markdown]
# {glue:text}`released_grid_consistent_1` of the 25
# alloys decoded with $y = 1$ score above 0.5 ($z = (0.05, -0.45)$ decodes
# to the paper's Ti3Mo13V3Nb45Ta7W29, with a probability of
# {glue:text}`released_grid_example_p:.2f`; paper: 0.84), and all
# {glue:text}`released_grid_consistent_0` decoded with $y = 0$ score below:
# the label switches refractory alloys to ones with Cr, Al and Si. But
# {glue:text}`released_grid_nearly_pure` of the $y = 1$ alloys have one
# element at 80 at.% or more (the grid table above): single phase, but hardly
# high-entropy alloys.
#
# The grid is a small window. Over the whole plane, decoding with each
# label and scoring the decoded (unrounded) composition:

# %% tags=["nbval-ignore-output"]
maps = [latent.probability_map(released, y, map_limit, map_points) for y in (1, 0)]
grid_box = (tuple(grid_z1), tuple(grid_z2))
plots.glue_figure("fig-decoder-released", plots.decoder_maps(maps, box=grid_box, points=points))
plane = {y: latent.consistency_rate(m) for y, m in zip((1, 0), maps)}
record_released("released_plane_consistent_1", plane[1], tolerance=0.002)
record_released("released_plane_consistent_0", plane[0], tolerance=0.002)
print(f"prior-weighted share of the plane where the classifier agrees: "
      f"y = 1 {plane[1]:.3f}, y = 0 {plane[0]:.3f}")

# %% [markdown]
# ```{glue:figure} fig-decoder-released
# :name: fig-decoder-released
# :alt: Two maps of the latent plane from -3 to 3, coloured from red (probability 0) to blue (probability 1); left decoded with y equal 1, mostly blue with red patches; right decoded with y equal 0, a mix of red and blue regions; a black contour marks probability 0.5 and a small square marks the Table 3 grid.
#
# The released decoder's map: probability of a single phase of the alloy
# decoded at each $z$ with $y = 1$ (left) and $y = 0$ (right); black
# line: 0.5; square: the grid of Table 3; grey dots: the data.
# ```
#
# Weighted by the prior $p(z)$, the classifier agrees with the label the
# decoder was given on {glue:text}`released_plane_consistent_1:.0%` of the
# plane for $y = 1$, but only on {glue:text}`released_plane_consistent_0:.0%`
# for $y = 0$. Table 3's window, where both labels work, is a good corner
# of the plane, not a typical one.
#
# ## 6. Our retrained models
#
# Every number above, for each of our models (trained on the same split
# with the default recipe of {doc}`Chapter 2 <02_model>`, from the model
# cache). Their latent spaces are not aligned with each other or with the
# released one, so the fixed box and grid mean something different in
# each; the reconstruction, probe, mutual information and whole-plane
# numbers do not depend on where things lie.

# %% tags=["nbval-ignore-output"]
models = zoo.paper_models(seeds=range(seeds), table=table,
                          train_config=TrainConfig.with_table(table, epochs=epochs))
split = split_with_table(paper, table)
ours_scores = pd.DataFrame({seed: latent.latent_summary(model, split, settings) for seed, model in models.items()}).T
ours_scores.round(3)

# %% tags=["nbval-ignore-output"]
ours_summary = metrics.summarize(ours_scores)
# The grid's numbers are left out: the fixed grid lands somewhere else in each seed's latent space.
for key in ["composition_error_mean", "probability_error_mean", "latent_error_mean", "share_in_box",
            "opposite_pairs", "probe_auc_z", "mi_elements", "mi_label",
            "plane_consistent_1", "plane_consistent_0"]:
    reporting.record(f"ours_{key}", ours_summary.loc[key, "mean"], kind="trained",
                     spread=ours_summary.loc[key, "std"], n=int(ours_summary.loc[key, "runs"]))
reporting.claim("ours_probe", "greater", {"a": "ours_probe_auc_z", "b": 0.5, "margin": 0.05}, {
    "greater": "With the true label, the probe reads the label off our models' *z* too (AUC {a:.2f} on average "
               "over seeds),",
    "less": "With the true label, the probe reads our models' *z* worse than chance (AUC {a:.2f} on average),",
    "equal within the margin": "With the true label, the probe cannot read the label off our models' *z* "
                               "(AUC {a:.2f} on average, within 0.05 of chance),",
})
pd.concat([released_summary.rename("released model"),
           ours_summary["mean ± std"].rename(f"ours ({table} table)")], axis=1)

# %% [markdown]
# Our models reconstruct with a composition error of
# {glue:text}`ours_composition_error_mean:.2f` at.% on average over seeds
# (released model: {glue:text}`released_composition_error_mean:.2f`), and
# put {glue:text}`ours_share_in_box:.0%` of the posterior means in the
# paper's box. {glue:md}`said_ours_probe` and $z$ holds
# {glue:text}`ours_mi_label:.2f` nats about the label. Over the whole
# plane the classifier agrees with the decoder's label on
# {glue:text}`ours_plane_consistent_1:.0%` of it for $y = 1$ and
# {glue:text}`ours_plane_consistent_0:.0%` for $y = 0$, on average: the
# label steers the decoder, but nowhere near always in the direction asked.
# The fixed grid of Table 3 lands somewhere else in each seed's latent
# space, so its score swings from seed to seed (see the table), which says
# nothing about the models. The figures of the first seed:

# %%
first = min(models)
first_points = latent.latent_frame(models[first], {name: split[name] for name in latent.LATENT_PARTS})
first_family_z, _ = latent.place_alloys(models[first], families[list(hea_dvae.ELEMENTS)])
first_families = {name: first_family_z[families["family"] == name] for name in latent.FAMILIES}
plots.glue_figure("fig-latent-ours", plots.latent_space(first_points, box=settings.box))
plots.glue_figure("fig-families-ours", plots.latent_by_elements(first_points, first_families))
first_maps = [latent.probability_map(models[first], y, map_limit, map_points) for y in (1, 0)]
plots.glue_figure("fig-decoder-ours", plots.decoder_maps(first_maps, box=grid_box, points=first_points))

# %% [markdown]
# ```{glue:figure} fig-latent-ours
# :name: fig-latent-ours
# :alt: The latent points of our first retrained model, coloured by label, and their density, with the paper's box drawn dashed.
#
# As {numref}`fig-latent-released`, for the first of our models.
# ```
#
# ```{glue:figure} fig-families-ours
# :name: fig-families-ours
# :alt: The latent points of our first retrained model coloured by number of elements, and the three element families of equimolar quaternaries over the data in grey.
#
# As {numref}`fig-families-released`, for the first of our models.
# ```
#
# ```{glue:figure} fig-decoder-ours
# :name: fig-decoder-ours
# :alt: Two maps of the latent plane of our first retrained model, coloured by the classifier probability of the alloy decoded with y equal 1 (left) and y equal 0 (right), with the 0.5 contour.
#
# As {numref}`fig-decoder-released`, for the first of our models.
# ```
#
# ## Summary
#
# In this chapter we reproduced the authors' reconstruction of the test
# alloys alloy by alloy and their three mean errors, and their Table 1,
# which turned out to mix two decoding rules; found the paper's share of
# posterior means in its box, and its opposite-label pairs; drew how the
# latent space sorts alloys by number of elements and element family; and
# measured what the figures cannot show: a probe reads the label off $z$
# with a ROC AUC of {glue:text}`released_probe_auc_z:.2f` for the released
# model and {glue:text}`ours_probe_auc_z:.2f` on average over our seeds,
# against {glue:text}`probe_auc_x:.2f` off the composition itself, and
# still {glue:text}`released_probe_weakest_control:.2f` when $z$ is encoded
# without the true label. The decoder's label does change what it makes,
# and in the paper's grid the classifier agrees with it, but over the whole
# plane it agrees only part of the time (for the released model on
# {glue:text}`released_plane_consistent_1:.0%` of it with $y = 1$ and
# {glue:text}`released_plane_consistent_0:.0%` with $y = 0$), and several
# "single-phase designs" of the grid are nearly pure metals.
#
# ## What's next
#
# {doc}`Chapter 5 <05_interpretation>` explains the classifier itself:
# which features drive its predictions, and how it compares with the
# empirical rules of alloy design.
#
# Works cited here are listed on the [references](references.md) page.

#
# ---
#
# What produced this page (package, data, models, machine):

# %% tags=["nbval-ignore-output"]
reporting.provenance(models=[released, *models.values()])
