"""The headline page: the paper's numbers beside the released model's and ours, and coverage.

The headline page (``book/results.py``) reads what the chapters glued into
their executed notebooks, so it is rebuilt from the same numbers whenever
they are. The paper's values come from :mod:`hea_dvae.paper`; this module
says which chapter records reproduce each of them.
"""

from __future__ import annotations

import json
import re
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .. import paper as published
from ..metrics import difference_of_means, mean_interval, single_run_interval
from ..paper import Published
from .records import read_notebook_records


@dataclass(frozen=True)
class PaperResult:
    """A number the paper reports, and the records of this book that reproduce it.

    Like is compared with like: a number of the paper's single best model
    (the released weights) with the released model, and with the spread of
    our single runs; a mean over the paper's runs with the mean over ours.

    Attributes
    ----------
    item : str
        The paper's figure, table or section (journal version).
    quantity : str
        What is measured, with its unit.
    chapter : str
        The chapter that records it (file stem, e.g. ``"02_model"``).
    ours : str or None
        Key of our models' mean over seeds; the spread comes from the key
        with ``_mean`` replaced by ``_std``, or from the reference file.
        None where the row is about the released model only.
    released : str or None
        Key of the authors' released model on the same split.
    published : Published or None
        The paper's value (:mod:`hea_dvae.paper`), or None when it prints none.
    """

    item: str
    quantity: str
    chapter: str
    ours: str | None
    released: str | None = None
    published: Published | None = None

    @property
    def paper(self) -> float | None:
        """The paper's value as printed, or None."""
        return None if self.published is None else self.published.value

    @property
    def source(self) -> str:
        """Where the paper states it."""
        return "" if self.published is None else self.published.where

    @property
    def resolution(self) -> float:
        """Half a unit of the paper's last printed digit: how close counts as the same number."""
        return 0.0005 if self.published is None else self.published.resolution


#: The numbers on the headline page (book/results.py): every other number is
#: read from the chapters.
PAPER_RESULTS: tuple[PaperResult, ...] = (
    PaperResult("Fig. 3", "test accuracy, best model", "02_model", None,
                "released_test_accuracy", published.TEST_ACCURACY),
    PaperResult("Fig. 3", "test ROC AUC, best model", "02_model", None, "released_test_auc", published.TEST_AUC),
    PaperResult("Fig. 3", "validation ROC AUC, best model", "02_model", None, "released_validation_auc",
                published.VALIDATION_AUC),
    PaperResult("Fig. 3", "training ROC AUC, best model", "02_model", None, "released_train_auc",
                published.TRAIN_AUC),
    PaperResult("five runs", "test accuracy, mean over runs", "02_model", "test_accuracy_mean", None,
                published.SEEDS_TEST_ACCURACY),
    PaperResult("five runs", "test ROC AUC, mean over runs", "02_model", "test_auc_mean", None,
                published.SEEDS_TEST_AUC),
    PaperResult("Fig. 4, Table 1", "test alloys whose element set is recovered (share)", "02_model",
                "element_set_recovered_mean", "released_element_set_recovered"),
    PaperResult("Fig. 4", "reconstruction MAE over all 30 elements (at.%)", "02_model",
                "mae_all_mean", "released_mae_all"),
    PaperResult("Fig. 4", "reconstruction MAE over the elements present (at.%)", "02_model",
                "mae_present_mean", "released_mae_present"),
    PaperResult("Fig. 4", "composition error, authors' protocol (at.%)", "04_latent_space",
                "ours_composition_error_mean", "released_composition_error_mean",
                published.COMPOSITION_ERROR_MEAN),
    PaperResult("Fig. 4", "single-phase probability error, authors' protocol", "04_latent_space",
                "ours_probability_error_mean", "released_probability_error_mean",
                published.PROBABILITY_ERROR_MEAN),
    PaperResult("Fig. 4", "latent error, authors' protocol", "04_latent_space",
                "ours_latent_error_mean", "released_latent_error_mean", published.LATENT_ERROR_MEAN),
    PaperResult("Fig. 5", "share of latent means in z1 in [-2.5, 2.5], z2 in [-2, 2]", "04_latent_space",
                "ours_share_in_box", "released_share_in_box", published.SHARE_IN_BOX),
    PaperResult("Table 2", "test accuracy, semi-supervised, 864 labelled", "03_data_efficiency",
                "table2_row1_ssvae_accuracy_mean", None, published.table_2(1, "semi-supervised")),
    PaperResult("Table 2", "test accuracy, supervised network, 864 labelled", "03_data_efficiency",
                "table2_row1_supervised_accuracy_mean", None, published.table_2(1, "supervised network")),
    PaperResult("Table 2", "test accuracy, semi-supervised, 247 labelled", "03_data_efficiency",
                "table2_row2_ssvae_accuracy_mean", None, published.table_2(2, "semi-supervised")),
    PaperResult("Table 2", "test accuracy, supervised network, 247 labelled", "03_data_efficiency",
                "table2_row2_supervised_accuracy_mean", None, published.table_2(2, "supervised network")),
    PaperResult("beyond the paper", "ROC AUC on unseen alloy systems (grouped folds), SSVAE, 8 features",
                "07_new_systems", "cv_auc_ssvae_8"),
    PaperResult("beyond the paper", "ROC AUC on unseen alloy systems (grouped folds), SSVAE, 31 descriptors",
                "07_new_systems", "cv_auc_ssvae_31"),
    PaperResult("beyond the paper", "ROC AUC on unseen alloy systems (grouped folds), best model",
                "07_new_systems", "cv_auc_best"),
)

