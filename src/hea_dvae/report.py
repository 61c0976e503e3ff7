"""Key numbers of a chapter: recorded once, glued into the prose, checked by the tests.

A chapter calls :func:`chapter` once, then :func:`record` for every number it
wants checked or quoted. Each number is

- glued under its key (myst-nb ``glue``), so the prose can quote it with
  ``{glue:text}`key:.3f``` and cannot drift from the computation;
- kept in memory (:func:`records`) and, when ``$HEA_DVAE_RECORD_DIR`` is
  set, written to ``$HEA_DVAE_RECORD_DIR/<chapter>.json`` after every call
  (the tests compare that file with ``tests/reference/<chapter>.json``).

Two kinds of numbers exist, and the checks treat them differently:

``exact``
    Computed exactly from the data (counts, features, the split, tables that
    do not depend on training): compared to a relative 1e-9.
``trained``
    Depends on training, hence on the CPU's floating-point kernels. Give the
    seed-to-seed standard deviation ``spread`` and the number of runs ``n``
    the number averages over: the reference writer derives the tolerance
    from them (see :func:`tolerance_for`). A number with no seed spread (an
    ensemble's AUC) gives its own ``tolerance`` and the ``basis`` of it.
"""

from __future__ import annotations

import ast
import html
import json
import math
import os
import platform
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.stats import t as student_t

from . import config, upstream, zoo
from .compositions import parse_formula

KINDS = ("exact", "trained")

#: Tolerance of a trained mean over n runs with seed spread s: Z * s * sqrt(2 / n),
#: i.e. Z standard errors of the difference of two independent n-run means
#: (another CPU's kernels send every run down a different trajectory, so a
#: re-execution there is a fresh draw of n runs).
Z_TRAINED = 4.0

#: Relative tolerance of exact numbers (float formatting and summation order).
EXACT_RTOL = 1e-9

_state: dict = {"chapter": None, "records": {}, "start": None}


def chapter(name: str) -> None:
    """Start recording for chapter ``name`` (e.g. ``"02_model"``); forgets earlier records."""
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"chapter name must be a plain file stem such as '02_model', got {name!r}")
    _state.update(chapter=name, records={}, start=time.time())
    path = _record_path()
    if path is not None and path.exists():
        path.unlink()


def current_chapter() -> str | None:
    """The name given to :func:`chapter`, or None."""
    return _state["chapter"]


def elapsed_seconds() -> float | None:
    """Seconds since :func:`chapter` was called."""
    return None if _state["start"] is None else time.time() - _state["start"]


def _record_path() -> Path | None:
    folder = os.environ.get("HEA_DVAE_RECORD_DIR")
    if not folder or _state["chapter"] is None:
        return None
    return Path(folder) / f"{_state['chapter']}.json"


def _plain(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"record values must be numbers or strings, got {type(value).__name__}")


def record(
    key: str,
    value,
    *,
    kind: str = "exact",
    spread: float | None = None,
    n: int | None = None,
    tolerance: float | None = None,
    basis: str | None = None,
    glue: bool = True,
):
    """Record one key number of the current chapter.

    Returns nothing, so that a cell ending in ``record(...)`` prints nothing:
    a printed trained number would be compared text for text by nbval.

    Parameters
    ----------
    key : str
        Unique within the chapter; also the glue name.
    value : number or str
        The number (a string is compared exactly).
    kind : {"exact", "trained"}
        See the module docstring.
    spread, n : float, int
        For a ``trained`` mean: the standard deviation over the ``n`` runs
        averaged (ddof=1).
    tolerance, basis : float, str
        An explicit absolute tolerance and where it comes from (for trained
        numbers without a seed spread).
    glue : bool
        Also glue the value for the prose (needs a notebook kernel).
    """
    if _state["chapter"] is None:
        raise RuntimeError("call hea_dvae.report.chapter(name) before record()")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    plain = _plain(value)
    if isinstance(plain, float) and not math.isfinite(plain):
        raise ValueError(f"record {key!r}: value is {plain}, not a finite number")
    if kind == "trained" and tolerance is None and (spread is None or n is None):
        raise ValueError(
            f"record {key!r}: a trained number needs spread and n (seed spread) or an "
            "explicit tolerance with its basis"
        )
    if tolerance is not None and not basis:
        raise ValueError(f"record {key!r}: an explicit tolerance needs a basis (where it comes from)")
    entry = {"value": plain, "kind": kind}
    if spread is not None:
        entry["spread"] = float(spread)
        entry["n"] = int(n)
    if tolerance is not None:
        entry.update(tolerance=float(tolerance), basis=basis)
    _state["records"][key] = entry
    _write()
    if glue:
        _glue(key, plain)


#: Why a number of the authors' released model (float32 inference, no
#: training) carries a small tolerance.
FLOAT32 = "released weights; float32 kernels of another CPU change the last bits"

