"""Keep dashboard evaluations by the content of their input arrays, so a reload skips the bootstrap.

:func:`triage.monitoring.evaluation.evaluate` is a pure function of its arrays (its bootstraps
are seeded), and its 10,000 resamples are most of a dashboard's time (``tests/benchmarks/
bench_dashboard.py``). The key hashes the arrays themselves, so any new result, PCR outcome,
signed report or threshold changes the key: a cached evaluation is never stale, only reused.
"""
from __future__ import annotations

import hashlib

import numpy as np
from django.core.cache import cache

from triage.monitoring import evaluation as ev

KEY_VERSION = "1"  # bump when evaluate() changes what it computes
TIMEOUT_S = 3600


def _key(arrays: dict[str, np.ndarray], *, n_inconclusive: int, n_boot: int) -> str:
    digest = hashlib.sha256(f"{KEY_VERSION}|{n_inconclusive}|{n_boot}".encode())
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"|{name}:{array.dtype.str}:{array.shape}|".encode())
        digest.update(array.tobytes())
    return f"monitoring.evaluation.{digest.hexdigest()}"


def evaluate_cached(*, pcr_positive: np.ndarray, probability: np.ndarray, threshold: np.ndarray,
                    radiologist_positive: np.ndarray, n_inconclusive: int, n_boot: int) -> ev.Evaluation:
    """Return ``evaluate(...)`` for these arrays, from the cache when the same arrays were evaluated before."""
    arrays = {"pcr_positive": pcr_positive, "probability": probability, "threshold": threshold,
              "radiologist_positive": radiologist_positive}
    key = _key(arrays, n_inconclusive=n_inconclusive, n_boot=n_boot)
    found = cache.get(key)
    if found is None:
        found = ev.evaluate(**arrays, n_inconclusive=n_inconclusive, n_boot=n_boot)
        cache.set(key, found, TIMEOUT_S)
    return found
