"""Dashboard numbers from plain arrays: no database access here, so every figure is testable by hand.

Positive = COVID-19. The model is positive when its calibrated probability is at or above the
hospital's operating threshold; PCR "inconclusive" never reaches these functions (selectors drop it).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inference.metrics import (
    binned_bootstrap_metrics,
    cohen_kappa,
    expected_calibration_error,
    reliability_curve,
    roc_curve,
)

N_BOOT = 10_000
OPERATING_POINTS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
RELIABILITY_BINS = 10
MAX_ROC_POINTS = 200
# Below this many cases in a PCR class a point estimate and its CI mislead ("100 % (100–100 %)" from 4 cases).
MIN_CASES_PER_CLASS = 10


@dataclass(frozen=True)
class Comparison:
    """One reader (model or radiologist) against PCR: confusion matrix and metrics with 95 % CIs."""

    reader: str
    n: int
    tn: int
    fp: int
    fn: int
    tp: int
    metrics: dict[str, dict[str, Any]]

    def supporting_cases(self, metric: str) -> int:
        """Return the size of the smallest PCR class ``metric`` rests on (positives for sensitivity, ...)."""
        positives, negatives = self.tp + self.fn, self.tn + self.fp
        return {"sensitivity": positives, "specificity": negatives}.get(metric, min(positives, negatives))


@dataclass(frozen=True)
class WeekDrift:
    iso_week: str
    n: int
    median: float
    q1: float
    q3: float
    positive_rate: float


@dataclass
class Evaluation:
    """Everything a dashboard shows about accuracy; empty lists/``None`` when there is no data."""

    n_outcomes: int = 0
    n_inconclusive: int = 0
    model: Comparison | None = None
    radiologist: Comparison | None = None
    kappa_model_radiologist: float | None = None
    n_kappa: int = 0
    roc: list[tuple[float, float]] = field(default_factory=list)
    reliability: list[dict[str, float]] = field(default_factory=list)
    ece: float | None = None
    operating_points: list[dict[str, Any]] = field(default_factory=list)
    drift: list[WeekDrift] = field(default_factory=list)


def compare(*, reader: str, y_true: np.ndarray, y_score: np.ndarray, threshold: float, n_boot: int = N_BOOT,
            seed: int = 0) -> Comparison | None:
    """Return the reader's confusion matrix and metrics vs PCR; ``None`` without cases."""
    if y_true.size == 0:
        return None
    result = binned_bootstrap_metrics(y_true, y_score, threshold=threshold, n_boot=n_boot, seed=seed)
    (tn, fp), (fn, tp) = result["confusion_matrix"]
    metrics = {name: value for name, value in result.items() if isinstance(value, dict)}
    return Comparison(reader=reader, n=result["n"], tn=tn, fp=fp, fn=fn, tp=tp, metrics=metrics)


def operating_points(y_true: np.ndarray, y_score: np.ndarray, *,
                     thresholds: tuple[float, ...] = OPERATING_POINTS) -> list[dict[str, Any]]:
    """Return sensitivity, specificity, PPV and NPV (``None`` where undefined) at each threshold."""
    rows = []
    positive = y_true == 1
    for threshold in thresholds:
        predicted = y_score >= threshold
        tp, fp = int((positive & predicted).sum()), int((~positive & predicted).sum())
        fn, tn = int((positive & ~predicted).sum()), int((~positive & ~predicted).sum())
        rows.append({"threshold": threshold, "tp": tp, "fp": fp, "fn": fn, "tn": tn,
                     "sensitivity": tp / (tp + fn) if tp + fn else None,
                     "specificity": tn / (tn + fp) if tn + fp else None,
                     "ppv": tp / (tp + fp) if tp + fp else None,
                     "npv": tn / (tn + fn) if tn + fn else None})
    return rows


def roc_points(y_true: np.ndarray, y_score: np.ndarray, *, max_points: int = MAX_ROC_POINTS) -> list[tuple[float, float]]:
    """Return (FPR, TPR) pairs of the ROC curve, thinned to at most ``max_points``; empty without both classes."""
    if y_true.size == 0 or y_true.min() == y_true.max():
        return []
    fpr, tpr, _ = roc_curve(y_true, y_score)
    keep = np.unique(np.linspace(0, fpr.size - 1, min(max_points, fpr.size)).round().astype(int))
    return [(float(fpr[i]), float(tpr[i])) for i in keep]


def weekly_drift(iso_weeks: np.ndarray, probabilities: np.ndarray, thresholds: np.ndarray) -> list[WeekDrift]:
    """Return per ISO week (``"2026-W07"``, ascending) the median, IQR and positive rate of the probability."""
    rows = []
    for week in np.unique(iso_weeks):
        mask = iso_weeks == week
        q1, median, q3 = np.percentile(probabilities[mask], [25, 50, 75])
        rows.append(WeekDrift(iso_week=str(week), n=int(mask.sum()), median=float(median), q1=float(q1),
                              q3=float(q3), positive_rate=float((probabilities[mask] >= thresholds[mask]).mean())))
    return rows


def evaluate(*, pcr_positive: np.ndarray, probability: np.ndarray, threshold: np.ndarray,
             radiologist_positive: np.ndarray, n_inconclusive: int = 0, n_boot: int = N_BOOT) -> Evaluation:
    """Evaluate model and radiologist against PCR for cases with a conclusive PCR outcome.

    ``threshold`` is per case (each case's hospital threshold, for the all-hospital view);
    ``radiologist_positive`` is 1/0, or -1 where no report is signed (left out of that comparison).
    """
    evaluation = Evaluation(n_outcomes=int(pcr_positive.size), n_inconclusive=n_inconclusive)
    if pcr_positive.size == 0:
        return evaluation
    # Scores shifted by each case's threshold so one cut at 0.5 applies every hospital's own threshold.
    model_score = np.clip(probability - threshold + 0.5, 0.0, 1.0) if np.unique(threshold).size > 1 else probability
    model_cut = 0.5 if np.unique(threshold).size > 1 else float(threshold[0])
    evaluation.model = compare(reader="model", y_true=pcr_positive, y_score=model_score, threshold=model_cut,
                               n_boot=n_boot)
    if np.unique(threshold).size > 1:
        # AUC is threshold-free: report it on the raw probabilities.
        raw = binned_bootstrap_metrics(pcr_positive, probability, threshold=0.5, n_boot=n_boot)
        evaluation.model.metrics["auc"] = raw["auc"]
    signed = radiologist_positive >= 0
    evaluation.radiologist = compare(reader="radiologist", y_true=pcr_positive[signed],
                                     y_score=radiologist_positive[signed].astype(float), threshold=0.5, n_boot=n_boot)
    evaluation.roc = roc_points(pcr_positive, probability)
    curve = reliability_curve(pcr_positive, probability, n_bins=RELIABILITY_BINS)
    evaluation.reliability = [{"mean_predicted": float(m), "fraction_positive": float(f), "count": int(c)}
                              for m, f, c in zip(curve["mean_predicted"], curve["fraction_positive"], curve["count"],
                                                 strict=True)]
    evaluation.ece = expected_calibration_error(pcr_positive, probability, n_bins=RELIABILITY_BINS)
    evaluation.operating_points = operating_points(pcr_positive, probability)
    return evaluation


def model_radiologist_kappa(model_positive: np.ndarray, radiologist_positive: np.ndarray) -> float | None:
    """Return Cohen's kappa of model vs radiologist binary labels (all signed studies, PCR or not)."""
    return cohen_kappa(model_positive, radiologist_positive) if model_positive.size else None