#: Tolerance (at.% in one element) of a formula decoded by a float32 model and
#: rounded to whole at.%, and its basis.
DECODED_FORMULA_TOLERANCE = 1.0
DECODED_FORMULA = (FLOAT32 + "; an amount on a rounding boundary may move by one at.% "
                   "(compared as compositions)")


def record_released(key: str, value, tolerance: float = 1e-4, basis: str = FLOAT32, glue: bool = True):
    """:func:`record` a number computed with float32 weights (trained kind, explicit tolerance)."""
    record(key, value, kind="trained", tolerance=tolerance, basis=basis, glue=glue)


def record_decoded(key: str, formula: str, glue: bool = True):
    """:func:`record` a formula decoded by a float32 model: compared as a composition, within one at.%."""
    record(key, formula, kind="trained", tolerance=DECODED_FORMULA_TOLERANCE, basis=DECODED_FORMULA, glue=glue)


def _glue(key: str, value) -> None:
    try:
        from myst_nb import glue
    except ImportError:  # pragma: no cover - book extra not installed
        return
    glue(key, value, display=False)


def _write() -> None:
    path = _record_path()
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_state["records"], indent=1, sort_keys=True)
    # Atomic: a reader never sees half a file.
    handle, staging = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    with os.fdopen(handle, "w") as stream:
        stream.write(text + "\n")
    os.replace(staging, path)


def records() -> dict:
    """The records of the current chapter: key -> {"value", "kind", ...}."""
    return {k: dict(v) for k, v in _state["records"].items()}


def tolerance_for(entry: dict) -> tuple[float, str]:
    """Absolute tolerance of one record and the sentence that justifies it."""
    if "tolerance" in entry:
        return float(entry["tolerance"]), str(entry["basis"])
    if entry["kind"] == "exact":
        value = entry["value"]
        if isinstance(value, str):
            return 0.0, "exact: computed from the data alone (string compared as is)"
        return EXACT_RTOL * max(1.0, abs(float(value))), "exact: computed from the data alone"
    spread, n = float(entry["spread"]), int(entry["n"])
    tolerance = Z_TRAINED * spread * math.sqrt(2.0 / n)
    return tolerance, (
        f"trained: {Z_TRAINED:g} x seed std {spread:.4g} x sqrt(2/{n}) "
        "(difference of two independent means of n runs)"
    )


def formula_difference(a: str, b: str) -> float:
    """Largest difference of one element's amount between two formulas written in at.%.

    The amounts are read as written (a rounding that sums to 99 at.% stays
    99), so one at.% moved by a rounding boundary counts as 1. A formula that
    cannot be read is infinitely far.
    """
    try:
        amounts_a, amounts_b = parse_formula(a), parse_formula(b)
    except ValueError:
        return math.inf
    return max(abs(amounts_a.get(s, 0.0) - amounts_b.get(s, 0.0)) for s in {*amounts_a, *amounts_b})


def compare(found: dict, reference: dict) -> list[str]:
    """Every way ``found`` records disagree with ``reference`` entries; empty if none.

    ``reference`` maps key -> {"value", "tolerance", "basis", ...} as written
    by ``scripts/write_reference.py``; ``found`` maps key -> {"value", ...}
    (or key -> value).
    """
    problems = []
    for key, ref in reference.items():
        if key not in found:
            problems.append(f"{key}: not recorded (expected {ref['value']!r})")
            continue
        got = found[key]["value"] if isinstance(found[key], dict) else found[key]
        expected = ref["value"]
        if isinstance(expected, str) or isinstance(got, str):
            tolerance = float(ref.get("tolerance", 0.0))
            if tolerance and isinstance(expected, str) and isinstance(got, str):
                # A formula decoded by a float32 model: compare the compositions, in at.%.
                moved = formula_difference(got, expected)
                if not moved <= tolerance:
                    problems.append(f"{key}: {got!r} differs from the reference {expected!r} by {moved:.3g} "
                                    f"at.% in one element, beyond the tolerance {tolerance:g} "
                                    f"({ref.get('basis', '')})")
            elif got != expected:
                problems.append(f"{key}: {got!r} != {expected!r}")
            continue
        tolerance = float(ref["tolerance"])
        difference = float(got) - float(expected)
        if not abs(difference) <= tolerance:
            problems.append(
                f"{key}: {float(got):.6g} differs from the reference {float(expected):.6g} by "
                f"{difference:+.3g}, beyond the tolerance {tolerance:.3g} ({ref.get('basis', '')})"
            )
    return problems


# --------------------------------------------------------------------------
# Reading records back, the headline results, provenance (book pages)
#
# The headline page reads what the chapters glued into their executed
# notebooks, so it is rebuilt from the same numbers whenever they are.


