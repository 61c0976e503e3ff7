"""Profiles of a chapter's parameters: the book as published, or a smoke run in seconds.

Every chapter declares ``profile = "full"`` in its parameters cell and, in
the next cell, lets :func:`profile_parameters` change its parameters::

    globals().update(reporting.profile_parameters(profile, globals()))

``"full"`` changes nothing. ``"smoke"`` shrinks what costs time (epochs,
seeds, folds, bootstrap resamples, the size of screens) so that a chapter
runs through in under a minute: it tells a contributor that every cell still
runs, not what the numbers are. The small settings are derived here from the
chapter's own values, by one rule per parameter name, so that no chapter
keeps a second copy of itself. ``make test-quick`` executes every chapter
this way and checks the numbers that do not depend on training
(:func:`smoke_checked`) against ``tests/reference``.
"""

from __future__ import annotations

from typing import Callable, Mapping

#: The profiles a chapter accepts.
PROFILES: tuple[str, ...] = ("full", "smoke")


def _at_most(limit):
    return lambda value: min(value, limit)


def _first(count: int):
    return lambda value: list(value)[:count]


def _first_and_last(value):
    value = list(value)
    return value if len(value) <= 2 else [value[0], value[-1]]


#: Parameter name -> how the smoke profile derives its value from the full one.
#: A rule applies in every chapter that declares the parameter.
SMOKE_RULES: dict[str, Callable] = {
    "seeds": _at_most(2),  # two seeds: a mean and a spread still exist
    "epochs": _at_most(20),
    "cv_epochs": _at_most(10),
    "head_epochs": _at_most(50),
    "recipe_seeds": _at_most(0),  # the recipe table trains each recipe for thousands of steps
    "cv_folds": _at_most(2),
    "cv_repeats": _at_most(1),
    "ssvae_repeats": _at_most(1),  # 07_new_systems: repeats whose folds also train the SSVAE
    "inner_folds": _at_most(2),  # 07_new_systems: inner folds of every nested choice
    "inner_trees": _at_most(20),  # 07_new_systems: trees of each forest fitted for a choice
    "n_bootstrap": _at_most(100),
    "build_predictor": lambda value: False,  # five models of the full recipe
    "fractions": _first_and_last,
    "table2_seeds": _at_most(2),
    "background_size": _at_most(50),
    "seed_background_size": _at_most(20),
    "explained_alloys": _at_most(20),  # exact Shapley values cost about 0.1 s per alloy
    "map_points": _at_most(21),
    "inversion_seeds": _first(1),  # each start alloy is inverted by every member alone too
    "screen_sizes": _first(1),
    "grid_sizes": _first(1),
    "dask_workers": _at_most(0),  # a local cluster takes seconds to start
    # 08_design_loop: a loop of two short rounds, twice, with small ensembles
    "loop_repeats": _at_most(2),
    "loop_rounds": _at_most(2),
    "loop_members": _at_most(2),
    "loop_trees": _at_most(10),
    "loop_epochs": _at_most(2),
    "loop_folds": _at_most(2),
    "loop_workers": _at_most(1),  # a worker process takes seconds to start
}

#: Exact records that count what the smoke profile shrinks: they differ from
#: the reference by design, so a smoke run does not check them.
SMOKE_UNCHECKED: frozenset[str] = frozenset({
    "table2_seeds_used",  # 03_data_efficiency: table2_seeds
    "seeds_used",  # 02_model: seeds
    "seed_background_size",  # 05_interpretation
    "screen_alloys",  # 06_design: screen_sizes
    "grid_alloys",  # 06_design: grid_sizes
    "grid_screened",
    "grid_mixed_share",
    "flagged_share",  # 07_new_systems: cv_folds and cv_repeats
    "loop_repeats_used",  # 08_design_loop: loop_repeats, loop_rounds
    "loop_rounds_used",
    "loop_cast_per_arm",
    "grouped_folds_used",  # 08_design_loop: loop_folds
    "grouped_scored_alloys",
    "grouped_scored_single_phase_share",
})


def profile_parameters(profile: str, parameters: Mapping[str, object]) -> dict:
    """The parameters ``profile`` changes, with their new values.

    Parameters
    ----------
    profile : {"full", "smoke"}
        ``"full"`` changes nothing; ``"smoke"`` applies :data:`SMOKE_RULES`.
    parameters : mapping
        The chapter's parameters (its ``globals()``); only names with a rule
        are read.

    Returns
    -------
    dict
        name -> value for every parameter the profile changes.

    Raises
    ------
    ValueError
        An unknown profile.
    """
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
    if profile == "full":
        return {}
    return {name: rule(parameters[name]) for name, rule in SMOKE_RULES.items() if name in parameters}


def smoke_checked(records: Mapping[str, dict]) -> dict:
    """The records of a smoke run that must equal the reference: exact ones, but :data:`SMOKE_UNCHECKED`.

    Numbers that depend on training are never checked after a smoke run:
    its models are trained for a few epochs; nor are the headline page's
    verdicts (``verdict_*``), which compare those numbers with the paper.
    """
    return {key: entry for key, entry in records.items()
            if entry["kind"] == "exact" and key not in SMOKE_UNCHECKED and not key.startswith("verdict_")}
