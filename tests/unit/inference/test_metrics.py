"""Tests of inference.metrics: hand-computed cases and agreement with scikit-learn."""

from __future__ import annotations


import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from inference.metrics import binary_metrics, cohen_kappa, expected_calibration_error, reliability_curve, roc_curve

Y_TRUE = [1, 1, 1, 0, 0, 0, 0, 1]
Y_SCORE = [0.9, 0.8, 0.3, 0.6, 0.2, 0.1, 0.4, 0.7]


def test_binary_metrics__match_hand_computed_confusion_matrix():
    # threshold 0.5: TP = 0.9, 0.8, 0.7 ; FN = 0.3 ; FP = 0.6 ; TN = 0.2, 0.1, 0.4
    result = binary_metrics(Y_TRUE, Y_SCORE, n_boot=0)
    assert result["n"] == 8
    assert result["confusion_matrix"] == [[3, 1], [1, 3]]
    assert result["sensitivity"]["value"] == pytest.approx(3 / 4)
    assert result["specificity"]["value"] == pytest.approx(3 / 4)
    assert result["ppv"]["value"] == pytest.approx(3 / 4)
    assert result["npv"]["value"] == pytest.approx(3 / 4)
    assert result["accuracy"]["value"] == pytest.approx(6 / 8)
    assert result["f1"]["value"] == pytest.approx(0.75)
    # pairs ranked correctly: positives 0.9, 0.8, 0.7 beat all 4 negatives, 0.3 beats 0.2 and 0.1 -> 14 of 16
    assert result["auc"]["value"] == pytest.approx(14 / 16)


def test_binary_metrics__counts_ties_as_half_in_auc():
    assert binary_metrics([0, 1], [0.5, 0.5], n_boot=0)["auc"]["value"] == pytest.approx(0.5)


def test_binary_metrics__undefined_metrics_are_none():
    result = binary_metrics([0, 0, 0], [0.1, 0.7, 0.2], n_boot=200)
    assert result["auc"] == {"value": None, "ci95": None}
    assert result["sensitivity"] == {"value": None, "ci95": None}
    assert result["specificity"]["value"] == pytest.approx(2 / 3)


def test_binary_metrics__agree_with_scikit_learn_on_random_data():
    rng = np.random.default_rng(7)
    y_true = rng.integers(0, 2, 500)
    y_score = np.round(rng.random(500) * 0.7 + 0.3 * y_true, 2)
    result = binary_metrics(y_true, y_score, threshold=0.45, n_boot=0)
    predicted = (y_score >= 0.45).astype(int)
    assert result["auc"]["value"] == pytest.approx(skm.roc_auc_score(y_true, y_score))
    assert result["f1"]["value"] == pytest.approx(skm.f1_score(y_true, predicted))
    assert result["ppv"]["value"] == pytest.approx(skm.precision_score(y_true, predicted))
    assert result["sensitivity"]["value"] == pytest.approx(skm.recall_score(y_true, predicted))
    assert result["confusion_matrix"] == skm.confusion_matrix(y_true, predicted).tolist()


def test_binary_metrics__bootstrap_interval_brackets_value_and_matches_loop_bootstrap():
    rng = np.random.default_rng(3)
    y_true = rng.integers(0, 2, 120)
    y_score = rng.random(120) + 0.4 * y_true
    result = binary_metrics(y_true, y_score, n_boot=2000, seed=5)
    low, high = result["auc"]["ci95"]
    assert low < result["auc"]["value"] < high
    loop_rng = np.random.default_rng(11)
    aucs = []
    for _ in range(2000):
        rows = loop_rng.integers(0, 120, 120)
        if 0 < y_true[rows].sum() < 120:
            aucs.append(skm.roc_auc_score(y_true[rows], y_score[rows]))
    expected_low, expected_high = np.percentile(aucs, [2.5, 97.5])
    assert low == pytest.approx(expected_low, abs=0.02) and high == pytest.approx(expected_high, abs=0.02)


def test_binary_metrics__is_reproducible_with_seed():
    first = binary_metrics(Y_TRUE, Y_SCORE, n_boot=500, seed=1)
    assert first == binary_metrics(Y_TRUE, Y_SCORE, n_boot=500, seed=1)
    assert first != binary_metrics(Y_TRUE, Y_SCORE, n_boot=500, seed=2)


def test_binary_metrics__bootstraps_10k_cases_10k_times_with_tight_intervals():
    # Speed is measured by tests/benchmarks/bench_metrics.py, not asserted here.
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 2, 10_000)
    y_score = np.clip(y_true * 0.3 + rng.random(10_000) * 0.7, 0, 1)
    result = binary_metrics(y_true, y_score, n_boot=10_000)
    low, high = result["auc"]["ci95"]
    assert low < result["auc"]["value"] < high and high - low < 0.03


def test_binary_metrics__rejects_non_binary_labels():
    with pytest.raises(ValueError, match="only 0"):
        binary_metrics([0, 2], [0.1, 0.2], n_boot=0)


def test_cohen_kappa__matches_scikit_learn_and_hand_value():
    a = ["covid", "normal", "covid", "pneumonia", "normal", "covid"]
    b = ["covid", "normal", "normal", "pneumonia", "normal", "pneumonia"]
    assert cohen_kappa(a, b) == pytest.approx(skm.cohen_kappa_score(a, b))
    # 2x2 hand case: po = 0.5, pe = 0.5 -> kappa 0
    assert cohen_kappa([1, 1, 0, 0], [1, 0, 1, 0]) == pytest.approx(0.0)


def test_cohen_kappa__undefined_when_both_raters_constant():
    assert cohen_kappa([1, 1, 1], [1, 1, 1]) is None


def test_roc_curve__matches_scikit_learn():
    rng = np.random.default_rng(2)
    y_true = rng.integers(0, 2, 200)
    y_score = np.round(rng.random(200), 1)
    fpr, tpr, thresholds = roc_curve(y_true, y_score)
    expected_fpr, expected_tpr, expected_thresholds = skm.roc_curve(y_true, y_score, drop_intermediate=False)
    np.testing.assert_allclose(fpr, expected_fpr)
    np.testing.assert_allclose(tpr, expected_tpr)
    np.testing.assert_allclose(thresholds[1:], expected_thresholds[1:])


def test_reliability_curve__matches_scikit_learn_calibration_curve():
    rng = np.random.default_rng(4)
    y_prob = rng.random(300)
    y_true = (rng.random(300) < y_prob).astype(int)
    curve = reliability_curve(y_true, y_prob, n_bins=8)
    fraction, mean_predicted = calibration_curve(y_true, y_prob, n_bins=8)
    np.testing.assert_allclose(curve["fraction_positive"], fraction)
    np.testing.assert_allclose(curve["mean_predicted"], mean_predicted)


def test_expected_calibration_error__hand_computed_two_bins():
    # bin [0, 0.5]: probs 0.2, 0.2 with labels 0, 1 -> gap |0.5 - 0.2| = 0.3 ; bin (0.5, 1]: 0.9, 0.9 all positive -> gap 0.1
    assert expected_calibration_error([0, 1, 1, 1], [0.2, 0.2, 0.9, 0.9], n_bins=2) == pytest.approx(0.2)


def test_expected_calibration_error__rejects_out_of_range_probabilities():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        expected_calibration_error([0, 1], [0.2, 1.3])