def read_notebook_records(path: str | os.PathLike) -> dict:
    """The values glued in an executed notebook: key -> number, string or bool.

    Reads the outputs myst-nb's ``glue`` leaves (output metadata
    ``scrapbook.name``), which :func:`record` writes for every key. Glued
    figures and tables are not values and are skipped.

    Raises
    ------
    FileNotFoundError
        When there is no such notebook (the chapter was never executed).
    """
    notebook = json.loads(Path(path).read_text())
    found = {}
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []):
            meta = output.get("metadata", {}).get("scrapbook")
            if not meta or "name" not in meta:
                continue
            text = output.get("data", {}).get(meta.get("mime_prefix", "") + "text/plain")
            if isinstance(text, list):
                text = "".join(text)
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError, TypeError):
                continue  # a figure's or table's repr
            if isinstance(value, (bool, int, float, str)):
                found[meta["name"]] = value
    return found


@dataclass(frozen=True)
class PaperResult:
    """A number the paper reports, and the records of this book that reproduce it.

    Attributes
    ----------
    item : str
        The paper's figure, table or section (journal version).
    quantity : str
        What is measured, with its unit.
    chapter : str
        The chapter that records it (file stem, e.g. ``"02_model"``).
    ours : str
        Key of our models' mean over seeds; the spread comes from the key
        with ``_mean`` replaced by ``_std``, or from the reference file.
    released : str or None
        Key of the authors' released model on the same split.
    paper : float or None
        The paper's value as printed, or None when it prints none.
    source : str
        Where the paper states it.
    resolution : float
        Half a unit of the paper's last printed digit: how close a value
        must be to count as the same number.
    """

    item: str
    quantity: str
    chapter: str
    ours: str
    released: str | None = None
    paper: float | None = None
    source: str = ""
    resolution: float = 0.0005


#: The numbers on the headline page (book/results.py). The paper's values
#: are quoted from the paper; everything else is read from the chapters.
PAPER_RESULTS: tuple[PaperResult, ...] = (
    PaperResult("Fig. 3", "test accuracy", "02_model", "test_accuracy_mean",
                "released_test_accuracy", 0.877,
                "text: the best model (the released weights' README says the same)"),
    PaperResult("Fig. 3", "test ROC AUC", "02_model", "test_auc_mean", "released_test_auc", 0.89,
                "ROC curves: about 0.89", resolution=0.005),
    PaperResult("Fig. 4, Table 1", "test alloys whose element set is recovered (share)", "02_model",
                "element_set_recovered_mean", "released_element_set_recovered"),
    PaperResult("Fig. 4", "reconstruction MAE over all 30 elements (at.%)", "02_model",
                "mae_all_mean", "released_mae_all"),
    PaperResult("Fig. 4", "reconstruction MAE over the elements present (at.%)", "02_model",
                "mae_present_mean", "released_mae_present"),
    PaperResult("Fig. 4", "composition error, authors' protocol (at.%)", "04_latent_space",
                "ours_composition_error_mean", "released_composition_error_mean", 2.3,
                "text: a mean composition error of 2.3 %", resolution=0.05),
    PaperResult("Fig. 4", "single-phase probability error, authors' protocol", "04_latent_space",
                "ours_probability_error_mean", "released_probability_error_mean", 0.169,
                "text: mean probability error 0.169"),
    PaperResult("Fig. 4", "latent error, authors' protocol", "04_latent_space",
                "ours_latent_error_mean", "released_latent_error_mean", 0.175,
                "text: mean latent error 0.175"),
    PaperResult("Fig. 5", "share of latent means in z1 in [-2.5, 2.5], z2 in [-2, 2]", "04_latent_space",
                "ours_share_in_box", "released_share_in_box", 0.84,
                "text: more than 84 % of the points", resolution=0.005),
    PaperResult("Table 2", "test accuracy, semi-supervised, 864 labelled", "03_data_efficiency",
                "table2_row1_ssvae_accuracy_mean", None, 0.877, "Table 2, first row (one run)"),
    PaperResult("Table 2", "test accuracy, supervised network, 864 labelled", "03_data_efficiency",
                "table2_row1_supervised_accuracy_mean", None, 0.870, "Table 2, first row (one run)"),
    PaperResult("Table 2", "test accuracy, semi-supervised, 247 labelled", "03_data_efficiency",
                "table2_row2_ssvae_accuracy_mean", None, 0.841, "Table 2, second row (one run)"),
    PaperResult("Table 2", "test accuracy, supervised network, 247 labelled", "03_data_efficiency",
                "table2_row2_supervised_accuracy_mean", None, 0.826, "Table 2, second row (one run)"),
)

