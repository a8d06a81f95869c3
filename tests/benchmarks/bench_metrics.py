"""Benchmark the dashboards' bootstrap: seconds for 10,000 resamples at n = 1k and 10k, against baselines.

Run: ``.venv/bin/python -m tests.benchmarks.bench_metrics [--repeats 5]``. Prints, never asserts.

- ``binned``: ``inference.metrics.binned_bootstrap_metrics`` (what the dashboards call).
- ``evaluate``: the whole dashboard evaluation (model + radiologist bootstraps, ROC, calibration,
  operating points) from ``triage.monitoring.evaluation.evaluate``.
- ``case bootstrap``: ``inference.metrics.binary_metrics`` (resamples every case), for reference.
- baselines: one ``np.sort`` of the scores, and one non-bootstrap metric pass (``n_boot=0``).
"""
from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from inference.metrics import binary_metrics, binned_bootstrap_metrics
from triage.monitoring.evaluation import evaluate

N_BOOT = 10_000


def best_of(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times) if repeats > 2 else statistics.mean(times)


def cases(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.35).astype(np.int64)
    probability = 1 / (1 + np.exp(-rng.normal(2.2 * y - 1.1, 1.2)))
    radiologist = np.where(rng.random(n) < 0.85, y, 1 - y)
    return y, probability, radiologist


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-case-bootstrap", action="store_true", help="skip the slow reference")
    args = parser.parse_args()
    print(f"{'n':>6} {'binned s':>9} {'evaluate s':>10} {'case-boot s':>11} {'np.sort s':>10} {'1 pass s':>9} "
          f"{'binned/sort':>11} {'binned/pass':>11}")
    for n in (1_000, 10_000):
        y, p, r = cases(n)
        binned = best_of(lambda: binned_bootstrap_metrics(y, p, threshold=0.5, n_boot=N_BOOT), args.repeats)
        whole = best_of(lambda: evaluate(pcr_positive=y, probability=p, threshold=np.full(n, 0.5),
                                         radiologist_positive=r, n_boot=N_BOOT), args.repeats)
        exact = float("nan") if args.skip_case_bootstrap else best_of(
            lambda: binary_metrics(y, p, threshold=0.5, n_boot=N_BOOT), 1)
        sort = best_of(lambda: np.sort(p), max(args.repeats, 20))
        one_pass = best_of(lambda: binary_metrics(y, p, threshold=0.5, n_boot=0), max(args.repeats, 20))
        print(f"{n:>6} {binned:>9.3f} {whole:>10.3f} {exact:>11.3f} {sort:>10.6f} {one_pass:>9.6f} "
              f"{binned / sort:>11.0f} {binned / one_pass:>11.0f}")


if __name__ == "__main__":
    main()
