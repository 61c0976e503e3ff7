"""Every number the paper publishes, each with where the paper prints it.

Zeng, Khan & Post, *Data-efficient and interpretable inverse materials design
using a disentangled variational autoencoder*, arXiv:2409.06740 (journal
version). The book, the tests and the library read the paper's values from
here and nowhere else, so that a value is typed once and a reader finds, next
to it, the figure, table or sentence it comes from.

Only what the paper prints is here. What the authors' *code* fixes (the
split seed, the labelled shares of the Table 2 splits) lives with the code
that reproduces it (:data:`hea_dvae.config.PAPER_SEED`,
:data:`hea_dvae.data.TABLE2_LABELLED_SHARES`).

Plain Python values only: this module imports nothing, so that any layer of
the package may read it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Published:
    """One number as the paper prints it.

    Attributes
    ----------
    value : float
        The number (a percentage printed as "84 %" is 0.84).
    where : str
        Where the paper states it, in its own words where they matter.
    resolution : float
        Half a unit of the last digit printed: how close another value must
        be to count as the same number.
    spread, runs : float and int, optional
        For a mean over several training runs: the standard deviation the
        paper prints beside it and the number of runs. None for a number
        of one model.
    """

    value: float
    where: str
    resolution: float = 0.0005
    spread: float | None = None
    runs: int | None = None


# --------------------------------------------------------------------------
# Classification (Fig. 3)

# One model, the authors' best (the released weights): Fig. 3 shows its ROC
# curves on the training, validation and test alloys.

#: Test accuracy of the best model.
TEST_ACCURACY = Published(0.877, "text: the best model (the released weights' README says the same)")

#: Test ROC AUC of the best model.
TEST_AUC = Published(0.91, "Fig. 3: the best model's test ROC curve, AUC 0.91", resolution=0.005)

#: Validation ROC AUC of the best model.
VALIDATION_AUC = Published(0.96, "Fig. 3: the best model's validation ROC curve, AUC 0.96", resolution=0.005)

#: Training ROC AUC of the best model.
TRAIN_AUC = Published(0.97, "Fig. 3: the best model's training ROC curve, AUC 0.97", resolution=0.005)

# Five training runs: the paper's mean ± standard deviation on the test alloys.

#: Test accuracy, mean over five runs.
SEEDS_TEST_ACCURACY = Published(0.829, "five training runs: test accuracy 0.829 ± 0.050 (mean ± std)", spread=0.050, runs=5)

#: Test ROC AUC, mean over five runs.
SEEDS_TEST_AUC = Published(0.890, "five training runs: test AUC 0.890 ± 0.025 (mean ± std)", spread=0.025, runs=5)


# --------------------------------------------------------------------------
# Reconstruction of the test alloys by the released model (Fig. 4, Table 1)

#: Mean composition error (at.%).
COMPOSITION_ERROR_MEAN = Published(2.3, "text: a mean composition error of 2.3 %", resolution=0.05)

#: Largest composition error (at.%), "about".
COMPOSITION_ERROR_MAX = Published(6.0, "Fig. 4 and text: about 6 % at most", resolution=0.5)

#: Mean single-phase probability error.
PROBABILITY_ERROR_MEAN = Published(0.169, "text: mean probability error 0.169")

#: Mean latent error.
LATENT_ERROR_MEAN = Published(0.175, "text: mean latent error 0.175")

#: The four reconstruction numbers by name, as
#: :func:`hea_dvae.latent.reconstruction_summary` names ours.
RECONSTRUCTION: dict[str, float] = {
    "composition_error_mean": COMPOSITION_ERROR_MEAN.value,  # at.%
    "composition_error_max": COMPOSITION_ERROR_MAX.value,  # at.%, "about"
    "probability_error_mean": PROBABILITY_ERROR_MEAN.value,
    "latent_error_mean": LATENT_ERROR_MEAN.value,
}

#: Table 1: a test alloy as written, its reconstruction, and the probability shown.
TABLE_1: tuple[tuple[str, str, float], ...] = (
    ("Fe19Ni19Cr19Co13Al19Mo9", "Fe19Ni21Cr15Co21Al15Mo9", 0.15),
    ("Al11Ti22V22Nb22Zr22", "Cr3Al7Ti18V20Nb32Zr16Ta4", 0.10),
    ("Al4Ti23Mo23V23Ta23", "Cr1Al2Ti29Mo26V11Nb16Zr8Ta7", 0.95),
    ("Fe20Ni20Co20Ti20Cu20", "Fe17Ni23Cr13Co21Al2Cu5V10Mn10", 0.52),
)


# --------------------------------------------------------------------------
# The latent space (Fig. 5, Table 3)

#: The box of Fig. 5 said to hold most posterior means: (z1 limits, z2 limits).
BOX: tuple[tuple[float, float], tuple[float, float]] = ((-2.5, 2.5), (-2.0, 2.0))

#: Share of the posterior means inside :data:`BOX`.
SHARE_IN_BOX = Published(0.84, "text: more than 84 % of the points", resolution=0.005)


@dataclass(frozen=True)
class LatentDesign:
    """An alloy the paper decodes from a latent vector with a label, and its probability.

    Attributes
    ----------
    z : tuple of float
        The latent vector that decodes to ``formula``.
    y : float
        The label given to the decoder.
    formula : str
        The decoded alloy, in whole at.%.
    p : float
        Its probability of a single phase, as a number.
    printed_p : str
        The probability as printed (``"~1"``).
    printed_z : tuple of float
        The latent vector as printed, where it differs from ``z`` (a sign
        slip), else ``z``.
    """

    z: tuple[float, ...]
    y: float
    formula: str
    p: float
    printed_p: str
    printed_z: tuple[float, ...] | None = None

    def __post_init__(self):
        if self.printed_z is None:
            object.__setattr__(self, "printed_z", self.z)


#: Section "latent-space design": three alloys decoded with the released model.
#: The third is printed with z = (0.8, -0.5); it decodes from (0.8, 0.5).
LATENT_DESIGNS: tuple[LatentDesign, ...] = (
    LatentDesign((0.0, -0.8), 0.9, "Ti9V10Nb19Zr58Ta1Hf2", 1.0, "~1"),
    LatentDesign((0.0, -0.8), 0.1, "Cr3Al12Ti19V21Nb28Zr13Ta5", 0.04, "0.04"),
    LatentDesign((0.8, 0.5), 0.1, "Fe2Co81Ta14Pt2", 0.71, "0.71", printed_z=(0.8, -0.5)),
)

#: Table 3: the grid of z decoded with y = 1 and y = 0: z1 limits, z2 limits, points per axis.
TABLE_3_GRID: tuple[tuple[float, float], tuple[float, float], int] = ((-0.1, 0.1), (-0.5, -0.3), 5)

#: Table 3: the example alloy the text picks from the grid (decoded with y = 1).
TABLE_3_EXAMPLE = LatentDesign((0.05, -0.45), 1.0, "Ti3Mo13V3Nb45Ta7W29", 0.84, "0.84")


# --------------------------------------------------------------------------
# Data efficiency (Table 2): split sizes and test accuracy, one run per row

#: Row -> labelled, unlabelled and validation alloys, and the test accuracy
#: of the semi-supervised model and of the supervised network.
TABLE_2: dict[int, dict[str, float]] = {
    1: {"labelled": 864, "unlabelled": 296, "validation": 75,
        "semi-supervised": 0.877, "supervised network": 0.870},
    2: {"labelled": 247, "unlabelled": 790, "validation": 198,
        "semi-supervised": 0.841, "supervised network": 0.826},
}

#: Where each row of :data:`TABLE_2` is printed.
TABLE_2_WHERE: dict[int, str] = {1: "Table 2, first row (one run)", 2: "Table 2, second row (one run)"}


def table_2(row: int, model: str) -> Published:
    """A test accuracy of :data:`TABLE_2` (``model``: "semi-supervised" or "supervised network")."""
    return Published(TABLE_2[row][model], TABLE_2_WHERE[row])


# --------------------------------------------------------------------------
# Interpretation (Fig. 8a)

#: Features by mean |SHAP| of the released model, most important first.
SHAP_ORDER: tuple[str, ...] = ("delta_s_mix", "tm", "k", "delta_h_mix", "delta", "vm", "vac", "delta_chi")


# --------------------------------------------------------------------------
# Inverse design: the label-flip path (Fig. 7, Fig. 8b)

#: The multi-phase alloy the loop starts from.
FLIP_SEED = "Fe14Ni16Cr22Co14Al22Cu8"

#: The loop stops once p(single phase) reaches this.
FLIP_TARGET = 0.6

#: Fig. 7: every alloy of the path, from :data:`FLIP_SEED`, and its probability.
FLIP_PATH: tuple[tuple[str, float], ...] = (
    (FLIP_SEED, 0.12),
    ("Fe17Ni22Cr23Co25Al12", 0.48),
    ("Fe19Ni22Cr19Co25Al15", 0.08),
    ("Fe21Ni22Cr22Co35", 0.70),
)
