"""The chapter executor: parameters reach the chapter, a failing chapter leaves nothing."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]

CHAPTER = '''# %% [markdown]
# # A tiny chapter

# %% tags=["parameters"]
alloys = 3  # how many alloys
fail = False  # raise on purpose

# %%
if fail:
    raise RuntimeError("this chapter failed on purpose")
print(f"alloys: {alloys * 2}")
'''


@pytest.fixture()
def executor(monkeypatch):
    # main() switches progress bars off for the kernels it starts; keep that
    # from leaking into other tests.
    monkeypatch.setenv("HEA_DVAE_PROGRESS", "0")
    spec = importlib.util.spec_from_file_location("execute_chapters", ROOT / "scripts" / "execute_chapters.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # Importable by name, as it is when run as a script: --jobs pickles its functions for worker processes.
    monkeypatch.setitem(sys.modules, "execute_chapters", module)
    return module


def test_parameters_override_and_ids_are_stable(executor, tmp_path):
    chapter = tmp_path / "01_tiny.py"
    chapter.write_text(CHAPTER)
    assert executor.main(["-p", "alloys", "21", "-p", "unused", "1", str(chapter)]) == 0
    notebook = nbformat.read(chapter.with_suffix(".ipynb"), as_version=4)
    printed = "".join(
        output.get("text", "") for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    )
    assert "alloys: 42" in printed
    assert [cell.id for cell in notebook.cells] == [f"cell-{i}" for i in range(len(notebook.cells))]
    assert "start_time" not in notebook.metadata.get("papermill", {})


def test_failing_chapter_reports_and_writes_nothing(executor, tmp_path, capsys):
    chapter = tmp_path / "02_broken.py"
    chapter.write_text(CHAPTER)
    assert executor.main(["-p", "fail", "true", str(chapter)]) == 1
    assert "this chapter failed on purpose" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["02_broken.py"]


def test_missing_chapter_is_a_usage_error(executor, tmp_path):
    with pytest.raises(SystemExit):
        executor.main([str(tmp_path / "nope.py")])


def test_jobs_run_chapters_side_by_side_and_a_failure_fails_the_run(executor, tmp_path, capfd):
    for name in ("01_first.py", "02_second.py"):
        (tmp_path / name).write_text(CHAPTER)
    broken = tmp_path / "03_broken.py"
    broken.write_text(CHAPTER.replace("fail = False", "fail = True"))
    chapters = [str(tmp_path / name) for name in ("01_first.py", "02_second.py")]
    assert executor.main(["--jobs", "2", "-p", "alloys", "5", *chapters]) == 0
    for chapter in chapters:
        assert "alloys: 10" in Path(chapter).with_suffix(".ipynb").read_text()
    assert executor.main(["--jobs", "2", *chapters, str(broken)]) == 1
    assert "this chapter failed on purpose" in capfd.readouterr().err  # written by a worker process
    assert not broken.with_suffix(".ipynb").exists()
    with pytest.raises(SystemExit):
        executor.main(["--jobs", "0", *chapters])
