"""Benchmark: the data-efficiency grid of chapter 3, with a cold and then a warm model cache.

Runs :func:`hea_dvae.ablation.run_ablation` with the chapter's default
parameters (six labelled fractions, five seeds, six models, both rows of
Table 2, SSVAEs of 150 epochs) twice: first into an empty model cache (every
SSVAE is trained, on all cores), then again (every SSVAE is loaded). Prints
both wall times, how many models were trained, and the mean time per trained
model. The chapter's budget is five minutes cold on a two-core CPU.

Usage::

    python benchmarks/bench_ablation.py [--cache-dir DIR] [--seeds 5] [--epochs 150] [--workers N]

Without ``--cache-dir`` a temporary folder is used and deleted afterwards.
A ``--cache-dir`` that already holds the models measures a warm run twice
(the output says how many were trained).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, default=None, help="model cache (default: a fresh temporary one)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds per fraction and per Table 2 row")
    parser.add_argument("--epochs", type=int, default=150, help="epochs of every SSVAE (the chapter's default)")
    parser.add_argument("--workers", type=int, default=None, help="training processes (default: CPU cores)")
    args = parser.parse_args(argv)

    scratch = None
    if args.cache_dir is None:
        scratch = Path(tempfile.mkdtemp(prefix="hea-dvae-bench-ablation-"))
        cache = scratch
    else:
        cache = args.cache_dir.expanduser().resolve()
        cache.mkdir(parents=True, exist_ok=True)
    # Before importing hea_dvae: the cache folder is read from the environment.
    os.environ["HEA_DVAE_CACHE_DIR"] = str(cache)
    os.environ.setdefault("HEA_DVAE_PROGRESS", "0")

    from hea_dvae import ablation
    from hea_dvae.train import TrainConfig

    settings = TrainConfig(epochs=args.epochs)
    grid = dict(fractions=ablation.DEFAULT_FRACTIONS, seeds=range(args.seeds), models=ablation.MODELS,
                train_config=settings, table2_seeds=range(args.seeds), workers=args.workers)
    print(f"grid: fractions {list(ablation.DEFAULT_FRACTIONS)}, {args.seeds} seeds, {len(ablation.MODELS)} models, "
          f"Table 2 rows 1-2; SSVAEs of {args.epochs} epochs; {os.cpu_count()} CPU cores; cache {cache}")
    try:
        timings = []
        for label in ("cold", "warm"):
            start = time.perf_counter()
            result = ablation.run_ablation(**grid)
            seconds = time.perf_counter() - start
            timings.append((label, seconds, result.trained))
            per_model = f", {seconds / result.trained:.1f} s per trained model" if result.trained else ""
            print(f"{label}: {seconds:7.1f} s wall, {result.trained} SSVAEs trained{per_model}", flush=True)
        used = len({id(m) for m in result.models.values()})
        print(f"SSVAEs used: {used}; rows in the tidy table: {len(result.results)}")
        budget = 300.0
        cold_seconds = timings[0][1]
        print(f"cold run {'within' if cold_seconds <= budget else 'OVER'} the chapter's {budget:.0f} s budget "
              "(the chapter adds a few seconds of plotting and bootstrap)")
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
