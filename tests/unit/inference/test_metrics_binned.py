"""Tests of inference.metrics.binned_bootstrap_metrics: exact points, CIs that match the case bootstrap."""

from __future__ import annotations

import numpy as np
import pytest

from inference.metrics import binary_metrics, binned_bootstrap_metrics


def _scored_cases(n: int, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 2, n)
    return y_true, np.clip(rng.normal(0.35 + 0.3 * y_true, 0.2), 0, 1)


def test_binned_bootstrap_metrics__point_values_equal_binary_metrics():
    y_true, y_score = _scored_cases(3000, seed=1)
    binned = binned_bootstrap_metrics(y_true, y_score, threshold=0.42, n_boot=200, max_bins=16)
    exact = binary_metrics(y_true, y_score, threshold=0.42, n_boot=0)
    assert binned["confusion_matrix"] == exact["confusion_matrix"]
    for name in ("auc", "accuracy", "sensitivity", "specificity", "ppv", "npv", "f1"):
        assert binned[name]["value"] == pytest.approx(exact[name]["value"])


@pytest.mark.parametrize("max_bins", [8, 128])
def test_binned_bootstrap_metrics__intervals_match_case_bootstrap(max_bins):
    y_true, y_score = _scored_cases(1500, seed=2)
    binned = binned_bootstrap_metrics(y_true, y_score, n_boot=4000, seed=3, max_bins=max_bins)
    exact = binary_metrics(y_true, y_score, n_boot=4000, seed=4)
    for name in ("auc", "sensitivity", "specificity", "ppv", "npv", "f1"):
        assert binned[name]["ci95"] == pytest.approx(exact[name]["ci95"], abs=0.006), name


def test_binned_bootstrap_metrics__ties_count_half_in_bootstrapped_auc():
    # one distinct score: every resample with both classes has AUC exactly 0.5
    result = binned_bootstrap_metrics([0, 1, 0, 1], [0.3, 0.3, 0.3, 0.3], n_boot=300)
    assert result["auc"] == {"value": 0.5, "ci95": [0.5, 0.5]}


def test_binned_bootstrap_metrics__undefined_metrics_are_none():
    result = binned_bootstrap_metrics([0, 0, 0], [0.1, 0.7, 0.2], n_boot=200)
    assert result["auc"] == {"value": None, "ci95": None}
    assert result["sensitivity"] == {"value": None, "ci95": None}
    assert result["specificity"]["value"] == pytest.approx(2 / 3)


def test_binned_bootstrap_metrics__is_reproducible_with_seed():
    y_true, y_score = _scored_cases(200, seed=5)
    first = binned_bootstrap_metrics(y_true, y_score, n_boot=300, seed=1)
    assert first == binned_bootstrap_metrics(y_true, y_score, n_boot=300, seed=1)
    assert first != binned_bootstrap_metrics(y_true, y_score, n_boot=300, seed=2)


def test_binned_bootstrap_metrics__rejects_zero_bins():
    with pytest.raises(ValueError, match="max_bins"):
        binned_bootstrap_metrics([0, 1], [0.2, 0.8], max_bins=0)