#: Every figure and table of the paper (journal version) and the chapters
#: that reproduce it; book/paper_map.md says what differs.
PAPER_ITEMS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Fig. 1", "the data: alloys by number of elements, element frequency, classes", ("01_data",)),
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
    half = float(student_t.ppf(0.975, n - 1)) * std / math.sqrt(n)
    return f"[{mean - half:.3f}, {mean + half:.3f}]"


def verdict(result: PaperResult, released: float | None, mean: float | None,
            std: float | None) -> str:
    """Whether the released model and our models reproduce the paper's number, and by how much not."""
    if result.paper is None:
        return "no number in the paper to compare"
    parts = []
    if released is not None:
        gap = released - result.paper
        parts.append("released: reproduced" if abs(gap) <= result.resolution
                     else f"released: not reproduced ({gap:+.3f})")
    if mean is None:
        parts.append("ours: not recorded")
    else:
        gap = mean - result.paper
        if abs(gap) <= result.resolution:
            parts.append("ours: reproduced")
        elif std:
            within = abs(gap) <= 2 * std
            parts.append(f"ours: {'reproduced' if within else 'not reproduced'} "
                         f"({gap:+.3f}, {gap / std:+.1f} std)")
        else:
            parts.append(f"ours: not reproduced ({gap:+.3f})")
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
        mean = records.get(result.ours)
        released = records.get(result.released) if result.released else None
        std, n = _spread(result.ours, records, ref)
        ours = "not recorded" if mean is None else (
            f"{mean:.3f} ± {std:.3f}" if std is not None else f"{mean:.3f}")
        rows.append({
            "paper item": result.item,
            "quantity": result.quantity,
            "paper": "—" if result.paper is None else f"{result.paper:g}",
            "released model": "—" if result.released is None else _format(released),
            "ours (mean ± std)": ours,
            "ours, 95 % interval": "not recorded" if mean is None else _interval(mean, std, n),
            "runs": "not recorded" if n is None else str(n),
            "verdict": verdict(result, released, mean, std),
            "chapter": result.chapter,
        })
    return pd.DataFrame(rows)


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


def _git_commit() -> str:
    root = config.project_root()
    if root is None:
        return "not a source checkout"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root,
                                capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    return commit + (" + uncommitted changes" if dirty else "")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _model_digest(model) -> str:
    if isinstance(model, str):
        return model
    identity = getattr(model, "identity", None)
    return identity if isinstance(identity, str) else zoo.model_digest(model)


@dataclass
class Provenance:
    """What produced a chapter's outputs; shown as a small table at its end.

    Build it with :func:`provenance`. Notebooks display its HTML; ``str()``
    gives the same as plain text.
    """

    rows: dict

    def __str__(self) -> str:
        return "\n".join(f"{name}: {value}" for name, value in self.rows.items())

    __repr__ = __str__

    def _repr_html_(self) -> str:
        cells = "".join(
            f"<tr><th>{html.escape(name)}</th><td>{html.escape(str(value))}</td></tr>"
            for name, value in self.rows.items()
        )
        return (f'<div class="hea-provenance"><p><strong>Provenance of this page</strong></p>'
                f"<table>{cells}</table></div>")


def provenance(models=None, digests=None) -> Provenance:
    """Package version, commit, data and model digests, run time and CPU of this run.

    Parameters
    ----------
    models : iterable or dict, optional
        Models the chapter used: SSVAEs, Ensembles (their ``identity``) or
        digests; a dict's values are used.
    digests : iterable of str, optional
        Further checkpoint digests (e.g. from ``hea_dvae.checkpoint``).

    Returns
    -------
    Provenance
        Digests are shortened to 12 hex digits. A data file is marked
        "verified" when its digest is the pinned one.
    """
    if isinstance(models, dict):
        models = models.values()
    used = [_model_digest(m) for m in (models or [])] + list(digests or [])
    files = []
    for name, (_, pinned) in config.DATA_FILES.items():
        path = config.data_dir() / name
        if path.is_file():
            digest = upstream.sha256(path)
            files.append(f"{name} {digest[:12]}" + (" (verified)" if digest == pinned else " (NOT the pinned file)"))
    elapsed = elapsed_seconds()
    rows = {
        "hea-dvae": f"{config.package_version()}, commit {_git_commit()}",
        "data files": "; ".join(files) or "none read",
        "models": ", ".join(d[:12] for d in used) or "none",
        "run time": "unknown (report.chapter not called)" if elapsed is None else f"{elapsed:.0f} s",
        "CPU": f"{_cpu_model()}, torch kernels {torch.backends.cpu.get_cpu_capability()}, "
               f"{torch.get_num_threads()} thread(s)",
        "software": f"Python {platform.python_version()}, torch {torch.__version__}, "
                    f"numpy {np.__version__}, {platform.system()} {platform.machine()}",
    }
    return Provenance(rows)
