"""Benchmark: throughput of the screening engine (issue 11).

Prints, for an ensemble of ``--members`` copies of the released classifier
(weights do not change the speed: the arithmetic is the same):

1. the paper's equimolar screen (169,911 alloys): the dense reference path
   (``featurize`` + ``predict_proba``) against the k-sparse screen, in one
   thread, and the wall time of the whole screen as a fresh process
   (imports, model, screen), as the command line would run it;
2. the issue's non-equimolar space (5 of 30 elements, 5-80 at.% in 5 at.%
   steps, 552,353,256 alloys): alloys per second on one core, on two
   threads and on two processes, and the projected time of the whole space;
3. the same batches on a two-worker ``distributed.LocalCluster`` against
   the single process (overhead ratio);
4. peak resident memory of this process and of its worker processes.

Usage::

    python benchmarks/bench_screen.py [--members 1 5] [--batches 300] [--no-dask]

Speeds measured while other programs share the CPU are lower and noisy;
the load average is printed with the results.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import threading
import time

ISSUE_SPACE = dict(n_elements=5, min_fraction=0.05, max_fraction=0.8, step=0.05)
WHOLE_PROCESS = """
import time; start = time.perf_counter()
from hea_dvae.model import load_released_model
from hea_dvae.design.screen import screen
result = screen(load_released_model(), top=100, progress=False)
print(f"{result.summary['alloys']} {time.perf_counter() - start:.3f}")
"""


def peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


class ChildMemory:
    """Largest resident memory of any child process (workers), sampled every 0.1 s.

    ``RUSAGE_CHILDREN`` would count the parent's image copied by fork, not the workers.
    """

    def __init__(self):
        import psutil

        self.peak = 0.0
        self._stop = threading.Event()
        self._process = psutil.Process()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self):
        while not self._stop.wait(0.1):
            for child in self._process.children(recursive=True):
                try:
                    self.peak = max(self.peak, child.memory_info().rss / 2**20)
                except Exception:  # noqa: BLE001 - a child may end while sampled
                    pass

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, nargs="+", default=[1, 5], help="ensemble sizes to time")
    parser.add_argument("--batches", type=int, default=300, help="batches of the issue space per measurement")
    parser.add_argument("--batch-size", type=int, default=2**16)
    parser.add_argument("--no-dask", action="store_true", help="skip the LocalCluster measurement")
    args = parser.parse_args(argv)

    import numpy as np
    import torch

    from hea_dvae.design.constraints import Constraints
    from hea_dvae.features import featurize
    from hea_dvae.model import load_released_model
    from hea_dvae.design.screen import Scorer, count_space, iter_compositions, paper_space, screen

    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} "
          f"(speeds are lower while other programs run)")
    released = load_released_model()

    # 1. The paper's equimolar screen.
    x = np.concatenate(list(iter_compositions(paper_space())))
    torch.set_num_threads(1)
    # Warm up (load the compiled softplus kernel, first torch calls): the
    # rates below are steady-state; the whole-process time includes all of it.
    screen(released, {"elements": "Fe Ni Co Cr Mn", "n_elements": 4}, progress=False)
    start = time.perf_counter()
    p_dense = released.predict_proba(featurize(x, "paper"))
    dense_seconds = time.perf_counter() - start
    result = screen(released, top=100, progress=False, workers=1)
    print(f"\n1. equimolar 4- and 5-element alloys of 30 elements: {len(x):,}")
    print(f"   dense featurize + predict_proba, 1 thread: {len(x) / dense_seconds:12,.0f} alloys/s")
    print(f"   k-sparse screen, 1 thread:                 {result.summary['alloys_per_second']:12,.0f} alloys/s "
          f"({result.summary['seconds']:.2f} s)")
    print(f"   share p > 0.5: screen {result.summary['share_above_0.5']:.4f}, dense {np.mean(p_dense > 0.5):.4f}")
    wall = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", WHOLE_PROCESS], capture_output=True, text=True, check=True,
                         env={**os.environ, "HEA_DVAE_PROGRESS": "0"})
    wall = time.perf_counter() - wall
    alloys, inside = out.stdout.split()
    print(f"   whole process (python start, imports, model, screen): {wall:.2f} s wall, "
          f"{float(inside):.2f} s after the interpreter started")

    rss_before = peak_rss_mib()
    children = ChildMemory()
    issue = Constraints(**ISSUE_SPACE)
    total = count_space(issue)
    print(f"\n2. issue space: 5 of 30 elements, 5-80 at.% in 5 at.% steps: {total:,} alloys; "
          f"{args.batches} batches of {args.batch_size:,} per measurement")
    rates = {}

    def measure(scorer, **kwargs):
        """Wall rate of a long run (start-up included), its start-up, and the steady rate.

        The start-up (spawning processes or a cluster, loading the compiled
        kernel) is the time of a run of one batch per worker minus that
        batch's share of the long run; the steady rate leaves it out.
        """
        timings = []
        for batches in (2, args.batches):
            start = time.perf_counter()
            result = screen(scorer, issue, top=100, progress=False, batch_size=args.batch_size,
                            max_batches=batches, **kwargs)
            timings.append((result.summary["alloys"], time.perf_counter() - start))
        (few, few_seconds), (many, many_seconds) = timings
        wall = many / many_seconds
        startup = max(0.0, few_seconds - few / wall)
        return wall, startup, many / max(many_seconds - startup, 1e-9)

    for members in args.members:
        scorer = Scorer.from_models([released] * members, table="paper", name=f"{members} member(s)")
        for label, kwargs in (("1 core", dict(workers=1)),
                              ("2 threads", dict(workers=2, backend="threads")),
                              ("2 processes", dict(workers=2, backend="processes"))):
            wall, startup, steady = measure(scorer, **kwargs)
            rates[members, label] = steady
            print(f"   {members} member(s), {label:11}: {steady:10,.0f} alloys/s running "
                  f"({wall:10,.0f} with {startup:.1f} s start-up) -> whole space {total / steady / 60:5.1f} min "
                  f"[load {os.getloadavg()[0]:.1f}]")

    if not args.no_dask:
        print()
        for members in args.members:
            scorer = Scorer.from_models([released] * members, table="paper")
            wall, startup, steady = measure(scorer, workers=2, backend="dask")
            best_local = max(rates[members, "2 threads"], rates[members, "2 processes"])
            print(f"3. LocalCluster, 2 worker processes, {members} member(s): {steady:10,.0f} alloys/s running "
                  f"({wall:10,.0f} with {startup:.1f} s start-up); best local 2-core rate / Dask rate = "
                  f"{best_local / steady:.2f} [load {os.getloadavg()[0]:.1f}]")

    print(f"\n4. peak resident memory: this process {peak_rss_mib():.0f} MiB "
          f"({peak_rss_mib() - rss_before:.0f} MiB more than before the issue-space screens), "
          f"largest worker process {children.stop():.0f} MiB; "
          f"importing hea_dvae.screen alone takes about 400 MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