#: Every figure and table of the paper (journal version) and the chapters
#: that reproduce it; book/paper_map.md says what differs.
PAPER_ITEMS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Fig. 1", "the workflow: data, model and design (a schematic)", ("01_data",)),
    ("Fig. 2", "the model: generative and inference networks", ("02_model",)),
    ("Fig. 3", "classification: ROC curves of the classifier", ("02_model",)),
    ("Fig. 4", "reconstruction errors of the test alloys", ("02_model", "04_latent_space")),
    ("Fig. 5", "the latent space by class", ("04_latent_space",)),
    ("Fig. 6", "the latent space by properties and alloy families", ("04_latent_space",)),
    ("Fig. 7", "iterative design: an alloy moved towards a single phase", ("06_design",)),
    ("Fig. 8a", "SHAP values of the classifier (beeswarm)", ("05_interpretation",)),
    ("Fig. 8b", "features of the start and the designed alloy", ("06_design",)),
    ("Table 1", "reconstructed test alloys beside the true ones", ("02_model", "04_latent_space")),
    ("Table 2", "data efficiency: fewer labelled alloys, with and without unlabelled ones",
     ("03_data_efficiency",)),
    ("Table 3", "alloys decoded on a grid of the latent space", ("04_latent_space",)),
)


def published_table(results=PAPER_RESULTS) -> pd.DataFrame:
    """The paper's values on the headline page, with where the paper states each."""
    return pd.DataFrame(
        [(r.item, r.quantity, f"{r.paper:g}", r.source) for r in results if r.paper is not None],
        columns=["paper item", "quantity", "value", "where the paper states it"],
    ).set_index("paper item")


def _spread(key: str, records: dict, reference: dict) -> tuple[float | None, int | None]:
    """Seed standard deviation and number of runs of a recorded mean, if known."""
    entry = reference.get(key, {})
    std, n = entry.get("spread"), entry.get("n")
    if std is None and key.endswith("_mean"):
        std = records.get(key[: -len("_mean")] + "_std")
    return (None if std is None else float(std)), (None if n is None else int(n))


def _interval(mean: float, std: float | None, n: int | None) -> str:
    """95 % t-interval of a mean over n runs, as text."""
    if std is None or n is None or n < 2:
        return "not recorded"
    interval = mean_interval(mean, std, n)
    return f"[{interval.low:.3f}, {interval.high:.3f}]"


def verdict(result: PaperResult, released: float | None, mean: float | None,
            std: float | None, n: int | None = None) -> str:
    """Whether the released model and our models reproduce the paper's number, like with like.

    - The released model is the paper's model: it reproduces a number when
      it gives it to the paper's printed digit.
    - A mean over the paper's runs (``published.runs``) is compared with
      the mean over ours: Welch's 95 % interval of the difference. Both
      are scored on the same test alloys, so the test set's sampling noise
      is common to both and only the spread over runs enters.
    - A number of the paper's single model is compared with where one of
      our runs falls: the 95 % prediction interval of a single run from
      our mean, spread and number of runs (never our mean with the
      single run by digits, unless our spread is unknown, and then it
      says so).
    """
    if result.paper is None:
        return "no number in the paper to compare"
    parts = []
    if released is not None:
        gap = released - result.paper
        parts.append("released: reproduced" if abs(gap) <= result.resolution
                     else f"released: not reproduced ({gap:+.3f})")
    if result.ours is None:
        return "; ".join(parts)
    if mean is None:
        parts.append("ours: not recorded")
        return "; ".join(parts)
    runs = result.published.runs
    if runs:
        if std is None or n is None or n < 2:
            parts.append(f"ours: {mean - result.paper:+.3f} from the paper's mean (spread not recorded)")
        else:
            d = difference_of_means(mean, std, n, result.paper, result.published.spread, runs)
            agree = d.low <= 0 <= d.high
            parts.append(f"ours: {'consistent with' if agree else 'differs from'} the paper's {runs}-run mean "
                         f"({d.estimate:+.3f}, 95 % interval [{d.low:+.3f}, {d.high:+.3f}])")
    elif std is None or n is None or n < 2:  # a mean without its spread: only the digits can be compared
        same = abs(mean - result.paper) <= result.resolution
        parts.append(f"ours: {'mean equals' if same else 'mean differs from'} the paper's single run to its printed "
                     f"digit ({mean - result.paper:+.3f}; spread over runs not recorded)")
    else:
        one = single_run_interval(mean, std, n)
        inside = one.low <= result.paper <= one.high
        parts.append(f"ours: the paper's single run is {'inside' if inside else 'outside'} the range of one "
                     f"of our runs ([{one.low:.3f}, {one.high:.3f}], 95 %)")
    return "; ".join(parts)


