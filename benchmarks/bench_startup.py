"""Benchmark: whole-process times of the command line, as a user waits for them.

Prints, for each command, the best and the median of several runs of the
whole process (start of Python to exit), and the target:

- ``hea-dvae --help``: at most 0.5 s (no torch or pandas at start-up);
- ``hea-dvae predict CoCrFeNi`` with its default model, the forest, cached
  (its trees as numpy arrays, no scikit-learn or torch): at most 1.5 s;
- ``hea-dvae predict --model ssvae CoCrFeNi`` with the SSVAE ensemble cached
  (read from the cache's index as numpy arrays, no torch): the same 1.5 s;
- ``hea-dvae design screen --k 4 5`` (the paper's 169,911 equimolar alloys,
  default model): at most 2.5 s.

The first run of each command is a warm-up (it fills the model cache and
the derived-value cache when they are empty) and is not
counted. Times depend on the load of the machine: the load average is
printed beside them.

Usage::

    python benchmarks/bench_startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "hea-dvae --help": (["--help"], 0.5),
    "hea-dvae predict CoCrFeNi (the forest, cached)": (["predict", "CoCrFeNi"], 1.5),
    "hea-dvae predict --model ssvae CoCrFeNi (cached)": (["predict", "--model", "ssvae", "CoCrFeNi"], 1.5),
    "hea-dvae design screen --k 4 5 (169,911 alloys)": (["design", "screen", "--k", "4", "5", "--top", "20"], 2.5),
}


def run_once(arguments: list[str]) -> float:
    """Wall seconds of one whole process."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "hea_dvae", *arguments], capture_output=True, text=True,
                            env={**os.environ, "HEA_DVAE_PROGRESS": "0"})
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"hea-dvae {' '.join(arguments)} failed:\n{result.stderr[-2000:]}")
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per command (after one warm-up)")
    args = parser.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; best and median of {args.runs} runs")
    print(f"{'command':52s} {'best':>7s} {'median':>7s} {'target':>7s}  met?")
    for label, (arguments, target) in COMMANDS.items():
        run_once(arguments)  # warm-up: caches filled, files in the page cache
        times = [run_once(arguments) for _ in range(args.runs)]
        best, median = min(times), statistics.median(times)
        print(f"{label:52s} {best:6.2f}s {median:6.2f}s {target:6.1f}s  {'met' if median <= target else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
