"""Execute book chapters (Jupytext percent scripts) with Papermill.

Each ``book/NN_name.py`` becomes ``book/NN_name.ipynb`` with its outputs. The
notebook is written to a temporary file and moved into place only when every
cell ran, so a failing chapter never leaves a half-executed notebook behind.

Usage::

    python scripts/execute_chapters.py [-p NAME VALUE ...] book/01_data.py ...

``--output-dir DIR`` writes the notebooks to DIR (the committed ones stay as
they are). ``--jobs N`` runs N chapters at a time (each in its own kernel;
for the smoke profile, whose chapters mostly wait on start-up, not for the
book, whose training uses every core). ``-p NAME VALUE`` overrides a parameter in every chapter that declares it
(values are parsed as YAML: ``-p n_seeds 2``, ``-p quick true``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import jupytext
import papermill
import yaml


def execute(chapter: Path, parameters: dict, output_dir: Path | None = None) -> Path:
    notebook = jupytext.read(chapter)
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    declared = _declared_parameters(notebook)
    relevant = {k: v for k, v in parameters.items() if k in declared}
    target = chapter.with_suffix(".ipynb")
    if output_dir is not None:
        output_dir.mkdir(parents=True, exist_ok=True)
        target = output_dir / target.name
    with tempfile.TemporaryDirectory(dir=chapter.parent) as scratch:
        source = Path(scratch) / "source.ipynb"
        output = Path(scratch) / target.name
        jupytext.write(notebook, source)
        papermill.execute_notebook(
            source,
            output,
            parameters=relevant,
            cwd=str(chapter.parent),
            kernel_name="python3",
            progress_bar=False,
        )
        _strip_papermill_noise(output)
        os.replace(output, target)
    return target


def _declared_parameters(notebook) -> set[str]:
    names = set()
    for cell in notebook.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            for line in cell.source.splitlines():
                name = line.split("=", 1)[0].strip()
                if "=" in line and name.isidentifier():
                    names.add(name)
    return names


def _strip_papermill_noise(path: Path) -> None:
    # Timings, dates and random cell ids change on every run and would make
    # every re-execution a diff; the outputs themselves are what nbval compares.
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    notebook.metadata.get("papermill", {}).pop("start_time", None)
    notebook.metadata.get("papermill", {}).pop("end_time", None)
    notebook.metadata.get("papermill", {}).pop("duration", None)
    notebook.metadata.get("papermill", {}).pop("input_path", None)
    notebook.metadata.get("papermill", {}).pop("output_path", None)
    for index, cell in enumerate(notebook.cells):
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        # Random cell ids would make every re-execution a diff.
        cell.id = f"cell-{index}"
    nbformat.write(notebook, path)


def _run(chapter: Path, parameters: dict, output_dir: Path | None) -> bool:
    """Execute one chapter, saying how long it took or where it failed."""
    start = time.perf_counter()
    print(f"executing {chapter} ...", flush=True)
    try:
        target = execute(chapter, parameters, output_dir)
    except papermill.PapermillExecutionError as error:
        print(f"\n{chapter} failed in cell {error.exec_count}:\n{error.ename}: {error.evalue}", file=sys.stderr)
        print("".join(error.traceback[-3:]), file=sys.stderr)
        return False
    print(f"  wrote {target} in {time.perf_counter() - start:.1f} s", flush=True)
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="+", type=Path)
    parser.add_argument(
        "-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE")
    )
    parser.add_argument(
        "--output-dir", type=Path, default=None,
        help="write the executed notebooks here instead of beside the chapters",
    )
    parser.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="chapters executed at a time (default 1; each runs in its own kernel)")
    args = parser.parse_args(argv)
    # The kernel inherits this: no progress bars (and their timings) in outputs.
    os.environ["HEA_DVAE_PROGRESS"] = "0"
    parameters = {name: yaml.safe_load(value) for name, value in args.parameter}
    for chapter in args.chapters:
        if not chapter.is_file():
            parser.error(f"no chapter {chapter}")
    if args.jobs < 1:
        parser.error(f"--jobs must be 1 or more, got {args.jobs}")

    run = partial(_run, parameters=parameters, output_dir=args.output_dir)
    if args.jobs == 1:
        for chapter in args.chapters:  # in order, stopping at the first failure
            if not run(chapter):
                return 1
        return 0
    # Processes, not threads: Papermill changes the working directory of the process it runs in.
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        succeeded = list(pool.map(run, args.chapters))
    if not all(succeeded):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
