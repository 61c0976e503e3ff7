"""Project-wide rules: the book's table of contents, chapter pairing, no data committed."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hea_dvae import config

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.py"))
PARAMETERS_CELL = re.compile(r"^# %%.*\btags\s*=\s*\[[^\]]*[\"']parameters[\"']", re.MULTILINE)


def _toc_files(node) -> list[str]:
    """Every ``file:`` entry of a parsed ``_toc.yml``, at any depth."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "file" and isinstance(value, str):
                found.append(value)
            else:
                found.extend(_toc_files(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_toc_files(item))
    return found


def _toc() -> dict:
    return yaml.safe_load((ROOT / "_toc.yml").read_text())


def test_toc_entries_exist():
    toc = _toc()
    entries = [toc["root"], *_toc_files(toc)]
    assert entries, "_toc.yml lists no files"
    suffixes = (".md", ".ipynb", ".py")
    missing = [e for e in entries if not any((ROOT / (e + s)).is_file() for s in suffixes)
               and not (ROOT / e).is_file()]
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"
    assert len(entries) == len(set(entries)), "_toc.yml lists a file twice"


def test_every_chapter_is_in_the_toc():
    listed = {str(Path(e).with_suffix("")) for e in _toc_files(_toc())}
    unlisted = [c.relative_to(ROOT).with_suffix("").as_posix() for c in CHAPTERS]
    unlisted = [c for c in unlisted if c not in listed]
    assert not unlisted, f"chapters missing from _toc.yml: {unlisted}"


def test_toc_lists_only_numbered_chapters_that_are_scripts():
    # A numbered entry must be a chapter script, not a stray notebook.
    numbered = [e for e in _toc_files(_toc()) if re.match(r"book/\d\d_", e)]
    scripts = {c.relative_to(ROOT).with_suffix("").as_posix() for c in CHAPTERS}
    assert [e for e in numbered if Path(e).with_suffix("").as_posix() not in scripts] == []


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.name for c in CHAPTERS])
def test_chapter_has_a_parameters_cell(chapter):
    assert PARAMETERS_CELL.search(chapter.read_text()), (
        f"{chapter.name} has no cell tagged parameters (# %% tags=[\"parameters\"])"
    )


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.name for c in CHAPTERS])
def test_chapter_has_an_executed_paired_notebook(chapter):
    jupytext = pytest.importorskip("jupytext")
    notebook_path = chapter.with_suffix(".ipynb")
    assert notebook_path.is_file(), f"{chapter.name} has no executed {notebook_path.name}"
    notebook = json.loads(notebook_path.read_text())
    code = [
        c for c in notebook["cells"]
        if c["cell_type"] == "code" and "injected-parameters" not in c["metadata"].get("tags", [])
    ]  # fmt: skip
    assert code and all(c.get("execution_count") is not None for c in code), (
        f"{notebook_path.name} is not executed"
    )
    # Paired: the notebook ran the code of the script as it is now.
    script_code = [c.source for c in jupytext.read(chapter).cells if c.cell_type == "code"]
    notebook_code = ["".join(c["source"]) for c in code]
    assert notebook_code == script_code, (
        f"{notebook_path.name} is stale: re-execute {chapter.name}"
    )


def _project_files() -> list[Path]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT, capture_output=True, check=True, timeout=60,
        ).stdout  # fmt: skip
    except (FileNotFoundError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [ROOT / p for p in listed.decode().split("\0") if p]


def test_no_upstream_data_file_is_in_the_repository():
    # Tracked files and untracked ones that are not ignored (what a commit
    # of everything would add).
    pinned = {digest: name for name, (_, digest) in config.DATA_FILES.items()}
    committed = []
    for path in _project_files():
        if path.is_file():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest in pinned:
                committed.append(f"{path.relative_to(ROOT)} (= {pinned[digest]})")
    assert not committed, f"upstream data files in the repository: {committed}"


def test_data_cache_is_ignored_by_git():
    result = subprocess.run(
        ["git", "check-ignore", "-q", "data/upstream/HEA_top30_comps.csv"],
        cwd=ROOT, capture_output=True, timeout=60,
    )  # fmt: skip
    if result.returncode == 128:
        pytest.skip("not a git checkout")
    assert result.returncode == 0, "data/upstream/ is not in .gitignore"


IMPORT_FROM_BOOK = re.compile(
    r"^\s*(from\s+book\b|import\s+book\b)|import_module\(\s*['\"]book|sys\.path.*book",
    re.MULTILINE,
)


def test_package_never_imports_from_book():
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "src").rglob("*.py")
        if IMPORT_FROM_BOOK.search(path.read_text())
    ]
    assert not offenders, f"the package imports from book/: {offenders}"


def test_import_pattern_catches_book_imports():
    assert IMPORT_FROM_BOOK.search("import numpy\nfrom book.helpers import plot\n")
    assert IMPORT_FROM_BOOK.search("    import book\n")
    assert IMPORT_FROM_BOOK.search("sys.path.insert(0, str(ROOT / 'book'))")
    assert not IMPORT_FROM_BOOK.search('"""Figures for the book."""\nfrom .data import load\n')


def test_imports_flow_one_way():
    # The layers contract in pyproject.toml ([tool.importlinter]); grimp sees
    # imports inside functions too, so a cycle cannot hide in one.
    from importlinter.api import read_configuration  # noqa: F401  (installed with the test extra)

    result = subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
