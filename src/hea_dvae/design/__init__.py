r"""Inverse design: alloys predicted to form a single phase, with evidence and a recipe.

Three routes lead to candidate alloys, all scored by one predictor (any
:class:`hea_dvae.predictors.Predictor`) and all bound by one
:class:`~hea_dvae.design.constraints.Constraints` (or a mapping, or a
YAML/TOML file of them):

latent decoding (:func:`decode_latent`, :mod:`~hea_dvae.design.decode`)
    The paper's generator: decode a chosen latent vector ``z`` with a label
    ``y`` through :math:`p(x \mid y, z)`, round, re-score.
inversion (:func:`invert_flip`, :func:`invert_gradient`, :mod:`~hea_dvae.design.invert`)
    The paper's label-flip loop (Fig. 7), and gradient inversion through
    the differentiable featurizer and classifier.
screening (:func:`hea_dvae.design.screen.screen`, :mod:`~hea_dvae.design.screen`)
    Score every alloy of a constrained space, batch by batch.

and :func:`next_experiments` (:mod:`~hea_dvae.design.experiments`) proposes
which alloys of such a space to make next: a diverse batch chosen by an
acquisition over the ensemble (:mod:`~hea_dvae.design.acquisition`).

Every candidate gets the same :func:`evidence` (:mod:`~hea_dvae.design.assessment`:
mean and spread, the empirical rules, the nearest dataset alloys, whether
it lies outside the data) and can get a :func:`recipe`
(:mod:`~hea_dvae.design.recipes`). Every result carries the model's identity
and the parameters that produced it in ``DataFrame.attrs``, and
:func:`write_csv` (:mod:`~hea_dvae.design.tables`) writes them as ``#`` lines.

The modules, from the bottom: ``constraints`` (the specification) and
``feasibility`` (whether an alloy exists, one predicate per rule),
``projection`` (onto the constraints and their grid), ``tables``, ``recipes``,
``decode``, ``invert``, ``assessment`` (evidence and ranking), the ``screen`` package, and
``experiments`` (the next batch to make) on top.
"""

import importlib

#: Public name -> the module of this package that defines it. Imported on
#: first use: ``predict`` reads the evidence without loading torch, which
#: only decoding and inversion need.
_LAZY = {
    "STRATEGIES": "acquisition",
    "acquisition_values": "acquisition",
    "select_batch": "acquisition",
    "ConstraintError": "constraints",
    "Constraints": "constraints",
    "DEFAULT_STEP": "projection",
    "Inversion": "invert",
    "OUTSIDE_QUANTILE": "assessment",
    "RULES_TABLE": "assessment",
    "Reference": "assessment",
    "SAME_ALLOY_AT_PCT": "assessment",
    "admits": "feasibility",
    "admitted": "projection",
    "as_constraints": "constraints",
    "atomic_masses": "recipes",
    "compare_inversions": "invert",
    "csv_text": "tables",
    "data_flags": "assessment",
    "dataset_reference": "assessment",
    "decode_latent": "decode",
    "decoder_model": "decode",
    "evidence": "assessment",
    "invert_flip": "invert",
    "invert_gradient": "invert",
    "next_experiments": "experiments",
    "project": "projection",
    "provenance_lines": "tables",
    "rank_candidates": "assessment",
    "independent_judges": "assessment",
    "judged": "assessment",
    "recipe": "recipes",
    "recipe_columns": "recipes",
    "reference_from": "assessment",
    "reference_with": "assessment",
    "stamp": "tables",
    "summarize_by_member": "invert",
    "summarize_inversions": "invert",
    "violations": "feasibility",
    "weight_fractions": "recipes",
    "with_evidence": "assessment",
    "write_csv": "tables",
}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_LAZY})


__all__ = [
    "STRATEGIES",
    "acquisition_values",
    "select_batch",
    "DEFAULT_STEP",
    "OUTSIDE_QUANTILE",
    "RULES_TABLE",
    "SAME_ALLOY_AT_PCT",
    "ConstraintError",
    "Constraints",
    "Inversion",
    "Reference",
    "admits",
    "admitted",
    "as_constraints",
    "atomic_masses",
    "compare_inversions",
    "csv_text",
    "data_flags",
    "dataset_reference",
    "decode_latent",
    "decoder_model",
    "evidence",
    "invert_flip",
    "invert_gradient",
    "next_experiments",
    "project",
    "provenance_lines",
    "rank_candidates",
    "independent_judges",
    "judged",
    "recipe",
    "recipe_columns",
    "reference_from",
    "reference_with",
    "stamp",
    "summarize_by_member",
    "summarize_inversions",
    "violations",
    "weight_fractions",
    "with_evidence",
    "write_csv",
]
