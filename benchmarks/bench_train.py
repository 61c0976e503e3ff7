"""Benchmark: one training run of the SSVAE on the paper split.

Prints wall time, peak resident memory, time per epoch, the validation AUC
reached, the speed-up over the reference implementation and the released
model's validation AUC for comparison.

The reference is the authors' ``train.py``: 20,000 mini-batch epochs of
about one second each, i.e. about 20,000 s (5.5 h) on their machine.

Usage::

    python benchmarks/bench_train.py [--seed 42] [--threads N]

``resource.getrusage`` is used for memory because ``tracemalloc`` does not
see allocations made inside torch.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

REFERENCE_SECONDS = 20_000.0


def peak_rss_mib() -> float:
    # ru_maxrss is in KiB on Linux and in bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, default=1, help="torch threads while training (default 1)")
    args = parser.parse_args(argv)

    import torch

    from hea_dvae.data import paper_split
    from hea_dvae.metrics import evaluate
    from hea_dvae.model import load_released_model
    from hea_dvae.train import TrainConfig, fit

    split = paper_split()
    config = TrainConfig(num_threads=args.threads)
    rss_before = peak_rss_mib()
    start = time.perf_counter()
    model, history = fit(
        split["labelled"], split["unlabelled"], split["validation"],
        config=config, seed=args.seed, progress=False,
    )
    seconds = time.perf_counter() - start
    best, best_vae, epochs = (history.attrs[k] for k in ("best_epoch", "best_vae_epoch", "epochs_run"))
    validation = evaluate(model, split["validation"])
    test = evaluate(model, split["test"])
    released = evaluate(load_released_model(), split["validation"])

    print(f"torch {torch.__version__}, {config.num_threads} training thread(s), seed {args.seed}")
    batch = "full batch" if config.batch_size is None else f"mini-batches of {config.batch_size}"
    print(f"training pool        {len(split['labelled'])} labelled + {len(split['unlabelled'])} unlabelled alloys, {batch}")
    print(f"wall time            {seconds:.1f} s")
    print(f"epochs run           {epochs} (classifier kept from epoch {best}, encoder/decoder from {best_vae})")
    print(f"time per epoch       {1000 * seconds / epochs:.1f} ms (incl. validation every {config.eval_every})")
    print(f"peak RSS             {peak_rss_mib():.0f} MiB (before training {rss_before:.0f} MiB)")
    print(f"validation AUC       {validation['auc']:.3f} (accuracy {validation['accuracy']:.3f})")
    print(f"released model AUC   {released['auc']:.3f} (accuracy {released['accuracy']:.3f}) on validation")
    print(f"AUC ratio            {validation['auc'] / released['auc']:.3f} (ours / released; the "
          "released model took gradient steps on these validation alloys)")
    print(f"test (seed {args.seed})        AUC {test['auc']:.3f}, element sets recovered "
          f"{test['element_set_recovered']:.3f}, MAE {test['mae_all']:.2f} / {test['mae_present']:.1f} at.%")
    print(f"speedup              {REFERENCE_SECONDS / seconds:.0f}x "
          f"(= {REFERENCE_SECONDS:.0f} s reference / {seconds:.1f} s)")
    print(f"target               one run <= 30 s: {'met' if seconds <= 30 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