def _format(value) -> str:
    if value is None:
        return "not recorded"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def headline_table(book: str | os.PathLike, results=PAPER_RESULTS,
                   reference: str | os.PathLike | None = None):
    """The paper's numbers beside the released model's and ours, read from the executed chapters.

    Parameters
    ----------
    book : path
        Folder of the executed chapters (``NN_name.ipynb``).
    results : sequence of PaperResult
        The rows.
    reference : path, optional
        Folder of ``tests/reference/NN_name.json`` (seed spreads and run
        counts of trained numbers).

    Returns
    -------
    DataFrame
        One row per result; a number no chapter recorded reads "not recorded".
    """
    book = Path(book)
    rows = []
    for result in results:
        notebook = book / f"{result.chapter}.ipynb"
        records = read_notebook_records(notebook) if notebook.is_file() else {}
        ref_path = None if reference is None else Path(reference) / f"{result.chapter}.json"
        ref = json.loads(ref_path.read_text()) if ref_path is not None and ref_path.is_file() else {}
        mean = records.get(result.ours) if result.ours else None
        released = records.get(result.released) if result.released else None
        std, n = _spread(result.ours, records, ref) if result.ours else (None, None)
        ours = "—" if result.ours is None else "not recorded" if mean is None else (
            f"{mean:.3f} ± {std:.3f}" if std is not None else f"{mean:.3f}")
        rows.append({
            "paper item": result.item,
            "quantity": result.quantity,
            "paper": "—" if result.paper is None else (
                f"{result.paper:g} ± {result.published.spread:g}" if result.published.spread else f"{result.paper:g}"),
            "released model": "—" if result.released is None else _format(released),
            "ours (mean ± std)": ours,
            "ours, 95 % interval": "—" if result.ours is None else "not recorded" if mean is None
            else _interval(mean, std, n),
            "runs": "—" if result.ours is None else "not recorded" if n is None else str(n),
            "verdict": verdict(result, released, mean, std, n),
            "chapter": result.chapter,
        })
    return pd.DataFrame(rows)


def verdict_outcomes(table: pd.DataFrame) -> dict[str, str]:
    """Each row's verdict without its numbers, keyed ``verdict_<quantity>``: what must not flip.

    ``"released: reproduced; ours: consistent with the paper's 5-run mean"``
    stays the same when the numbers in its parentheses move a little, and
    changes when the conclusion does; the headline page records these as
    exact strings, so a re-execution whose verdict flips fails the check.
    """
    table = table.reset_index() if "quantity" not in table.columns else table
    outcomes = {}
    for quantity, text in zip(table["quantity"], table["verdict"]):
        slug = re.sub(r"[^a-z0-9]+", "_", quantity.lower()).strip("_")
        outcomes[f"verdict_{slug}"] = re.sub(r"\s*\([^()]*\)", "", text).strip()
    return outcomes


def coverage(book: str | os.PathLike, items=PAPER_ITEMS) -> pd.DataFrame:
    """Every paper figure and table, its chapters, and whether they are executed.

    A chapter counts as executed when ``book/<chapter>.ipynb`` exists.
    """
    book = Path(book)
    rows = []
    for item, what, chapters in items:
        status = [chapter if (book / f"{chapter}.ipynb").is_file() else f"{chapter} (not executed)"
                  for chapter in chapters]
        rows.append({"paper item": item, "what it shows": what, "chapters": ", ".join(status)})
    return pd.DataFrame(rows).set_index("paper item")


def listed_keys(results=PAPER_RESULTS) -> dict[str, set[str]]:
    """chapter -> the record keys the headline page reads from it."""
    keys: dict[str, set[str]] = {}
    for result in results:
        keys.setdefault(result.chapter, set()).update(k for k in (result.ours, result.released) if k)
    return keys
