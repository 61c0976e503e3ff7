"""The book as a reader uses it: offline assets, the browser check, recorded numbers, readable tables.

A tiny book is built from the project's own ``_config.yml`` and
``book/_static`` in a temporary folder, so these tests do not depend on the
chapters and cannot pass on a build that does not exist. The browser tests
need Chromium (Debian's ``chromium`` package; ``.ci/run`` installs it): they
are skipped without it, except in CI (``$CI`` set), where its absence fails.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pytest
from scipy.stats import t as student_t

from hea_dvae import config, features, load_dataset, paper_split, reporting
from hea_dvae.metrics import single_run_interval
from hea_dvae.reporting import plots

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"

PAGE = r"""# A page with math

Inline $y = 1$, and a display:

$$
p(z) = \mathcal N(0, I)
$$

(sec-target)=
## A section

```{figure} square.png
:alt: A blue square.

A figure.
```

See {doc}`second` and {ref}`the section <sec-target>`.
"""

SECOND = """# A second page

Back to {doc}`page`.
"""


def _load_checker():
    spec = importlib.util.spec_from_file_location("check_book", ROOT / "scripts" / "check_book.py")
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up while the class is made.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


check_book = _load_checker()


@pytest.fixture(scope="module")
def tiny_book(tmp_path_factory) -> Path:
    """A two-page book built with the project's configuration; returns its _build/html."""
    source = tmp_path_factory.mktemp("tiny-book")
    shutil.copy(ROOT / "_config.yml", source / "_config.yml")
    (source / "book").mkdir()
    shutil.copytree(BOOK / "_static", source / "book" / "_static")
    shutil.copy(BOOK / "references.bib", source / "book" / "references.bib")
    (source / "book" / "page.md").write_text(PAGE)
    (source / "book" / "second.md").write_text(SECOND)
    plots.plt.imsave(source / "book" / "square.png", np.zeros((8, 8, 3)) + [0.1, 0.3, 0.8])
    (source / "_toc.yml").write_text("format: jb-book\nroot: book/page\nchapters:\n  - file: book/second\n")
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run(
        [str(jupyter_book), "build", str(source), "--warningiserror", "--nitpick", "--keep-going"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    build = source / "_build" / "html"
    assert (build / "book" / "page.html").is_file()
    return build


class _Assets(HTMLParser):
    """The scripts and stylesheets a page loads."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and attrs.get("src"):
            self.found.append(attrs["src"])
        rel = (attrs.get("rel") or "").lower()
        if tag == "link" and attrs.get("href") and ({"stylesheet", "preload", "icon"} & set(rel.split())):
            self.found.append(attrs["href"])


def _non_local_assets(build: Path) -> list[str]:
    problems = []
    pages = check_book.find_pages(build)
    assert pages, f"no pages in {build}"
    for page in pages:
        parser = _Assets()
        parser.feed(page.read_text())
        for url in parser.found:
            parts = urlsplit(url)
            if parts.scheme or parts.netloc:
                problems.append(f"{page.name}: {url}")
            elif not (page.parent / parts.path).is_file():
                problems.append(f"{page.name}: {url} (missing)")
    return problems


def test_built_pages_load_only_local_scripts_and_styles(tiny_book):
    assert _non_local_assets(tiny_book) == []
    page = (tiny_book / "book" / "page.html").read_text()
    # The math renderer is among them: MathJax from the build itself.
    mathjax = re.search(r'<script[^>]+src="([^"]*mathjax/[^"]+\.js)"', page)
    assert mathjax, "page.html loads no MathJax"
    assert (tiny_book / "book" / mathjax.group(1)).is_file()
    assert (tiny_book / "_static" / "mathjax" / "output" / "svg.js").is_file()


def test_the_project_build_loads_only_local_scripts_and_styles():
    build = ROOT / "_build" / "html"
    if not check_book.find_pages(build):
        pytest.skip("the book is not built here (make html); the tiny book checks the configuration")
    assert _non_local_assets(build) == []


@pytest.fixture(scope="module")
def chromium() -> str:
    found = check_book.find_chromium(None)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install Chromium (apt-get install -y chromium) for the browser check")
        pytest.skip("no Chromium here (apt-get install -y chromium)")
    return found


@pytest.mark.slow  # a headless browser: seconds per page; make test runs it
def test_browser_check_passes_on_a_built_book(tiny_book, chromium, tmp_path, capsys):
    shots = tmp_path / "shots"
    assert check_book.main(["--build", str(tiny_book), "--screenshots", str(shots),
                            "--chromium", chromium, "--require-alt"]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert re.search(r"ok\s+book/page\.html\s+\(2 formulas, 1 images", out), out
    pngs = sorted(p.name for p in shots.glob("*.png"))
    assert pngs == ["book__page.png", "book__second.png", "genindex.png", "search.png"]
    assert all((shots / p).read_bytes().startswith(b"\x89PNG") for p in pngs)
    assert json.loads((shots / "report.json").read_text())


def _built_with(tiny_book: Path, tmp_path: Path, page: str, after: str, html: str) -> Path:
    """A copy of the tiny book's build whose ``page`` holds ``html`` right after the first match of ``after``."""
    build = tmp_path / "html"
    shutil.copytree(tiny_book, build)
    path = build / "book" / page
    text = path.read_text()
    found = re.search(after, text)
    assert found, f"{after!r} is not in {page}: the page is not what the test expects"
    path.write_text(text[: found.end()] + html + text[found.end():])
    return build


@pytest.mark.slow  # a headless browser: seconds per page; make test runs it
def test_a_table_of_long_formulas_and_code_names_is_squeezed_into_the_column(tiny_book, chromium, tmp_path, capsys):
    formula, name = "Al0.5Co1Cr1Fe1Mo0.5Nb1Ni1Ta1Ti1V1W1Zr1", "rules_single_phase_{}"
    header = "".join(f"<th>{name.format(i)}</th>" for i in range(6))
    table = ('<div class="cell_output"><div class="output text_html"><table class="dataframe">'
             f"<thead><tr>{header}</tr></thead><tbody>" + f"<tr>{f'<td>{formula}</td>' * 6}</tr>" * 3
             + "</tbody></table></div></div>")
    wide = _built_with(tiny_book, tmp_path, "second.html", r"<section[^>]*>", table)
    assert check_book.main(["--build", str(wide), "--screenshots", str(tmp_path / "shots"),
                            "--chromium", chromium]) == 0, capsys.readouterr().out


BROKEN = (
    r"<p>Raw math \(x^2\), $x^2$ and \mathcal{N} left as TeX.</p>"
    '<a href="missing.html">a missing page</a>'
    '<a href="second.html#no-such-anchor">a missing anchor</a>'
    '<img src="../_images/no-such-figure.png" alt="a missing figure">'
    "<pre>Traceback (most recent call last):\n  ValueError: boom</pre>"
    '<script src="https://cdn.example.invalid/lib.js"></script>'
    # Two tables wider than the column (a word without spaces or capitals cannot wrap, even in a
    # squeezed table: book/_static/hea_dvae.js): one in the scroll box of a cell's output, one loose.
    '<div class="cell_output"><div class="output text_html"><table class="dataframe"><tr><td>'
    + "alcocrfeni" * 40 + "</td></tr></table></div></div>"
    + '<table id="loose"><tr><td>' + "TiZrHfNbTa" * 40 + "</td></tr></table>"
)


@pytest.mark.slow  # a headless browser: seconds per page; make test runs it
def test_browser_check_fails_on_a_broken_page(tiny_book, chromium, tmp_path, capsys):
    # At the start of the page's section, which MathJax is told to ignore.
    broken = _built_with(tiny_book, tmp_path, "page.html", r'<section[^>]*id="a-page-with-math">', BROKEN)
    assert check_book.main(["--build", str(broken), "--screenshots", str(tmp_path / "shots"),
                            "--chromium", chromium]) == 1
    out = capsys.readouterr().out
    assert "FAIL book/page.html" in out
    assert "ok   book/second.html" in out
    for expected in (
        r"raw TeX in the text: .*\\\(x\^2\\\)",
        r"raw TeX in the text: .*\$x\^2\$",
        r"raw TeX in the text: .*\\mathcal\{N\}",
        r"broken link: file://\S+/book/missing\.html",
        r"broken anchor: file://\S+/book/second\.html#no-such-anchor",
        r"image does not load: file://\S+/no-such-figure\.png",
        r"shows 'Traceback \(most recent call last\)'",
        r"asks the network for https://cdn\.example\.invalid/lib\.js",
        r"wider than the \d+ px text column \(its last columns hidden until scrolled\): table: (alcocrfeni)+",
        r"runs past the text column: table#loose: (TiZrHfNbTa)+",
    ):
        assert re.search(expected, out), f"{expected!r} not in\n{out}"


@pytest.mark.slow  # a headless browser: seconds per page; make test runs it
def test_browser_check_fails_without_the_bundled_mathjax(tiny_book, chromium, tmp_path, capsys):
    broken = tmp_path / "html"
    shutil.copytree(tiny_book, broken)
    shutil.rmtree(broken / "_static" / "mathjax")
    assert check_book.main(["--build", str(broken), "--screenshots", str(tmp_path / "shots"),
                            "--chromium", chromium]) == 1
    out = capsys.readouterr().out
    assert "MathJax did not load: 2 formulas left as TeX" in out
    assert "failed to load file://" in out


def test_browser_check_refuses_when_nothing_was_built(tmp_path, capsys):
    assert check_book.main(["--build", str(tmp_path / "nothing")]) == 2
    assert "no built book" in capsys.readouterr().err


# --------------------------------------------------------------------------
# Numbers read back from executed notebooks: the headline page


def _glue_output(name: str, text: str, prefix: str = "application/papermill.record/") -> dict:
    return {
        "output_type": "display_data",
        "metadata": {"scrapbook": {"name": name, "mime_prefix": prefix}},
        "data": {prefix + "text/plain": text},
    }


def _notebook(path: Path, outputs: list[dict]) -> Path:
    cell = {"cell_type": "code", "metadata": {}, "source": "", "outputs": outputs, "execution_count": 1}
    path.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_read_notebook_records_returns_glued_values_only(tmp_path):
    notebook = _notebook(tmp_path / "01_x.ipynb", [
        _glue_output("n_alloys", "1373"),
        _glue_output("share", "0.517"),
        _glue_output("name", "'paper'", prefix=""),
        _glue_output("fig-class-balance", "<Figure size 440x330 with 1 Axes>"),
        {"output_type": "stream", "name": "stdout", "text": "alloys: 1373\n"},
    ])  # fmt: skip
    assert reporting.read_notebook_records(notebook) == {"n_alloys": 1373, "share": 0.517, "name": "paper"}
    with pytest.raises(FileNotFoundError):
        reporting.read_notebook_records(tmp_path / "02_never_executed.ipynb")


@pytest.mark.needs_data
def test_chapter_1_records_what_the_data_give():
    records = reporting.read_notebook_records(BOOK / "01_data.ipynb")
    dataset = load_dataset()
    split = paper_split(dataset)
    assert records["n_alloys"] == len(dataset)
    assert records["n_single_phase"] + records["n_multi_phase"] == len(dataset)
    assert records["n_binaries"] == int((features.element_counts(dataset) == 2).sum())
    assert records["binary_share"] == pytest.approx(records["n_binaries"] / len(dataset))
    assert [records[f"n_{p}"] for p in ("labelled", "unlabelled", "validation", "test")] == [
        len(split[p]) for p in ("labelled", "unlabelled", "validation", "test")
    ]


GLUE_TEXT = re.compile(r"\{glue:text\}`([\w-]+)(?::[^`]*)?`")


@pytest.mark.parametrize("chapter", sorted(BOOK.glob("*.py")), ids=lambda p: p.name)
def test_every_number_the_prose_quotes_is_recorded(chapter):
    quoted = set(GLUE_TEXT.findall(chapter.read_text()))
    if not quoted:
        pytest.skip(f"{chapter.name} quotes no glued number")
    if not chapter.with_suffix(".ipynb").is_file():
        pytest.skip(f"{chapter.name} is not executed yet (test_project.py fails on that)")
    recorded = reporting.read_notebook_records(chapter.with_suffix(".ipynb"))
    assert quoted - set(recorded) == set(), f"{chapter.name} quotes numbers it never glued"


@pytest.mark.parametrize("chapter", sorted(reporting.listed_keys()))
def test_every_key_the_headline_page_lists_is_recorded(chapter):
    notebook = BOOK / f"{chapter}.ipynb"
    recorded = reporting.read_notebook_records(notebook) if notebook.is_file() else {}
    if not recorded:
        pytest.skip(f"{chapter} is not executed with hea_dvae.reporting records yet")
    missing = reporting.listed_keys()[chapter] - set(recorded)
    assert not missing, f"the headline page reads keys {chapter} does not record: {sorted(missing)}"


def test_headline_table_reads_the_chapters_and_says_what_is_missing(tmp_path):
    _notebook(tmp_path / "02_model.ipynb", [
        _glue_output("test_auc_mean", "0.85"),
        _glue_output("test_auc_std", "0.01"),
        _glue_output("released_test_auc", "0.912"),
        _glue_output("test_accuracy_mean", "0.875"),
        _glue_output("released_test_accuracy", "0.877"),
    ])  # fmt: skip
    references = tmp_path / "reference"
    references.mkdir()
    (references / "02_model.json").write_text(json.dumps({
        "test_auc_mean": {"value": 0.85, "spread": 0.01, "n": 5, "tolerance": 0.025, "basis": "x"},
        "test_accuracy_mean": {"value": 0.875, "spread": 0.004, "n": 5, "tolerance": 0.01, "basis": "x"},
    }))  # fmt: skip
    table = reporting.headline_table(tmp_path, reference=references).set_index("quantity")

    # The paper's best model (Fig. 3) is compared with the released weights only.
    best = table.loc["test ROC AUC, best model"]
    assert best["released model"] == "0.912" and best["ours (mean ± std)"] == "—"
    assert best["verdict"] == "released: reproduced"  # 0.91 printed to two digits
    assert table.loc["test accuracy, best model", "verdict"] == "released: reproduced"
    assert table.loc["validation ROC AUC, best model", "released model"] == "not recorded"

    # The paper's five-run mean (0.890 ± 0.025) with our five-run mean (0.850 ± 0.010): Welch's interval.
    auc = table.loc["test ROC AUC, mean over runs"]
    half = student_t.ppf(0.975, 4) * 0.01 / math.sqrt(5)
    assert auc["ours (mean ± std)"] == "0.850 ± 0.010"
    assert auc["paper"] == "0.89 ± 0.025"
    assert auc["ours, 95 % interval"] == f"[{0.85 - half:.3f}, {0.85 + half:.3f}]"
    assert auc["runs"] == "5"
    va, vb = 0.01**2 / 5, 0.025**2 / 5
    dof = (va + vb) ** 2 / (va**2 / 4 + vb**2 / 4)
    welch = student_t.ppf(0.975, dof) * math.sqrt(va + vb)
    assert -0.04 + welch < 0  # so the verdict must say "differs"
    assert auc["verdict"] == (f"ours: differs from the paper's 5-run mean (-0.040, 95 % interval "
                              f"[{-0.04 - welch:+.3f}, {-0.04 + welch:+.3f}])")
    accuracy = table.loc["test accuracy, mean over runs"]
    assert accuracy["verdict"].startswith("ours: consistent with the paper's 5-run mean (+0.046")

    # A single run of the paper (Fig. 4's composition error, 2.3) against our mean: where one of our runs
    # falls, even when the mean matches the printed digit (2.297 rounds to 2.3).
    single = reporting.verdict(reporting.PAPER_RESULTS[9], 2.33, 2.297, 0.075, 5)
    one = single_run_interval(2.297, 0.075, 5)
    assert single == (f"released: reproduced; ours: the paper's single run is inside the range of one of our runs "
                      f"([{one.low:.3f}, {one.high:.3f}], 95 %)")
    assert reporting.verdict(reporting.PAPER_RESULTS[9], None, 2.297, None, None) == (
        "ours: mean equals the paper's single run to its printed digit (-0.003; spread over runs not recorded)")
    assert reporting.verdict(reporting.PAPER_RESULTS[9], None, 2.9, 0.01, 5).startswith(
        "ours: the paper's single run is outside")

    missing = table.loc["reconstruction MAE over all 30 elements (at.%)"]
    assert missing["ours (mean ± std)"] == "not recorded"
    assert missing["released model"] == "not recorded"


def test_headline_table_of_an_unexecuted_book_is_all_not_recorded(tmp_path):
    table = reporting.headline_table(tmp_path)
    assert len(table) == len(reporting.PAPER_RESULTS)
    assert set(table["ours (mean ± std)"]) == {"not recorded", "—"}  # —: a row of the best model alone


def test_the_paper_is_covered_item_by_item():
    # The journal version: Figs. 1-8 (8 in two panels) and Tables 1-3.
    expected = [f"Fig. {i}" for i in range(1, 8)] + ["Fig. 8a", "Fig. 8b"] + [f"Table {i}" for i in (1, 2, 3)]
    assert sorted(item for item, _, _ in reporting.PAPER_ITEMS) == sorted(expected)
    paper_map = (BOOK / "paper_map.md").read_text()
    for item, _, chapters in reporting.PAPER_ITEMS:
        row = re.search(rf"^\| {re.escape(item)} \|.*$", paper_map, re.MULTILINE)
        assert row, f"the paper map has no row for {item}"
        for chapter in chapters:
            assert f"<{chapter}>`" in row.group(0), f"the paper map's {item} row does not link {chapter}"
    coverage = reporting.coverage(BOOK)
    assert list(coverage.index) == [item for item, _, _ in reporting.PAPER_ITEMS]
    assert coverage.loc["Fig. 1", "chapters"] == "01_data"  # executed, in this checkout


# --------------------------------------------------------------------------
# Provenance and readable tables


def test_provenance_names_package_commit_models_and_cpu(tmp_data_dir):
    reporting.chapter("01_provenance_test")
    shown = reporting.provenance(models={0: "ab" * 32}, digests=["cd" * 32])
    assert shown.rows["models"] == "abababababab, cdcdcdcdcdcd"
    assert shown.rows["data files"] == "none read"
    assert shown.rows["hea-dvae"].startswith(config.package_version() + ", commit ")
    import torch

    assert torch.backends.cpu.get_cpu_capability() in shown.rows["CPU"]
    html = shown._repr_html_()
    assert html.startswith('<div class="hea-provenance">') and "<th>CPU</th>" in html
    assert "models: abababababab" in str(shown)


def test_provenance_verifies_the_data_files(tmp_data_dir):
    (tmp_data_dir / "HEA_top30_comps.csv").write_text("not the pinned file\n")
    shown = reporting.provenance()
    assert "HEA_top30_comps.csv" in shown.rows["data files"]
    assert "(NOT the pinned file)" in shown.rows["data files"]


def test_readable_names_columns_with_units_and_prints_counts_as_integers():
    scores = pd.DataFrame({"auc": [0.912, 0.9], "n": [75.0, 138.0], "fe": [0.0, 1.0]},
                          index=["validation", "test"])
    shown = reporting.readable(scores, labels={"fe": "Fe"})
    assert list(shown.columns) == ["ROC AUC", "alloys", "Fe"]
    assert shown["alloys"].tolist() == [75, 138] and str(shown["alloys"].dtype) == "Int64"
    assert shown["Fe"].dtype == float  # fractions of 0 and 1 are not counts
    assert "75.0" not in shown.to_string()
    assert reporting.COLUMN_LABELS["delta_h_mix"].endswith(f"({features.FEATURE_UNITS['delta_h_mix']})")
    assert reporting.COLUMN_LABELS["vac"].startswith("valence electrons VEC")


def test_readable_drops_a_spread_of_zero_only():
    table = pd.DataFrame({"auc": ["0.912 ± 0.004", "0.850 ± 0.000"], "runs": [5, 5]},
                         index=pd.Index(["ssvae", "logistic_regression"], name="baseline"))
    shown = reporting.readable(table)
    assert shown["ROC AUC"].tolist() == ["0.912 ± 0.004", "0.850"]
    assert shown.index.name == "baseline"
    assert list(table["auc"]) == ["0.912 ± 0.004", "0.850 ± 0.000"]  # the input is left alone
