"""Tests of inference.metrics.paired_comparison against an independent per-resample computation."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from inference.metrics import paired_comparison


def test_paired_comparison__point_difference_and_agreement_match_sklearn():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 80)
    a = np.clip(labels * 0.3 + rng.random(80) * 0.7, 0, 1)
    b = np.clip(labels * 0.5 + rng.random(80) * 0.5, 0, 1)
    result = paired_comparison(labels, a, b, threshold=0.5, n_boot=200)
    expected = roc_auc_score(labels, b) - roc_auc_score(labels, a)
    assert result["difference"]["auc"]["value"] == pytest.approx(expected)
    assert result["a"]["auc"]["value"] == pytest.approx(roc_auc_score(labels, a))
    assert result["disagreements"] == np.flatnonzero((a >= 0.5) != (b >= 0.5)).tolist()
    low, high = result["difference"]["auc"]["ci95"]
    assert low < expected < high


def test_paired_comparison__ci_matches_an_explicit_paired_resampling_loop():
    rng = np.random.default_rng(1)
    labels = np.r_[np.zeros(30, int), np.ones(30, int)]
    a, b = rng.random(60) + 0.2 * labels, rng.random(60) + 0.4 * labels
    result = paired_comparison(labels, a, b, n_boot=1000, seed=3)
    draws = np.random.default_rng(3).integers(0, 60, size=(1000, 60))
    diffs = [roc_auc_score(labels[d], b[d]) - roc_auc_score(labels[d], a[d]) for d in draws if 0 < labels[d].sum() < 60]
    np.testing.assert_allclose(result["difference"]["auc"]["ci95"], np.percentile(diffs, [2.5, 97.5]), atol=0.03)


def test_paired_comparison__identical_models_differ_by_exactly_zero():
    labels = np.array([0, 1, 0, 1, 1, 0])
    scores = np.array([0.1, 0.9, 0.6, 0.4, 0.8, 0.2])
    result = paired_comparison(labels, scores, scores, n_boot=100)
    assert result["difference"]["auc"] == {"value": 0.0, "ci95": [0.0, 0.0]}
    assert result["kappa"] == pytest.approx(1.0) and result["disagreements"] == []
