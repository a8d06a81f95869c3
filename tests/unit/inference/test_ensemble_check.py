"""The 2D+3D ensemble check: it is favoured only on enough cases, by paired CIs above 0 against both models."""
import numpy as np
import pytest

from inference.ensemble_check import MIN_CASES_PER_CLASS, ensemble_report


def mann_whitney_auc(labels, scores) -> float:
    positives, negatives = scores[labels == 1], scores[labels == 0]
    wins = (positives[:, None] > negatives[None, :]).sum() + 0.5 * (positives[:, None] == negatives[None, :]).sum()
    return wins / (positives.size * negatives.size)


def test_ensemble_report__four_volumes_are_too_few_whatever_the_ranking():
    # the real-HU check of the 3D card: 1 COVID-19 volume, 3 others; the ensemble ranks it first
    report = ensemble_report([1, 0, 0, 0], [0.52, 0.56, 0.45, 0.43], [0.96, 0.01, 0.21, 0.99], n_boot=200)
    assert report["ensemble"] == [0.74, 0.285, 0.33, 0.71]
    assert report["ensemble_vs_slice"]["auc"]["ensemble"]["value"] == 1.0
    assert report["ensemble_vs_slice"]["auc"]["single"]["value"] == pytest.approx(2 / 3)
    assert report["ensemble_vs_slice"]["auc"]["difference"]["ci95"] is None  # no bootstrap on 4 cases
    assert not report["favours_ensemble"] and report["reason"].startswith("too few cases: 1 ")


def test_ensemble_report__two_noisy_but_independent_models_average_to_a_better_one():
    rng = np.random.default_rng(0)
    labels = np.repeat([1, 0], 150)
    slice_p, volume_p = (1 / (1 + np.exp(-(2 * labels - 1 + rng.normal(0, 1.6, labels.size)))) for _ in range(2))
    report = ensemble_report(labels, slice_p, volume_p, n_boot=1000)
    mean = (slice_p + volume_p) / 2
    assert report["ensemble_vs_volume"]["auc"]["ensemble"]["value"] == pytest.approx(mann_whitney_auc(labels, mean))
    assert report["ensemble_vs_slice"]["auc"]["difference"]["ci95"][0] > 0
    assert report["favours_ensemble"] and report["n"] == 300 >= 2 * MIN_CASES_PER_CLASS


def test_ensemble_report__an_ensemble_no_better_than_one_model_is_not_favoured():
    rng = np.random.default_rng(1)
    labels = np.repeat([1, 0], 60)
    good = np.clip(labels * 0.6 + rng.uniform(0, 0.4, labels.size), 0, 1)  # separates perfectly
    report = ensemble_report(labels, good, rng.uniform(0, 1, labels.size), n_boot=500)
    assert not report["favours_ensemble"] and report["reason"].startswith("the paired AUC CI does not lie above 0")
