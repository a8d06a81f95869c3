"""Dashboard numbers from arrays, checked against hand-computed confusion matrices and a coverage simulation."""
import numpy as np
import pytest
from scipy.stats import norm

from inference.metrics import binned_bootstrap_metrics
from triage.monitoring.evaluation import compare, evaluate, model_radiologist_kappa, operating_points, roc_points, weekly_drift

# PCR:          +    +    +    +    -    -    -    -    -    -
Y_TRUE = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
SCORE = np.array([0.9, 0.7, 0.55, 0.2, 0.6, 0.4, 0.3, 0.1, 0.05, 0.5])


def test_compare__matches_hand_computed_confusion_matrix():
    # threshold 0.5: TP 0.9 0.7 0.55 | FN 0.2 | FP 0.6 0.5 | TN 0.4 0.3 0.1 0.05
    c = compare(reader="model", y_true=Y_TRUE, y_score=SCORE, threshold=0.5, n_boot=200)
    assert (c.tp, c.fn, c.fp, c.tn, c.n) == (3, 1, 2, 4, 10)
    assert c.metrics["sensitivity"]["value"] == pytest.approx(3 / 4)
    assert c.metrics["specificity"]["value"] == pytest.approx(4 / 6)
    assert c.metrics["ppv"]["value"] == pytest.approx(3 / 5)
    assert c.metrics["npv"]["value"] == pytest.approx(4 / 5)
    assert c.metrics["accuracy"]["value"] == pytest.approx(7 / 10)
    assert c.metrics["f1"]["value"] == pytest.approx(6 / 9)
    # positives beat: 0.9 -> 6, 0.7 -> 6, 0.55 -> 5, 0.2 -> 2 (0.1, 0.05) = 19 of 24
    assert c.metrics["auc"]["value"] == pytest.approx(19 / 24)
    low, high = c.metrics["sensitivity"]["ci95"]
    assert low <= 0.75 <= high


def test_compare__none_without_cases():
    assert compare(reader="model", y_true=np.array([], int), y_score=np.array([]), threshold=0.5) is None


def test_evaluate__applies_each_cases_own_threshold():
    # Same probabilities, two hospitals: thresholds 0.5 and 0.8. 0.6/0.7 are positive only at the 0.5 hospital.
    evaluation = evaluate(pcr_positive=np.array([1, 1, 0, 0]), probability=np.array([0.6, 0.7, 0.6, 0.7]),
                          threshold=np.array([0.5, 0.8, 0.5, 0.8]), radiologist_positive=np.array([-1, -1, -1, -1]),
                          n_boot=100)
    m = evaluation.model
    assert (m.tp, m.fn, m.fp, m.tn) == (1, 1, 1, 1)
    assert m.metrics["auc"]["value"] == pytest.approx(0.5)
    assert evaluation.radiologist is None


def test_evaluate__radiologist_comparison_leaves_out_unsigned_studies():
    evaluation = evaluate(pcr_positive=np.array([1, 1, 0, 0, 1]), probability=np.array([0.9, 0.1, 0.2, 0.8, 0.5]),
                          threshold=np.full(5, 0.5), radiologist_positive=np.array([1, 0, 0, 1, -1]), n_boot=100)
    r = evaluation.radiologist
    assert (r.n, r.tp, r.fn, r.fp, r.tn) == (4, 1, 1, 1, 1)
    assert evaluation.model.n == 5


def test_evaluate__empty_input_gives_empty_evaluation():
    evaluation = evaluate(pcr_positive=np.array([], int), probability=np.array([]), threshold=np.array([]),
                          radiologist_positive=np.array([], int), n_inconclusive=3)
    assert evaluation.model is None and evaluation.roc == [] and evaluation.n_inconclusive == 3


def test_operating_points__match_hand_counts():
    rows = {r["threshold"]: r for r in operating_points(Y_TRUE, SCORE, thresholds=(0.5, 0.95))}
    assert (rows[0.5]["tp"], rows[0.5]["fp"], rows[0.5]["fn"], rows[0.5]["tn"]) == (3, 2, 1, 4)
    assert rows[0.5]["npv"] == pytest.approx(0.8)
    assert rows[0.95]["sensitivity"] == 0 and rows[0.95]["ppv"] is None


def test_roc_points__runs_from_origin_to_corner_and_is_empty_for_one_class():
    points = roc_points(Y_TRUE, SCORE)
    assert points[0] == (0.0, 0.0) and points[-1] == (1.0, 1.0)
    assert roc_points(np.zeros(4, int), np.linspace(0, 1, 4)) == []


def test_weekly_drift__median_iqr_and_positive_rate_per_week():
    weeks = np.array(["2026-W02", "2026-W01", "2026-W01", "2026-W01", "2026-W01"])
    probs = np.array([0.9, 0.1, 0.2, 0.3, 0.4])
    rows = weekly_drift(weeks, probs, np.full(5, 0.35))
    assert [r.iso_week for r in rows] == ["2026-W01", "2026-W02"]
    assert rows[0].median == pytest.approx(0.25) and rows[0].q1 == pytest.approx(0.175)
    assert rows[0].q3 == pytest.approx(0.325) and rows[0].positive_rate == pytest.approx(0.25)
    assert rows[1].n == 1 and rows[1].positive_rate == 1.0


def test_model_radiologist_kappa__hand_value_and_empty():
    # agreement 3/4; chance = 0.5*0.5 + 0.5*0.5 = 0.5 -> kappa 0.5
    assert model_radiologist_kappa(np.array([1, 1, 0, 0]), np.array([1, 0, 0, 0])) == pytest.approx(0.5)
    assert model_radiologist_kappa(np.array([], int), np.array([], int)) is None


def test_binned_bootstrap_metrics__95_ci_covers_true_value_at_nominal_rate():
    """Coverage simulation: 100 datasets of 300 cases from known distributions.

    Scores ~ N(0, 1) for negatives and N(1.2, 1) for positives, prevalence 0.4, threshold 0.6:
    true sensitivity = P(N(1.2, 1) >= 0.6), true AUC = Phi(1.2 / sqrt(2)). Uses 500 resamples
    per dataset (not 10,000) to keep the test fast; percentile CIs need far fewer for coverage.
    """
    rng = np.random.default_rng(2026)
    true_sensitivity, true_auc = 1 - norm.cdf(0.6 - 1.2), norm.cdf(1.2 / np.sqrt(2))
    covered = {"sensitivity": 0, "auc": 0}
    for seed in range(100):
        y = (rng.random(300) < 0.4).astype(int)
        score = rng.normal(1.2 * y, 1.0)
        result = binned_bootstrap_metrics(y, score, threshold=0.6, n_boot=500, seed=seed)
        for name, truth in (("sensitivity", true_sensitivity), ("auc", true_auc)):
            low, high = result[name]["ci95"]
            covered[name] += low <= truth <= high
    assert covered["sensitivity"] >= 85, covered
    assert covered["auc"] >= 85, covered
